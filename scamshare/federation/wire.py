"""Loading a batch off the wire: the schema's answer, with a direct path for plain valid input.

A batch carries up to 20,000 contributions, and marshmallow costs tens of microseconds for
each, more than the database spends storing one. `load_contribution` checks the common case
itself (every field present with a plain JSON value the schema certainly accepts) and hands
anything else to `ContributionSchema`, so results and error messages are always the schema's;
a property test checks that both agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from schemas.federation import (
    BATCH_LIMIT,
    COUNTRIES,
    KINDS,
    REMOVAL_REASONS,
    RISKS,
    STATUSES,
    BatchSchema,
    ContributionSchema,
)

_SCHEMA = ContributionSchema()
_FIELDS = frozenset(_SCHEMA.fields)
_KINDS, _STATUSES, _RISKS = frozenset(KINDS), frozenset(STATUSES), frozenset(RISKS)
_REASONS, _COUNTRIES = frozenset(REMOVAL_REASONS), frozenset(COUNTRIES)
_DATES = ("first_reported", "last_reported", "expires_at")
_NOT_PLAIN = object()


def _aware(value: Any) -> Any:
    """An ISO 8601 datetime with an offset, parsed as the schema parses it, or `_NOT_PLAIN`."""
    if value is None:
        return None
    if type(value) is not str:
        return _NOT_PLAIN
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return _NOT_PLAIN
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return _NOT_PLAIN
    return parsed


def _plain(item: Any) -> dict | None:
    """The loaded contribution if the schema certainly accepts it as it is, else None."""
    if type(item) is not dict or not _FIELDS.issuperset(item):
        return None
    get = item.get
    kind, value, status, risk = get("kind"), get("value"), get("status"), get("risk")
    reason, categories = get("removal_reason"), get("categories")
    reports, orgs, version = get("report_count"), get("org_count"), get("origin_version")
    node, country = get("origin_node"), get("origin_country")
    if not (
        type(kind) is str
        and kind in _KINDS
        and type(value) is str
        and 1 <= len(value) <= 2048
        and type(status) is str
        and status in _STATUSES
        and (reason is None or (type(reason) is str and reason in _REASONS))
        and type(risk) is str
        and risk in _RISKS
        and type(categories) is list
        and type(reports) is int
        and reports >= 0
        and type(orgs) is int
        and orgs >= 0
        and type(node) is str
        and 1 <= len(node) <= 100
        and type(country) is str
        and country in _COUNTRIES
        and type(version) is int
        and version >= 1
    ):
        return None
    for category in categories:
        if type(category) is not str or len(category) > 32:
            return None
    dates = []
    for name in _DATES:
        if name not in item:
            return None
        moment = _aware(item[name])
        if moment is _NOT_PLAIN:
            return None
        dates.append(moment)
    return {
        "kind": kind,
        "value": value,
        "status": status,
        "removal_reason": reason,
        "risk": risk,
        "categories": list(categories),
        "report_count": reports,
        "org_count": orgs,
        "first_reported": dates[0],
        "last_reported": dates[1],
        "expires_at": dates[2],
        "origin_node": node,
        "origin_country": country,
        "origin_version": version,
    }


def load_contribution(item: Any) -> dict:
    """Load one contribution exactly as `ContributionSchema` does, quickly when it is plain."""
    loaded = _plain(item)
    return _SCHEMA.load(item) if loaded is None else loaded


def iso_text(wire_text: Any, moment: datetime | None) -> str | None:
    """What `moment.isoformat()` renders, taken from the wire text that parsed to it if equal.

    Senders write `isoformat()` in UTC, and rendering a datetime again costs more than storing
    it; the wire text is used only when it has exactly the shape `isoformat()` gives.
    """
    if moment is None:
        return None
    if type(wire_text) is str and (
        (len(wire_text) == 25 or (len(wire_text) == 32 and wire_text[19] == "."))
        and wire_text.endswith("+00:00")
        and wire_text[4] == wire_text[7] == "-"
        and wire_text[10] == "T"
        and wire_text[13] == wire_text[16] == ":"
        and wire_text[20:26] != "000000"
    ):
        return wire_text
    return moment.isoformat()


def load_batch(data: Any) -> dict:
    """Load a batch: its envelope through the schema, its many contributions on the fast path.

    Besides the loaded fields, `iso_texts` holds each contribution's three datetimes as
    `isoformat()` renders them (first reported, last reported, expires), or None.
    """
    if not isinstance(data, dict) or not isinstance(data.get("contributions"), list):
        return BatchSchema().load(data)
    envelope = BatchSchema(exclude=("contributions",)).load(
        {k: v for k, v in data.items() if k != "contributions"}
    )
    if len(data["contributions"]) > BATCH_LIMIT:
        return BatchSchema().load(data)  # let the schema word the length error
    loaded, texts, errors = [], [], {}
    for index, item in enumerate(data["contributions"]):
        contribution = _plain(item)
        if contribution is None:
            try:
                contribution = _SCHEMA.load(item)
            except ValidationError as error:
                errors[index] = error.messages
                continue
        loaded.append(contribution)
        texts.append(
            (
                iso_text(item.get("first_reported"), contribution["first_reported"]),
                iso_text(item.get("last_reported"), contribution["last_reported"]),
                iso_text(item.get("expires_at"), contribution["expires_at"]),
            )
        )
    if errors:
        raise ValidationError({"contributions": errors})
    return {**envelope, "contributions": loaded, "iso_texts": texts}
