"""Engine and session per app; the caller (request, command, job) commits."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def make_engine(url: str) -> Engine:
    """Create the engine for a database URL: SQLite with its pragmas, or a server's pool."""
    parsed = make_url(url)
    engine = _sqlite_engine(url) if parsed.get_backend_name() == "sqlite" else _server_engine(url)
    event.listen(engine, "engine_disposed", _close_held)
    return engine


def _sqlite_engine(url: str) -> Engine:
    """Create a SQLite engine with the pragmas a shared file needs."""
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        """Turn on WAL, foreign keys and a busy timeout for every new SQLite connection."""
        # pysqlite's own transaction handling would defer BEGIN; we issue it ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        """Begin deferred for readers; writers take the lock up front and queue, never deadlock."""
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def init_app(app: Flask) -> None:
    """Attach an engine and a session factory to the app and close sessions at teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["scamshare.engine"] = engine
    app.extensions["scamshare.sessions"] = {
        "read": sessionmaker(engine, expire_on_commit=False),
        "write": sessionmaker(
            engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        ),
    }
    app.teardown_appcontext(close_session)


def engine() -> Engine:
    """Return the current app's engine."""
    return current_app.extensions["scamshare.engine"]


def session() -> Session:
    """Return this request's session: a writer for state-changing methods, else a reader."""
    if "db_session" not in g:
        kind = "read" if has_request_context() and request.method in SAFE_METHODS else "write"
        g.db_session = current_app.extensions["scamshare.sessions"][kind]()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Close this request's session; whatever was not committed is rolled back."""
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()


_held = threading.local()  # the connection single_read keeps for each thread
_every_held: weakref.WeakSet = weakref.WeakSet()  # of every thread, for _close_held


@contextmanager
def single_read() -> Iterator[Any]:
    """Lend this thread's DBAPI connection for one read statement, outside any transaction.

    The lookup path reads this way: a SQLAlchemy Connection around one indexed SELECT cost more
    than the SELECT, and so did taking a connection from the pool and giving it back for each
    lookup. Each thread therefore keeps one pooled connection for these reads, in autocommit
    mode (SQLite connections are in it already, see make_engine; PostgreSQL ones are switched),
    so no BEGIN and ROLLBACK round trips. A connection that sat unused for
    PING_AFTER_IDLE_SECONDS goes back to the pool and the next read takes one afresh, which the
    pool pings first; a read that fails discards the connection.
    """
    current = engine()
    held = getattr(_held, "connection", None)
    if held is not None and (
        held.closed
        or held.engine is not current
        or time.monotonic() - held.used_at >= PING_AFTER_IDLE_SECONDS
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


# A pooled server connection unused for this long is pinged before it is lent: one round trip
# on every checkout (pool_pre_ping) cost PostgreSQL lookups a third of their throughput, and
# connections in steady use are known to be alive.
PING_AFTER_IDLE_SECONDS = 5.0


def _server_engine(url: str) -> Engine:
    """Create a PostgreSQL engine whose pool pings only connections that sat idle."""
    engine = create_engine(url, pool_size=10, max_overflow=10, pool_recycle=3600)

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record):
        """Note when the connection went back to the pool."""
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        """Ping a connection that sat idle; a dead one is replaced (the pool retries)."""
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(f"connection idle since {idle_since:.0f} is gone") from error

    return engine


def reader() -> Session:
    """Open a separate short-lived read session (use it in a `with` block)."""
    return current_app.extensions["scamshare.sessions"]["read"]()


@contextmanager
def transaction(app: Flask) -> Iterator[Session]:
    """Run a unit of work outside a request: commit on success, roll back on any error."""
    db_session: Session = app.extensions["scamshare.sessions"]["write"]()
    try:
        yield db_session
        db_session.commit()
    except BaseException:
        db_session.rollback()
        raise
    finally:
        db_session.close()


@contextmanager
def snapshot(app: Flask) -> Iterator[Session]:
    """Read outside a request without taking the write lock; nothing is written."""
    db_session: Session = app.extensions["scamshare.sessions"]["read"]()
    try:
        yield db_session
    finally:
        db_session.rollback()
        db_session.close()


def insert_for(session: Session):
    """The session's dialect's INSERT construct, which knows ON CONFLICT on both engines."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


def read_when(value) -> datetime | None:
    """A datetime column's driver value as an aware UTC datetime (models.UTCDateTime's result).

    SQLite gives the naive UTC text SQLAlchemy's DateTime writes; psycopg a datetime.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_json(value):
    """A JSON column's driver value, parsed: SQLite gives its text, psycopg parses it itself."""
    return json.loads(value) if isinstance(value, str) else value


SQLITE_LIST_CHUNK = 500  # well under SQLite's parameter limit
SERVER_LIST_CHUNK = 10_000  # a whole batch's values in one array
_analysed: set[tuple[str, str]] = set()  # (database, table) seen analysed by Raw.analyse_once


class Raw:
    """Statements sent straight to the DBAPI cursor, for the hot bulk paths.

    SQLAlchemy processes every bound value and every result value of every row in Python; for
    thousands of rows per batch that costs more than the database's own work. Here statements
    are written once with `?` placeholders, values go out already in the driver's form, and
    rows come back as the driver's tuples, converted only where a column needs it. On SQLite a
    datetime is the naive-UTC text SQLAlchemy's DateTime writes, JSON is text and booleans are
    0/1; psycopg takes and gives aware datetimes and parsed JSON itself.
    """

    def __init__(self, session: Session):
        """Work inside the session's transaction; it begins at the first statement."""
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self._cursor = None
        # Driver values already made, by the value's repr (JSON) or the datetime: a batch
        # writes the same few facts, counts and times over and over.
        self._json: dict[str, str] = {}
        self._times: dict[datetime, str] = {}

    @property
    def cursor(self):
        """The DBAPI cursor on the session's connection (begins its transaction: on SQLite the
        writer's lock)."""
        if self._cursor is None:
            self._cursor = self.session.connection().connection.cursor()
        return self._cursor

    def _sql(self, statement: str) -> str:
        return statement if self.sqlite else statement.replace("?", "%s")

    def many(self, statement: str, rows: list) -> None:
        """Run one statement for each row of parameters (executemany)."""
        if rows:
            self.cursor.executemany(self._sql(statement), rows)

    def all(self, statement: str, parameters: tuple = ()) -> list[tuple]:
        """Run one statement and return its rows as tuples."""
        self.cursor.execute(self._sql(statement), parameters)
        return self.cursor.fetchall()

    def insert(
        self, table: Table, columns: tuple[str, ...], rows: list, tail: str = ""
    ) -> list[tuple]:
        """INSERT rows (in the driver's form) into these columns, `tail` after the VALUES.

        SQLite runs one executemany. psycopg's executemany sends and handles a statement per
        row, which cost more than PostgreSQL's own work, so there the rows go by COPY: into the
        table itself when there is no tail, else into a temporary staging table of these
        columns and from it in one `INSERT .. SELECT .. {tail}`, in the rows' order. Returns
        what a RETURNING tail returns (PostgreSQL only).
        """
        if not rows:
            return []
        names = ", ".join(f'"{name}"' for name in columns)
        if self.sqlite:
            values = self.placeholders(len(columns))
            self.many(f"INSERT INTO {table.name} ({names}) VALUES ({values}) {tail}", rows)
            return []
        if not tail:
            self._copy(table.name, names, rows)
            return []
        stage = _stage_name(table.name, columns)
        self.cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} AS "
            f"SELECT {names} FROM {table.name} WITH NO DATA"
        )
        self.cursor.execute(f"TRUNCATE {stage}")
        self._copy(stage, names, rows)
        self.cursor.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} {tail}"
        )
        return self.cursor.fetchall() if self.cursor.description else []

    def _copy(self, table_name: str, names: str, rows: list) -> None:
        """COPY rows into a PostgreSQL table's columns."""
        with self.cursor.copy(f"COPY {table_name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def insert_new(self, table: Table, columns: tuple[str, ...], rows: list) -> list[tuple]:
        """Insert rows whose (kind, value) is not in the table; return (id, kind, value) of each.

        On SQLite this transaction holds the only write lock, so the new rows are those past
        the table's largest id.
        """
        if not rows:
            return []
        tail = "ON CONFLICT (kind, value) DO NOTHING"
        if not self.sqlite:
            return self.insert(table, columns, rows, f"{tail} RETURNING id, kind, value")
        ((last,),) = self.all(f"SELECT coalesce(max(id), 0) FROM {table.name}")
        self.insert(table, columns, rows, tail)
        return self.all(f"SELECT id, kind, value FROM {table.name} WHERE id > ?", (last,))

    def placeholders(self, count: int) -> str:
        """`?, ?, ...` for an IN list of `count` values."""
        return ", ".join("?" * count)

    def analyse_once(self, table: str) -> None:
        """On PostgreSQL, ANALYZE a table that has never been analysed (checked once a process).

        Until a table's first ANALYZE the planner has no statistics for it and guesses that
        `kind = ?` matches a few rows, so `kind = ? AND value = ANY(?)` reads every indicator of
        the kind and filters. Autovacuum analyses a new table only on its next round (up to a
        minute later), by which time a fresh node's first import has paid for that many times.
        Rows this transaction inserted count in the sample.
        """
        if self.sqlite:
            return
        key = (self.session.get_bind().url.render_as_string(hide_password=True), table)
        if key in _analysed:
            return
        rows = self.all(
            "SELECT 1 FROM pg_stat_user_tables WHERE relid = to_regclass(?) "
            "AND last_analyze IS NULL AND last_autoanalyze IS NULL",
            (table,),
        )
        if rows:
            self.cursor.execute(f"ANALYZE {table}")
        _analysed.add(key)

    @property
    def chunk(self) -> int:
        """How many values one `one_of` list takes: SQLite binds each value as its own
        parameter (and limits their number); PostgreSQL takes the whole list as one array."""
        return SQLITE_LIST_CHUNK if self.sqlite else SERVER_LIST_CHUNK

    def one_of(self, column: str, values: list) -> tuple[str, tuple]:
        """A condition that `column` is one of `values`, and its parameters.

        `IN (?, ?, ...)` on SQLite; `= ANY(?)` with one array on PostgreSQL, which plans and
        binds one parameter rather than hundreds.
        """
        if self.sqlite:
            return f"{column} IN ({self.placeholders(len(values))})", tuple(values)
        return f"{column} = ANY(?)", (list(values),)

    def when(self, value: datetime | None):
        """A UTC datetime as the driver stores it (SQLite: `YYYY-MM-DD HH:MM:SS.ffffff`)."""
        if value is None or not self.sqlite:
            return value
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = sqlite_when(value)
        return text

    def json_text(self, value) -> str:
        """A JSON column's value as the text SQLAlchemy's JSON type writes (json.dumps).

        Values with the same repr (the plain JSON types) have the same text, made once.
        """
        key = repr(value)
        text = self._json.get(key)
        if text is None:
            text = self._json[key] = json.dumps(value)
        return text

    def writer(self, column) -> Callable | None:
        """The function that turns a column's Python value into the driver's (None: as it is)."""
        kind = _column_kind(column)
        if kind == "json":
            return self.json_text
        if kind == "datetime" and self.sqlite:
            return self.when
        return None

    def reader(self, column) -> Callable | None:
        """The function that turns the driver's value of a column into Python's (None: as it is)."""
        return {"datetime": read_when, "json": read_json, "bool": _flag}.get(_column_kind(column))


def _stage_name(table_name: str, columns: tuple[str, ...]) -> str:
    """The temporary staging table of a table's columns (one per column list)."""
    digest = hashlib.sha256(" ".join(columns).encode()).hexdigest()[:8]
    return f"scamshare_stage_{table_name}_{digest}"


def sqlite_when(value: datetime | None) -> str | None:
    """An aware datetime as the naive-UTC text SQLAlchemy's SQLite DateTime stores."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:-6]  # without its "+00:00"


def _flag(value):
    return None if value is None else bool(value)


def _column_kind(column) -> str:
    """Which conversion a table column needs: datetime, json, bool or none."""
    from sqlalchemy import JSON, Boolean, DateTime

    column_type = column.type
    implementation = getattr(column_type, "impl", column_type)
    if isinstance(implementation, DateTime):
        return "datetime"
    if isinstance(implementation, JSON):
        return "json"
    if isinstance(implementation, Boolean):
        return "bool"
    return "other"
