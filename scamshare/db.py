"""Engine and session per app; the caller (request, command, job) commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def make_engine(url: str) -> Engine:
    """Create the engine for a database URL, with the SQLite pragmas a shared file needs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
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
        if mode is not None:  # None: single reads, each statement its own implicit transaction
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
    # One read statement needs no transaction around it: on SQLite no BEGIN, on PostgreSQL
    # no BEGIN and ROLLBACK round trips; the hot lookup path reads this way.
    if engine.dialect.name == "sqlite":
        app.extensions["scamshare.single_reads"] = engine.execution_options(sqlite_begin=None)
    else:
        app.extensions["scamshare.single_reads"] = engine.execution_options(
            isolation_level="AUTOCOMMIT"
        )
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


def single_read() -> Connection:
    """Open a connection for one read statement, outside any transaction (use it in `with`)."""
    return current_app.extensions["scamshare.single_reads"].connect()


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
