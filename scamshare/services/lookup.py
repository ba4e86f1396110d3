"""Looking values up: normalise with the caller's country, then one indexed query per batch.

Lookups are far more frequent than anything else a node serves, so they are counted in memory
and written in batches (one counter row per day and one audit entry per organisation per
flush) instead of one audit entry each, which would also take SQLite's write lock per lookup.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
import weakref
from collections import defaultdict, namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import Transformer
from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare import db
from scamshare import normalise as norm
from scamshare.errors import Invalid
from scamshare.models import EXPORTED_STATUSES, Counter, Indicator
from scamshare.services import audit, lifecycle, peers
from scamshare.services.audit import Actor
from scamshare.services.blocklist import merged

DEFAULT_KIND = "phone"  # "kind optional for phone numbers": a bare value is read as a number
MAX_VALUES = 1000
CACHED_VALUES = 8192  # normalised lookup values remembered per process (_canonical_key)


def _columns(country: str) -> tuple:
    """What a lookup reads of an indicator."""
    return (
        Indicator.kind,
        Indicator.value,
        Indicator.status,
        Indicator.removal_reason,
        Indicator.risk,
        Indicator.category_counts,
        Indicator.report_count,
        Indicator.org_count,
        Indicator.country_count,
        Indicator.first_reported_at,
        Indicator.last_reported_at,
        Indicator.expires_at,
        Indicator.foreign,
    )


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


def _found(row, country: str, policies: dict[str, str]) -> dict[str, Any]:
    """The lookup result of a value the node knows (its merged view with every peer origin)."""
    view = merged(row, country, policies)
    return {
        "kind": row.kind,
        "value": row.value,
        "status": view["status"],
        "listed": view["status"] in EXPORTED_STATUSES,
        "removal_reason": row.removal_reason,
        "risk": view["risk"],
        "categories": sorted(row.category_counts),
        "counts": {
            "reports": row.report_count,
            "organisations": row.org_count,
            "countries": row.country_count,
            "categories": dict(sorted(row.category_counts.items())),
        },
        "first_reported": row.first_reported_at,
        "last_reported": row.last_reported_at,
        "expires_at": row.expires_at,
        "disputed": view["status"] == "disputed",
        "origins": view["origins"],
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
    for name in ("first_reported", "last_reported", "expires_at"):
        if result[name] is not None:
            result[name] = result[name].isoformat()
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


# What a single lookup reads, in _columns' order, as the DBAPI cursor gives it back.
_Row = namedtuple("_Row", [column.key for column in _columns("")])


@functools.cache
def _one_sql(first: str, second: str) -> str:
    """The single-value lookup with these two parameter markers, written once."""
    names = ", ".join(f'"{name}"' for name in _Row._fields)
    return f"SELECT {names} FROM indicators WHERE kind = {first} AND value = {second}"


def _fetch_one(dbapi_connection, key: tuple[str, str]) -> tuple | None:
    """The indicator row of (kind, value) as the driver gives it, or None."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        sql = _one_sql("?", "?")
    elif dbapi_connection.info.encoding == _PQ_ENCODING:
        return _fetch_one_pq(dbapi_connection, key)
    else:
        sql = _one_sql("%s", "%s")  # a psycopg cursor decodes any client encoding itself
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, key)
        return cursor.fetchone()
    finally:
        cursor.close()


_PQ_STATEMENT = b"scamshare_lookup_one"
_PQ_ENCODING = "utf-8"  # what the libpq path encodes and decodes with (see _fetch_one)
# psycopg connections on which _PQ_STATEMENT is prepared, each with the Transformer that turns
# its result rows into Python values as a psycopg cursor would.
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fetch_one_pq(connection: psycopg.Connection, key: tuple[str, str]) -> tuple | None:
    """Run the lookup as a prepared statement through libpq itself (psycopg's `pq` layer).

    A psycopg cursor's own machinery around a one-row query cost about 80 microseconds of CPU
    per lookup, more than libpq's round trip; psycopg's Transformer still loads the row with
    the connection's loaders, so the values are those a cursor returns. The client encoding is
    UTF-8 (see _fetch_one). The statement is prepared once per connection, which is in
    autocommit mode (db.single_read).
    """
    pgconn = connection.pgconn
    encoding = _PQ_ENCODING
    transformer = _prepared.get(connection)
    if transformer is None:
        _checked(pgconn.prepare(_PQ_STATEMENT, _one_sql("$1", "$2").encode()), encoding)
        # Built on the connection's adapters, not the connection: a value that referred to its
        # key would keep every connection ever used alive in this weak dictionary.
        transformer = _prepared[connection] = Transformer(connection.adapters)
    result = _checked(
        pgconn.exec_prepared(_PQ_STATEMENT, [part.encode(encoding) for part in key]), encoding
    )
    if not result.ntuples:
        return None
    transformer.set_pgresult(result)
    return transformer.load_row(0, tuple)


def _checked(result: pq.PGresult, encoding: str) -> pq.PGresult:
    """The result, or psycopg's exception for the error it reports."""
    if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise psycopg.errors.error_from_result(result, encoding=encoding)
    return result


def lookup(
    dbapi_connection,
    value: str,
    kind: str | None,
    region: str,
    country: str,
    policies: Callable[[], dict[str, str]],
) -> dict:
    """Look one value up with one indexed query, on a DBAPI connection (db.single_read).

    Lookups are the node's hot path: SQLAlchemy's statement and result handling cost more than
    the indexed SELECT itself, so the row comes straight from the driver (_fetch_one) and only
    its JSON and datetime columns are converted, as the models' column types would. `policies`
    gives the peer policies (peers.cached_policies), asked only for a value the node knows.
    """
    key = _canonical_key(value, kind, region)
    found = _fetch_one(dbapi_connection, key)
    if found is None:
        return _unknown(*key)
    row = _Row(*found)
    row = row._replace(
        category_counts=db.read_json(row.category_counts),
        foreign=db.read_json(row.foreign),
        first_reported_at=db.read_when(row.first_reported_at),
        last_reported_at=db.read_when(row.last_reported_at),
        expires_at=db.read_when(row.expires_at),
    )
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
        query = select(*_columns(country)).where(Indicator.kind == kind, Indicator.value.in_(part))
        for row in session.execute(query):
            rows[(row.kind, row.value)] = row
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
