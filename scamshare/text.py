"""What text and JSON the node takes in: one rule for every string, a bound on every document.

Both engines store any Unicode text except two kinds of code point: PostgreSQL's text type
refuses NUL, and no driver can encode a lone surrogate (JSON's `"\\ud800"`), so a string holding
either fails only when it is written, as a 500, or (SQLite and NUL) is stored and breaks whoever
reads it. Every entry point (JSON bodies, NDJSON lines, CSV cells, query strings, headers, path
ids) asks `refusal` and refuses such a string with a 422 naming its field. JSON documents are
bounded in depth too: decoding or walking one nested 100,000 deep would exhaust the stack.

This module imports neither Flask nor the database: the API renders `Refused` as a problem.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # a report batch is 3 levels deep, a federation batch 4
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
TOO_DEEP = f"Nested deeper than {MAX_DEPTH} levels."


class Refused(Exception):
    """Input the node cannot store or decode safely, with the field it was found in."""

    def __init__(
        self, field: str, reason: str, message: str, location: str, index: int | None = None
    ):
        """Keep where the input was refused and why."""
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason
        self.message = message
        self.location = location
        self.index = index

    @property
    def code(self) -> str:
        """The problem's machine code."""
        return "nested_too_deeply" if self.reason == "too_deep" else "unstorable_text"

    def entry(self) -> dict:
        """The per-field error entry of the problem."""
        entry = {
            "field": self.field,
            "reason": self.reason,
            "message": self.message,
            "location": self.location,
        }
        if self.index is not None:
            entry["index"] = self.index
        return entry


def refusal(text: str) -> tuple[str, str] | None:
    """Say why a string cannot be stored, as (reason, message), or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "nul_character", "Holds a NUL character (U+0000), which the node cannot store."
    point = ord(found.group())
    return "lone_surrogate", f"Holds a lone surrogate (U+{point:04X}), which is not a character."


def check(text: str, field: str, location: str, index: int | None = None) -> None:
    """Refuse a string the node cannot store."""
    refused = refusal(text)
    if refused is not None:
        raise Refused(field, *refused, location, index)


def loads(raw: bytes | str, location: str = "json", index: int | None = None) -> Any:
    """Decode a UTF-8 JSON document and check it: ValueError if malformed, Refused if unsafe."""
    if isinstance(raw, bytes):
        # Strictly: json.loads would decode the bytes of a surrogate ("surrogatepass").
        raw = raw.decode("utf-8")
    try:
        document = json.loads(raw)
    except RecursionError:
        raise _too_deep(location, location, index) from None
    # Without a \u escape the decoder cannot have produced NUL or a surrogate: JSON refuses
    # raw control characters, and strict UTF-8 has no encoding of a surrogate.
    escaped = "\\u" in raw
    if isinstance(document, dict | list):
        found = _walk(document, 1, escaped)
        if found is not None:
            path, reason, message = found
            field = ".".join(str(step) for step in reversed(path)) or location
            raise Refused(field, reason, message, location, index)
    elif escaped and isinstance(document, str):
        check(document, location, location, index)
    return document


def _too_deep(field: str, location: str, index: int | None) -> Refused:
    """The refusal of a document nested deeper than the bound."""
    return Refused(field, "too_deep", TOO_DEEP, location, index)


def _walk(node: dict | list, depth: int, strings: bool) -> tuple[list, str, str] | None:
    """Find the first too-deep container or unstorable string; return its path reversed."""
    if depth > MAX_DEPTH:
        return [], "too_deep", TOO_DEEP
    pairs = node.items() if type(node) is dict else enumerate(node)
    for key, value in pairs:
        if strings and type(key) is str:
            refused = refusal(key)
            if refused is not None:
                return [key], refused[0], "The field name h" + refused[1][1:]
        kind = type(value)
        if kind is dict or kind is list:
            found = _walk(value, depth + 1, strings)
        elif strings and kind is str:
            refused = refusal(value)
            found = None if refused is None else ([], *refused)
        else:
            continue
        if found is not None:
            found[0].append(key)
            return found
    return None
