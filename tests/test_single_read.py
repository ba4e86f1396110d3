"""db.single_read: the connection each thread keeps for lookups, and when it lets it go."""

from __future__ import annotations

import gc
import sqlite3
import threading

import pytest
from sqlalchemy import event

from scamshare import db
from scamshare.services import lookup


def _read(app) -> object:
    """Run one read through single_read; return the DBAPI connection it lent."""
    with app.app_context(), db.single_read() as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT count(*) FROM indicators")
        assert cursor.fetchone() == (0,)
        cursor.close()
        return connection


def _checkouts(app) -> list:
    """Record every checkout from the app's pool."""
    seen = []
    event.listen(app.extensions["scamshare.engine"], "checkout", lambda *args: seen.append(1))
    return seen


def test_a_thread_keeps_its_connection_and_another_thread_has_its_own(app):
    checkouts = _checkouts(app)
    first = _read(app)
    assert _read(app) is first
    assert len(checkouts) == 1  # the second read did not go through the pool
    other = []
    thread = threading.Thread(target=lambda: other.append(_read(app)))
    thread.start()
    thread.join()
    assert other[0] is not first


def test_a_connection_idle_too_long_goes_back_to_the_pool_before_the_next_read(app, monkeypatch):
    checkouts = _checkouts(app)
    _read(app)
    now = db.time.monotonic()
    monkeypatch.setattr(db.time, "monotonic", lambda: now + db.PING_AFTER_IDLE_SECONDS + 1)
    _read(app)
    # Taken from the pool again, which pings a connection that sat idle (db._server_engine).
    assert len(checkouts) == 2


def test_a_failed_read_discards_the_connection(app):
    first = _read(app)
    with (
        pytest.raises(Exception, match=r"no_such_table|no such table"),
        app.app_context(),
        db.single_read() as connection,
    ):
        connection.cursor().execute("SELECT * FROM no_such_table")
    second = _read(app)
    assert second is not first


def test_disposing_the_engine_closes_the_connection_it_lent(app):
    first = _read(app)
    app.extensions["scamshare.engine"].dispose()
    second = _read(app)
    assert second is not first
    with pytest.raises(Exception, match=r"closed|Cannot operate"):
        first.cursor().execute("SELECT 1")


def test_a_closed_connection_leaves_no_prepared_lookup_behind(app, client, keys):
    """The PostgreSQL lookup prepares its statement once per connection, remembered weakly."""
    client.get("/api/v1/lookup?value=%2B6581234567", headers=keys["operator"].headers)
    with app.app_context(), db.single_read() as connection:
        postgres = not isinstance(connection, sqlite3.Connection)
        assert (connection in lookup._prepared) is postgres
    app.extensions["scamshare.engine"].dispose()
    del connection
    gc.collect()
    assert len(lookup._prepared) == 0
