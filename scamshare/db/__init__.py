"""Engine and session per app; the caller (request, command, job) commits.

The one module below SQLAlchemy Core is db/fast.py; everything else speaks Core or the ORM.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def make_engine(url: str) -> Engine:
    """Create the engine for a database URL: SQLite with its pragmas, or a server's pool."""
    parsed = make_url(url)
    engine = _sqlite_engine(url) if parsed.get_backend_name() == "sqlite" else _server_engine(url)
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
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
