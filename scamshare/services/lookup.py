"""Looking values up: normalise with the caller's country, then one indexed query per batch.

Lookups are far more frequent than anything else a node serves, so they are counted in memory
and written in batches (one counter row per day and one audit entry per organisation per
flush) instead of one audit entry each, which would also take SQLite's write lock per lookup.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare import db
from scamshare import normalise as norm
from scamshare.db import fast
from scamshare.errors import Invalid
from scamshare.indicators import lifecycle, rules
from scamshare.models import Actor, Counter, Indicator
from scamshare.services import audit, peers

DEFAULT_KIND = "phone"  # "kind optional for phone numbers": a bare value is read as a number
MAX_VALUES = 1000
CACHED_VALUES = 8192  # normalised lookup values remembered per process (_canonical_key)


def canonical(value: str, kind: str | None, region: str, field: str, index: int | None = None):
    """Normalise one looked-up value, or raise Invalid naming the field and the reason."""
    try:
        return norm.normalise(kind or DEFAULT_KIND, value, region)
    except norm.NormalisationError as error:
        entry = {"field": field, "reason": error.reason, "message": error.message}
        if index is not None:
            entry["index"] = index
        raise Invalid(
            f"{field}: {error.message}", code="not_normalisable", errors=[entry]
        ) from None


def _found(indicator, country: str, policies: dict[str, str]) -> dict[str, Any]:
    """The lookup result of a value the node knows: its merged view over every origin."""
    view = rules.merged_view(indicator, country, policies)
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
            "categories": dict(sorted(indicator.category_counts.items())),
        },
        "first_reported": view.first_reported,
        "last_reported": view.last_reported,
        "expires_at": view.expires_at,
        "disputed": view.status == "disputed",
        "origins": [origin.to_dict() for origin in view.origins],
    }


def _unknown(kind: str, value: str) -> dict[str, Any]:
    """The lookup result of a (canonical) value the node has never seen."""
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
    }


def dumped(result: dict[str, Any]) -> dict[str, Any]:
    """A lookup result as LookupResultSchema dumps it: the datetimes as ISO 8601 text."""
    for entry in (result, *result["origins"]):
        for name in ("first_reported", "last_reported", "expires_at"):
            if entry[name] is not None:
                entry[name] = entry[name].isoformat()
    return result


@functools.lru_cache(maxsize=CACHED_VALUES)
def _canonical_key(value: str, kind: str | None, region: str) -> tuple[str, str]:
    """The (kind, canonical value) of a looked-up value, remembered for values asked often.

    Normalisation is pure and costs a third of a lookup, while the same values (a scam
    number in the news) are asked again and again; a value that cannot be read raises
    Invalid every time, uncached.
    """
    asked = canonical(value, kind, region, "value")
    return asked.kind, asked.value


def lookup(
    dbapi_connection,
    value: str,
    kind: str | None,
    region: str,
    country: str,
    policies: Callable[[], dict[str, str]],
) -> dict:
    """Look one value up with one indexed read on a db.fast.single_read connection.

    `policies` gives the peer policies (peers.cached_policies), asked only for a value the
    node knows.
    """
    key = _canonical_key(value, kind, region)
    row = fast.fetch_indicator(dbapi_connection, *key)
    if row is None:
        return _unknown(*key)
    return _found(row, country, policies())


def lookup_many(session: Session, items: list[dict], region: str, country: str) -> list[dict]:
    """Look up to MAX_VALUES values up, answering in the order asked, each with its input."""
    asked = []
    errors = []
    for index, item in enumerate(items):
        try:
            asked.append(canonical(item["value"], item.get("kind"), region, "value", index))
        except Invalid as error:
            errors.extend({**entry, "field": f"values.{index}.value"} for entry in error.errors)
    if errors:
        raise Invalid(
            f"{len(errors)} of {len(items)} values cannot be read: "
            + "; ".join(f"{e['index']}: {e['reason']}" for e in errors[:5]),
            code="not_normalisable",
            errors=errors,
        )
    keys = sorted({(a.kind, a.value) for a in asked})
    rows = {}
    for kind, part in lifecycle.by_kind(keys):
        query = select(*rules.VIEW_COLUMNS).where(Indicator.kind == kind, Indicator.value.in_(part))
        rows.update(((row.kind, row.value), row) for row in session.execute(query))
    results = []
    policies = peers.cached_policies(session)
    for item, normalised in zip(items, asked, strict=True):
        row = rows.get((normalised.kind, normalised.value))
        if row is None:
            result = _unknown(normalised.kind, normalised.value)
        else:
            result = _found(row, country, policies)
        results.append({"input": item["value"], **result})
    return results


# --- counting ------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Lookups counted in this process since the last flush, per organisation."""

    interval: float
    lock: threading.Lock
    counts: dict[tuple[int, str], list[int]]
    since: float

    @classmethod
    def start(cls, interval: float) -> Tally:
        """A fresh tally that asks to be flushed every `interval` seconds."""
        return cls(interval, threading.Lock(), defaultdict(lambda: [0, 0]), time.monotonic())

    def add(self, organisation_id: int, organisation_name: str, values: int) -> bool:
        """Count one lookup request of some values; say whether a flush is due."""
        with self.lock:
            entry = self.counts[(organisation_id, organisation_name)]
            entry[0] += 1
            entry[1] += values
            return time.monotonic() - self.since >= self.interval

    def drain(self) -> dict[tuple[int, str], list[int]]:
        """Take the counts so far and start counting afresh."""
        with self.lock:
            counts, self.counts = self.counts, defaultdict(lambda: [0, 0])
            self.since = time.monotonic()
            return dict(counts)


def flush_counts(session: Session, counts: dict[tuple[int, str], list[int]], now: datetime) -> None:
    """Add drained counts to today's lookup counter and audit one entry per organisation."""
    if not counts:
        return
    requests = sum(entry[0] for entry in counts.values())
    statement = db.insert_for(session)(Counter).values(
        name=f"lookups:{now:%Y-%m-%d}", value=requests
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"value": Counter.value + statement.excluded.value}
        )
    )
    for (organisation_id, organisation_name), (lookups, values) in sorted(counts.items()):
        audit.record(
            session,
            Actor(organisation_id, organisation_name),
            "lookup.count",
            details={"lookups": lookups, "values": values},
        )


def lookups_on(session: Session, day: datetime) -> int:
    """How many lookup requests were counted (and flushed) on one UTC day."""
    name = f"lookups:{day:%Y-%m-%d}"
    return session.scalar(select(Counter.value).where(Counter.name == name)) or 0
