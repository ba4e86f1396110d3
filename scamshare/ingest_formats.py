"""Reading reports out of uploads and files: one row or line becomes one report object.

The HTTP API (POST /api/v1/reports) and `scamshare import` share these, so that a CSV row or an
NDJSON line means the same report whichever way it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from scamshare.errors import Invalid

BOOLEAN_FIELDS = ("verified", "spoofed_caller_id")
TRUE_WORDS = frozenset({"true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", ""})
# A line the validator refuses as "a report is an object", like any other non-object.
BROKEN_LINE = "not a JSON object"


def decode(raw: bytes) -> str:
    """Decode an upload as UTF-8 (with or without a byte-order mark)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Invalid(
            f"The upload is not UTF-8 (byte {error.start} is not valid).", code="not_utf8"
        ) from None


def ndjson_item(line: str):
    """Parse one NDJSON line; a broken line becomes an item the validator rejects."""
    try:
        return json.loads(line)
    except ValueError:
        return BROKEN_LINE


def check_csv_header(fieldnames: Sequence[str] | None) -> None:
    """Refuse CSV without a header row naming the report fields."""
    if not fieldnames or "kind" not in fieldnames:
        raise Invalid(
            "A CSV upload needs a header row with the report field names (kind, value, ...).",
            code="csv_header_missing",
        )


def csv_item(row: dict) -> dict:
    """Turn a CSV row into a report object: empty cells are absent, booleans are words."""
    item = {}
    for name, cell in row.items():
        if name is None:
            item["_extra_columns"] = cell
            continue
        if cell is None or cell == "":
            continue
        if name in BOOLEAN_FIELDS and cell.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            item[name] = cell.strip().lower() in TRUE_WORDS
        else:
            item[name] = cell
    return item
