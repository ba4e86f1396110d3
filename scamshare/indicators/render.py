"""The one writer of a listing as operators download it: a CSV line, a JSON item, a TXT line.

Every place that shows a listing in a file uses these functions: the lines stored with each
exported change (lifecycle.stamp), deltas, and any migration that fills stored lines in.
Values reach here canonical (normalised on the way in, from local reports and peers alike);
`unsafe` is the last check that none of them could break a row or start a spreadsheet formula.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from scamshare.indicators.rules import View

COLUMNS = (
    "kind",
    "value",
    "status",
    "risk",
    "categories",
    "origins",
    "first_reported",
    "last_reported",
    "expires_at",
)
DELTA_COLUMNS = (*COLUMNS, "action", "reason")
CSV_HEADER = ",".join(COLUMNS) + "\r\n"
DELTA_CSV_HEADER = ",".join(DELTA_COLUMNS) + "\r\n"

# A cell a spreadsheet would read as a formula: =, -, @, or + other than before a number
# (E.164 values and ranges start with +).
_FORMULA = re.compile(r"[=\-@]|\+(?![0-9]+\**$)")
_BREAKS = re.compile(r"[\r\n\t\x00-\x1f\x7f\u2028\u2029\x85]")
_NEEDS_QUOTES = frozenset(',"')


def unsafe(value: str) -> str | None:
    """Why a value cannot stand in a download (a line break, control or formula start), or None."""
    if not value:
        return "empty"
    if _BREAKS.search(value):
        return "control_character"
    if _FORMULA.match(value):
        return "formula_start"
    return None


def iso(moment: datetime | None) -> str:
    """A moment as the blocklist writes it: ISO 8601 UTC to the second, or empty text."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(text: str) -> str:
    """One CSV cell: quoted when it holds a comma or a quote."""
    if _NEEDS_QUOTES.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def csv_line(view: View, action: str | None = None, reason: str | None = None) -> str:
    """The CSV line of a listing, without its line end; a delta's line adds action and reason."""
    cells = [
        view.kind,
        _cell(view.value),
        view.status,
        view.risk,
        ";".join(view.categories),
        view.origins_text,
        iso(view.first_reported),
        iso(view.last_reported),
        iso(view.expires_at),
    ]
    if action is not None:
        cells += [action, reason or ""]
    return ",".join(cells)


def json_item(view: View, action: str | None = None, reason: str | None = None) -> str:
    """The JSON item of a listing, compact; a delta's item adds action and reason."""
    item = {
        "kind": view.kind,
        "value": view.value,
        "status": view.status,
        "risk": view.risk,
        "categories": list(view.categories),
        "origins": [{"country": o.country, "policy": o.policy} for o in view.origins],
        "first_reported": iso(view.first_reported) or None,
        "last_reported": iso(view.last_reported) or None,
        "expires_at": iso(view.expires_at) or None,
    }
    if action is not None:
        item["action"] = action
        item["reason"] = reason or None
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


def stored(view: View) -> dict:
    """The columns an indicator stores of its view: what downloads read and filter on."""
    return {
        "exported": view.exported,
        "shown_status": view.status,
        "shown_risk": view.risk,
        "categories": ";".join(view.categories) or None,
        "origins": view.origins_text or None,
        "csv_line": csv_line(view) if view.exported else None,
        "json_item": json_item(view) if view.exported else None,
    }


def upsert_line(stored: str, fmt: str) -> str:
    """A delta's upsert line from the stored CSV line or JSON item of the listing's view.

    The same text csv_line and json_item write for that view with action `upsert` and no reason:
    both add the two fields at the end.
    """
    if fmt == "csv":
        return stored + ",upsert,"
    return stored[:-1] + ',"action":"upsert","reason":null}'


def txt_line(view: View, action: str | None = None) -> str:
    """The TXT line of a listing: its value, after `+` or `-` in a delta."""
    if action is None:
        return view.value
    return ("+" if action == "upsert" else "-") + view.value
