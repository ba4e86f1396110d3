"""Matching values against the node's indicators: the value itself and what covers it.

Lookups (GET and POST) and message checks all answer through here, so one value gets one answer
wherever it is asked:
- a phone number is matched by its own indicator and by every `phone_range` holding it (the
  number's prefixes with `*` padding, up to the widest range normalisation accepts);
- a URL by its own indicator and by a `domain` indicator of its host or registrable domain;
- every other kind by its own indicator only.
The candidates of a value are read in one indexed query (both columns of the (kind, value)
unique index as IN lists), so a range or domain costs a lookup no second round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare import normalise as norm
from scamshare.db import fast
from scamshare.errors import Invalid
from scamshare.indicators import lifecycle, rules
from scamshare.models import RISKS, Indicator
from scamshare.normalise.phone import MAX_RANGE_WILDCARDS

Key = tuple[str, str]
DEFAULT_KIND = "phone"  # "kind optional for phone numbers": a bare value is read as a number
# The order in which one match outweighs another when they disagree on a value's status.
SEVERITY = ("unknown", "expired", "delisted", "reported", "disputed", "listed")


def canonical(value: str, kind: str | None, region: str, field: str) -> norm.Normalised:
    """Normalise one asked value, or raise Invalid naming the field and the reason."""
    try:
        return norm.normalise(kind or DEFAULT_KIND, value, region)
    except norm.NormalisationError as error:
        entry = {"field": field, "reason": error.reason, "message": error.message}
        raise Invalid(
            f"{field}: {error.message}", code="not_normalisable", errors=[entry]
        ) from None


def candidates(kind: str, value: str, facts: dict[str, Any]) -> tuple[Key, ...]:
    """The keys that match a canonical value: itself first, then what would cover it."""
    keys: list[Key] = [(kind, value)]
    if kind == "phone" and value.startswith("+"):
        digits = value[1:]
        for width in range(1, min(MAX_RANGE_WILDCARDS, len(digits) - 1) + 1):
            keys.append(("phone_range", f"+{digits[:-width]}" + "*" * width))
    elif kind == "url":
        for name in (facts.get("host"), facts.get("domain")):
            if name and ("domain", name) not in keys:
                keys.append(("domain", name))
    return tuple(keys)


def fetch(session: Session, keys: Iterable[Key]) -> dict[Key, Any]:
    """The indicator rows (the merged view's columns) of these keys, by key.

    One query per chunk of values, for every kind at once (`kind IN (...) AND value IN (...)`,
    which both engines answer from the unique index; a message check asks for five kinds or
    more, and a query each cost a third of the check). A row of a kind asked for another
    value is dropped.
    """
    wanted = set(keys)
    kinds = sorted({kind for kind, _ in wanted})
    rows: dict[Key, Any] = {}
    for part in lifecycle.chunks(sorted({value for _, value in wanted})):
        query = select(*rules.VIEW_COLUMNS).where(
            Indicator.kind.in_(kinds), Indicator.value.in_(part)
        )
        for row in session.execute(query):
            if (row.kind, row.value) in wanted:
                rows[(row.kind, row.value)] = row
    return rows


def fetch_one(dbapi_connection, keys: tuple[Key, ...]) -> dict[Key, Any]:
    """The indicator rows of one value's candidates on a db.fast.single_read connection."""
    kinds = tuple(dict.fromkeys(kind for kind, _ in keys))
    values = tuple(dict.fromkeys(value for _, value in keys))
    wanted = set(keys)
    found = fast.fetch_indicators(dbapi_connection, kinds, values)
    return {(row.kind, row.value): row for row in found if (row.kind, row.value) in wanted}


def covering(
    keys: tuple[Key, ...], rows: dict[Key, Any], country: str, policies: dict[str, str]
) -> tuple[rules.View | None, list[rules.View]]:
    """The value's own merged view (None if unknown) and every exported view that matches it.

    The matches hold the value itself when operators receive it, then each listed or disputed
    indicator covering it, the most severe first.
    """
    own_row = rows.get(keys[0])
    own = rules.merged_view(own_row, country, policies) if own_row is not None else None
    views = [own] if own is not None else []
    views += [rules.merged_view(rows[key], country, policies) for key in keys[1:] if key in rows]
    matched = [view for view in views if view.exported]
    matched.sort(key=lambda view: -SEVERITY.index(view.status))
    return own, matched


def match_entry(view: rules.View) -> dict[str, Any]:
    """One matching indicator as a lookup names it."""
    return {
        "kind": view.kind,
        "value": view.value,
        "status": view.status,
        "risk": view.risk,
        "origins": [{"country": o.country, "policy": o.policy} for o in view.origins],
    }


def result(
    kind: str,
    value: str,
    keys: tuple[Key, ...],
    rows: dict[Key, Any],
    country: str,
    policies: Callable[[], dict[str, str]],
) -> dict[str, Any]:
    """The lookup answer of a canonical value: its own facts, decided by every match.

    `policies` gives the peer policies, asked only when some candidate is known. A value this
    node protects stays `protected` whatever covers it; otherwise the most severe of its own
    status and its matches' decides, and the riskiest match gives the risk.
    """
    if not rows:
        return _unknown(kind, value)
    own, matched = covering(keys, rows, country, policies())
    answer = _found(own, rows[keys[0]]) if own is not None else _unknown(kind, value)
    answer["matched"] = [match_entry(view) for view in matched]
    if answer["status"] != "protected" and matched:
        worst = matched[0].status
        if SEVERITY.index(worst) > SEVERITY.index(answer["status"]):
            answer["status"] = worst
            answer["removal_reason"] = None
        answer["listed"] = True
        answer["disputed"] = answer["status"] == "disputed"
        answer["risk"] = max((view.risk for view in matched), key=RISKS.index)
    return answer


def _found(view: rules.View, row) -> dict[str, Any]:
    """The lookup answer of a value the node knows: its merged view over every origin."""
    return {
        "kind": view.kind,
        "value": view.value,
        "status": view.status,
        "listed": view.exported,
        "removal_reason": view.removal_reason,
        "risk": view.risk,
        "categories": list(view.categories),
        "counts": {
            "reports": view.report_count,
            "organisations": view.org_count,
            "countries": view.country_count,
            "categories": dict(sorted(row.category_counts.items())),
        },
        "first_reported": view.first_reported,
        "last_reported": view.last_reported,
        "expires_at": view.expires_at,
        "disputed": view.status == "disputed",
        "origins": [origin.to_dict() for origin in view.origins],
        "matched": [],
    }


def _unknown(kind: str, value: str) -> dict[str, Any]:
    """The lookup answer of a (canonical) value the node has never seen."""
    return {
        "kind": kind,
        "value": value,
        "status": "unknown",
        "listed": False,
        "removal_reason": None,
        "risk": None,
        "categories": [],
        "counts": {"reports": 0, "organisations": 0, "countries": 0, "categories": {}},
        "first_reported": None,
        "last_reported": None,
        "expires_at": None,
        "disputed": False,
        "origins": [],
        "matched": [],
    }
