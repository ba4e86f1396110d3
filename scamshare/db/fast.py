"""The one place below SQLAlchemy Core: a lookup read and a bulk write, straight to the driver.

About 370 lines: every driver-level path is here on purpose, so that no other module holds one.

What each buys, in docs/benchmarks.md:
- `single_read` and `fetch_indicators`, the lookup figure ("Distribution": lookups against a
  bare Flask app reading the same row; `bench/compare.py`'s lookup ratio). Lookups are the
  node's hot path; a SQLAlchemy Connection around one indexed SELECT cost more than the SELECT,
  and on PostgreSQL a psycopg cursor's own machinery cost about 80 microseconds a lookup.
- `update_by_id`, the ingest figure (`bench/compare.py`'s ingest ratio): a report batch
  rewrites thousands of indicators, and SQLAlchemy's per-value processing of an executemany
  UPDATE cost more than SQLite's own work, three times the rest of the batch's writing.
- `similar_candidates`, the message-check figure (bench/messages.py, checks per second against
  100,000 listed templates): the near-duplicate candidates of a message, one limited read per
  LSH band, as SQL text built once.
Nothing else in the code builds SQL text or touches a driver.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
import weakref
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import Transformer
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Engine, Table, TextClause, event, text
from sqlalchemy.orm import Session

from scamshare import db

# What a lookup reads of an indicator, named as the model's attributes.
IndicatorRow = namedtuple(
    "IndicatorRow",
    (
        "kind",
        "value",
        "status",
        "removal_reason",
        "risk",
        "category_counts",
        "report_count",
        "org_count",
        "country_count",
        "first_reported_at",
        "last_reported_at",
        "expires_at",
        "foreign",
    ),
)
_JSON = ("category_counts", "foreign")
_TIMES = ("first_reported_at", "last_reported_at", "expires_at")

_held = threading.local()  # the connection single_read keeps for each thread
_every_held: weakref.WeakSet = weakref.WeakSet()  # of every thread, for _close_held


@contextmanager
def single_read() -> Iterator[Any]:
    """Lend this thread's DBAPI connection for one read statement, outside any transaction.

    Each thread keeps one pooled connection for these reads, in autocommit mode (SQLite
    connections are in it already, see db.make_engine; PostgreSQL ones are switched), so no
    BEGIN and ROLLBACK round trips. A connection that sat unused for db.PING_AFTER_IDLE_SECONDS
    goes back to the pool and the next read takes one afresh, which the pool pings first; a
    read that fails discards the connection.
    """
    current = db.engine()
    held = getattr(_held, "connection", None)
    if held is not None and (
        held.closed
        or held.engine is not current
        or time.monotonic() - held.used_at >= db.PING_AFTER_IDLE_SECONDS
    ):
        held.give_back()
        held = None
    if held is None:
        held = _held.connection = _HeldConnection(current)
    try:
        yield held.dbapi_connection
    except BaseException:
        _held.connection = None
        held.close()  # a failed read may have left the connection broken or mid-statement
        raise
    held.used_at = time.monotonic()


def _close_held(engine: Engine) -> None:
    """Close the connections single_read holds from an engine being disposed, in every thread.

    They are out of the pool, so dispose() alone would leave them open.
    """
    for held in list(_every_held):
        if held.engine is engine:
            held.close()


class _HeldConnection:
    """A pooled connection kept by one thread for single_read, in autocommit mode."""

    def __init__(self, current: Engine):
        """Take a connection from the engine's pool."""
        if not event.contains(current, "engine_disposed", _close_held):
            event.listen(current, "engine_disposed", _close_held)
        self.engine = current
        self.lent = current.raw_connection()
        self.dbapi_connection = self.lent.dbapi_connection
        self.postgres = not isinstance(self.dbapi_connection, sqlite3.Connection)
        if self.postgres:
            self.dbapi_connection.autocommit = True
        self.used_at = time.monotonic()
        self.closed = False
        _every_held.add(self)

    def give_back(self) -> None:
        """Return the connection to its pool as the pool lent it."""
        if self.closed:
            return
        try:
            if self.postgres:
                self.dbapi_connection.autocommit = False
        except self.engine.dialect.loaded_dbapi.Error:  # the connection broke meanwhile
            self.close()
            return
        self.closed = True
        self.dbapi_connection = None
        self.lent.close()

    def close(self) -> None:
        """Close the connection for good (the pool opens another when asked)."""
        if not self.closed:
            self.closed = True
            self.dbapi_connection = None
            self.lent.invalidate()


def _select_sql(kinds: int, values: int, marker) -> str:
    """The lookup read of `kinds` kinds by `values` values, with parameter markers marker(n)."""
    names = ", ".join(f'"{name}"' for name in IndicatorRow._fields)
    kind_markers = [marker(n) for n in range(1, kinds + 1)]
    value_markers = [marker(n) for n in range(kinds + 1, kinds + values + 1)]
    if kinds == 1 and values == 1:
        where = f"kind = {kind_markers[0]} AND value = {value_markers[0]}"
    else:
        # Both columns of the (kind, value) unique index as IN lists: one index probe per pair
        # on both engines (a row-value IN list would make SQLite scan the table).
        where = f"kind IN ({', '.join(kind_markers)}) AND value IN ({', '.join(value_markers)})"
    return f"SELECT {names} FROM indicators WHERE {where}"


_PQ_ENCODING = "utf-8"  # what the libpq path encodes and decodes with
# psycopg connections with the statements prepared on each (by shape) and the Transformer that
# turns their result rows into Python values as a psycopg cursor would.
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fetch_indicator(dbapi_connection, kind: str, value: str) -> IndicatorRow | None:
    """The indicator row of (kind, value) on a single_read connection, or None.

    Its JSON and datetime columns come back as the models' column types give them.
    """
    rows = fetch_indicators(dbapi_connection, (kind,), (value,))
    return rows[0] if rows else None


def fetch_indicators(
    dbapi_connection, kinds: tuple[str, ...], values: tuple[str, ...]
) -> list[IndicatorRow]:
    """The indicator rows of any of these kinds with any of these values, one indexed read.

    Its JSON and datetime columns come back as the models' column types give them.
    """
    parameters = (*kinds, *values)
    shape = (len(kinds), len(values))
    if isinstance(dbapi_connection, sqlite3.Connection):
        found = _fetch_cursor(dbapi_connection, _sql(shape, "sqlite"), parameters)
    elif dbapi_connection.info.encoding == _PQ_ENCODING:
        found = _fetch_pq(dbapi_connection, shape, parameters)
    else:  # a psycopg cursor decodes any client encoding itself
        found = _fetch_cursor(dbapi_connection, _sql(shape, "psycopg"), parameters)
    rows = [IndicatorRow(*row) for row in found]
    return [
        row._replace(
            **{name: _json(getattr(row, name)) for name in _JSON},
            **{name: _when(getattr(row, name)) for name in _TIMES},
        )
        for row in rows
    ]


_MARKERS = {"sqlite": lambda n: "?", "psycopg": lambda n: "%s", "pq": lambda n: f"${n}"}
_sql_cache: dict[tuple[tuple[int, int], str], str] = {}


def _sql(shape: tuple[int, int], style: str) -> str:
    """The lookup read of one shape (kinds, values) in one parameter style, built once."""
    sql = _sql_cache.get((shape, style))
    if sql is None:
        sql = _sql_cache[(shape, style)] = _select_sql(*shape, _MARKERS[style])
    return sql


def _fetch_cursor(dbapi_connection, sql: str, parameters: tuple[str, ...]) -> list[tuple]:
    """The rows through a DBAPI cursor."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return cursor.fetchall()
    finally:
        cursor.close()


def _fetch_pq(
    connection: psycopg.Connection, shape: tuple[int, int], parameters: tuple[str, ...]
) -> list[tuple]:
    """The rows through a statement prepared once per connection and shape, run by libpq itself.

    psycopg's Transformer still loads the rows with the connection's loaders, so the values are
    those a cursor returns.
    """
    pgconn = connection.pgconn
    prepared = _prepared.get(connection)
    if prepared is None:
        # Built on the connection's adapters, not the connection: a value that referred to its
        # key would keep every connection ever used alive in this weak dictionary.
        prepared = _prepared[connection] = (Transformer(connection.adapters), set())
    transformer, shapes = prepared
    name = b"scamshare_lookup_%d_%d" % shape
    if shape not in shapes:
        _checked(pgconn.prepare(name, _sql(shape, "pq").encode()))
        shapes.add(shape)
    result = _checked(
        pgconn.exec_prepared(name, [part.encode(_PQ_ENCODING) for part in parameters])
    )
    if not result.ntuples:
        return []
    transformer.set_pgresult(result)
    return transformer.load_rows(0, result.ntuples, tuple)


def _checked(result: pq.PGresult) -> pq.PGresult:
    """The result, or psycopg's exception for the error it reports."""
    if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise psycopg.errors.error_from_result(result, encoding=_PQ_ENCODING)
    return result


def _json(value):
    """A JSON column's driver value, parsed: SQLite gives its text, psycopg parses it itself."""
    return json.loads(value) if isinstance(value, str) else value


def _when(value) -> datetime | None:
    """A datetime column's driver value as an aware UTC datetime (models.UTCDateTime's result).

    SQLite gives the naive UTC text SQLAlchemy's DateTime writes; psycopg a datetime.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- bulk writes ----------------------------------------------------------------------------------


def update_by_id(
    session: Session, table: Table, columns: tuple[str, ...], rows: list[list], ids: list[int]
) -> None:
    """UPDATE these columns of rows by id: one executemany in the session's transaction.

    Values are the model's Python values; they go out in the form the model's column types
    write (JSON text; on SQLite a naive-UTC datetime text and 0/1), so the rows read back as if
    the ORM had written them (tests/db/test_fast.py compares).
    """
    if not rows:
        return
    sqlite = session.get_bind().dialect.name == "sqlite"
    writers = [_writer(table.c[name], sqlite) for name in columns]
    marker = "?" if sqlite else "%s"
    assignments = ", ".join(f'"{name}" = {marker}' for name in columns)
    statement = f"UPDATE {table.name} SET {assignments} WHERE id = {marker}"
    prepared = [
        [
            value if write is None else write(value)
            for value, write in zip(row, writers, strict=True)
        ]
        + [row_id]
        for row, row_id in zip(rows, ids, strict=True)
    ]
    cursor = session.connection().connection.cursor()
    try:
        cursor.executemany(statement, prepared)
    finally:
        cursor.close()


def _writer(column, sqlite: bool):
    """The function that turns a column's Python value into the driver's (None: as it is)."""
    implementation = getattr(column.type, "impl", column.type)
    if isinstance(implementation, JSON):
        return _json_text
    if sqlite and isinstance(implementation, DateTime):
        return _sqlite_when
    if sqlite and isinstance(implementation, Boolean):
        return _flag
    return None


def _json_text(value) -> str | None:
    """A JSON column's value as the text SQLAlchemy's JSON type writes."""
    return json.dumps(value)


def _sqlite_when(value: datetime | None) -> str | None:
    """An aware datetime as the naive-UTC text SQLAlchemy's SQLite DateTime stores."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:-6]  # without its "+00:00"


def _flag(value: bool | None) -> int | None:
    """A boolean as SQLite stores it."""
    return None if value is None else int(value)


@functools.lru_cache(maxsize=4)
def _similar_sql(bands: int) -> TextClause:
    """The candidate query for a message of this many LSH bands, as text built once.

    Built with SQLAlchemy Core, its 64 limited sub-selects cost about 25 ms a check to build
    and to key for the statement cache, several times the database's own work.
    """
    parts = " UNION ALL ".join(
        f"SELECT indicator_id FROM (SELECT indicator_id FROM message_bands "
        f"WHERE band = :band{n} ORDER BY indicator_id DESC LIMIT :per_band) AS band{n}"
        for n in range(bands)
    )
    return text(
        "SELECT indicators.id, indicators.facts FROM indicators JOIN ("
        f"SELECT indicator_id, count(*) AS shared FROM ({parts}) AS hits "
        "GROUP BY indicator_id ORDER BY shared DESC, indicator_id LIMIT :candidates"
        ") AS candidates ON candidates.indicator_id = indicators.id "
        "WHERE indicators.kind = 'message' AND indicators.value != :value "
        "AND indicators.exported = :exported"
    ).columns(id=BigInteger, facts=JSON)


def similar_candidates(
    session: Session, bands: list[str], value: str, per_band: int, candidates: int
) -> list[tuple[int, dict]]:
    """(id, facts) of the exported message indicators that share most of these LSH bands.

    Each band contributes at most `per_band` indicators, the newest, read from the covering
    index ix_message_bands_band (band, indicator_id); at most `candidates` come back,
    those sharing most bands first; the message's own template (`value`) is left out.
    What it buys: bench/messages.py's checks per second against 100,000 listed templates.
    """
    parameters: dict[str, Any] = {f"band{n}": band for n, band in enumerate(bands)}
    parameters.update(per_band=per_band, candidates=candidates, value=value, exported=True)
    return [tuple(row) for row in session.execute(_similar_sql(len(bands)), parameters)]
