"""Fixtures: a fresh database per test, on SQLite or (SCAMSHARE_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import gc
import itertools
import os
import shutil
import threading
import warnings
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from scamshare import migrations
from scamshare.app import create_app
from scamshare.db import make_engine, transaction
from scamshare.models import ROLES
from scamshare.services import audit
from scamshare.services import organisations as orgs

POSTGRES_URL = os.environ.get("SCAMSHARE_TEST_DATABASE_URL", "")
_counter = itertools.count()
_database_tests = {"count": 0}


def _admin_engine():
    """Connect to the PostgreSQL server's maintenance database, outside transactions."""
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def _drop(admin, name: str) -> None:
    """Drop a test's database, once every connection the test left behind is closed.

    A connection a test dropped without closing is rolled back when the garbage collector finds
    it. Were the database gone by then, that rollback would fail and log a traceback from inside
    whatever the next test is running; Python 3.11 formats tracebacks with `ast`, and a traceback
    formatted while `compile` runs (Werkzeug compiles its URL rules) fails that compile with
    "AST constructor recursion depth mismatch". So when the database still has connections, a
    collection first rolls back those nobody holds, while their database still exists (a
    collection costs a quarter of a second, so only then).
    """
    still_open = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name")
    with admin.connect() as connection:
        if connection.execute(still_open, {"name": name}).scalar():
            with warnings.catch_warnings():
                # psycopg warns of each connection it closes this way; closing them is the point.
                warnings.simplefilter("ignore", ResourceWarning)
                gc.collect()
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def template_database(tmp_path_factory):
    """Build one migrated database per run; each test gets a copy of it."""
    if POSTGRES_URL:
        name = f"scamshare_tpl_{os.getpid()}"
        admin = _admin_engine()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        yield name
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "scamshare.db"
        engine = make_engine(f"sqlite:///{path}")
        migrations.upgrade(engine)
        engine.dispose()
        yield str(path)


@pytest.fixture
def database_url(template_database, tmp_path):
    """Give the test its own fresh, migrated database and drop it afterwards."""
    _database_tests["count"] += 1
    if POSTGRES_URL:
        name = f"scamshare_t_{os.getpid()}_{next(_counter)}"
        admin = _admin_engine()
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        _drop(admin, name)
    else:
        path = tmp_path / "scamshare.db"
        shutil.copyfile(template_database, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def empty_database_url(tmp_path):
    """Give the test a database with no schema at all."""
    _database_tests["count"] += 1
    if POSTGRES_URL:
        name = f"scamshare_e_{os.getpid()}_{next(_counter)}"
        admin = _admin_engine()
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        _drop(admin, name)
    else:
        yield f"sqlite:///{tmp_path / 'empty.db'}"


class ServerLikeClient(FlaskClient):
    """A test client that reads every response to its end and closes it, as a WSGI server does.

    A streamed download holds its own database session until the server closes the response
    (api/blocklist.py); a test that only reads `response.data` would leave that session open
    for the garbage collector.
    """

    def open(self, *args, buffered: bool = True, **kwargs):
        """Send a request; buffer and close the response unless told not to."""
        return super().open(*args, buffered=buffered, **kwargs)


# Every app a test makes (the fixture's, a restored node's, a migrated one's) gets this client.
Flask.test_client_class = ServerLikeClient


@pytest.fixture
def app(database_url, tmp_path):
    """A ScamShare app on the test's own database."""
    app = create_app(
        {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "COUNTRY": "SG", "TESTING": True}
    )
    yield app
    app.extensions["scamshare.engine"].dispose()


@pytest.fixture
def served(app):
    """Serve the test's app over HTTP on a free loopback port; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@dataclass
class Credential:
    """An organisation and a working key of it."""

    organisation_id: int
    name: str
    role: str
    key_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header for this key."""
        return {"Authorization": f"Bearer {self.key}"}


def make_credential(app, role: str, name: str | None = None, country: str = "SG") -> Credential:
    """Create an organisation of a role with one key, through the services."""
    with transaction(app) as session:
        org = orgs.create_organisation(
            session, audit.NODE, name=name or f"Test {role}", role=role, country=country
        )
        issued = orgs.create_key(session, audit.NODE, org)
        return Credential(org.id, org.name, role, issued.record.key_id, issued.key)


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch):
    """Make a runner of `scamshare` command lines on the test's database, as a node of a country."""
    from click.testing import CliRunner

    from scamshare.cli import main

    def runner_for(country: str = "SG"):
        """Return invoke(*args, ok=True), which runs one command line and checks it succeeded."""
        monkeypatch.setenv("SCAMSHARE_DATABASE_URL", database_url)
        monkeypatch.setenv("SCAMSHARE_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("SCAMSHARE_COUNTRY", country)
        monkeypatch.delenv("SCAMSHARE_NODE_KEY", raising=False)
        runner = CliRunner()

        def invoke(*args: str, ok: bool = True):
            """Invoke one command line."""
            result = runner.invoke(main, list(args), catch_exceptions=False)
            if ok:
                assert result.exit_code == 0, result.output
            return result

        return invoke

    return runner_for


@pytest.fixture
def keys(app) -> dict[str, Credential]:
    """One organisation and key for every role."""
    return {role: make_credential(app, role) for role in ROLES}


def pytest_terminal_summary(terminalreporter):
    """Say how many tests ran on a real database and which engine, for .ci/run to check."""
    engine = make_url(POSTGRES_URL).get_backend_name() if POSTGRES_URL else "sqlite"
    terminalreporter.write_line(f"scamshare database tests: {_database_tests['count']} on {engine}")
