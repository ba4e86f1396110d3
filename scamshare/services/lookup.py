"""Looking values up: normalise with the caller's country, then one indexed query per batch.

What a value matches (itself, a range holding a number, a domain under a URL) is decided by
services/matching.py, the matcher message checks use too.

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
from scamshare.errors import Invalid
from scamshare.models import Actor, Counter
from scamshare.services import audit, matching, peers

MAX_VALUES = 1000
CACHED_VALUES = 8192  # normalised lookup values remembered per process (_canonical_key)


def dumped(result: dict[str, Any]) -> dict[str, Any]:
    """A lookup result as LookupResultSchema dumps it: the datetimes as ISO 8601 text."""
    for entry in (result, *result["origins"]):
        for name in ("first_reported", "last_reported", "expires_at"):
            if entry[name] is not None:
                entry[name] = entry[name].isoformat()
    return result


@functools.lru_cache(maxsize=CACHED_VALUES)
def _canonical_key(value: str, kind: str | None, region: str) -> tuple[str, str, tuple]:
    """The (kind, canonical value, candidate keys) of a looked-up value, for values asked often.

    Normalisation is pure and costs a third of a lookup, while the same values (a scam
    number in the news) are asked again and again; a value that cannot be read raises
    Invalid every time, uncached.
    """
    asked = matching.canonical(value, kind, region, "value")
    return asked.kind, asked.value, matching.candidates(asked.kind, asked.value, asked.facts)


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
    node knows (or one that something known covers).
    """
    canonical_kind, canonical_value, keys = _canonical_key(value, kind, region)
    rows = matching.fetch_one(dbapi_connection, keys)
    return matching.result(canonical_kind, canonical_value, keys, rows, country, policies)


def lookup_many(session: Session, items: list[dict], region: str, country: str) -> list[dict]:
    """Look up to MAX_VALUES values up, answering in the order asked, each with its input.

    A value that cannot be read is answered by an item with its `error` (field, reason,
    message), so one junk value in a queue of callers costs only its own answer.
    """
    asked: list[tuple[str, str, tuple] | dict] = []
    for index, item in enumerate(items):
        try:
            asked.append(_canonical_key(item["value"], item.get("kind"), region))
        except Invalid as error:
            [entry] = error.errors
            asked.append({**entry, "field": f"values.{index}.value"})
    wanted = {key for entry in asked if isinstance(entry, tuple) for key in entry[2]}
    rows = matching.fetch(session, wanted)
    policies = functools.partial(peers.cached_policies, session)
    results = []
    for item, entry in zip(items, asked, strict=True):
        if isinstance(entry, dict):
            results.append({"input": item["value"], "error": entry})
            continue
        canonical_kind, canonical_value, keys = entry
        found = {key: rows[key] for key in keys if key in rows}
        result = matching.result(canonical_kind, canonical_value, keys, found, country, policies)
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
