"""fast.single_read: the connection each thread keeps for lookups, and when it lets it go."""

from __future__ import annotations

import gc
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from scamshare import db
from scamshare.db import fast, transaction
from scamshare.models import Indicator
from tests import reporting
from tests.storage import raw_rows


def _read(app) -> object:
    """Run one read through single_read; return the DBAPI connection it lent."""
    with app.app_context(), fast.single_read() as connection:
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
        fast.single_read() as connection,
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
    with app.app_context(), fast.single_read() as connection:
        postgres = not isinstance(connection, sqlite3.Connection)
        assert (connection in fast._prepared) is postgres
    app.extensions["scamshare.engine"].dispose()
    del connection
    gc.collect()
    assert len(fast._prepared) == 0


def test_the_driver_read_gives_what_the_models_give(app, client, keys):
    """fast.fetch_indicator reads every column a lookup uses as the ORM reads it."""
    reports = [
        reporting.report("+65 8123 4567", verified=True),
        reporting.report("+65 9123 4567", category="loan"),
        reporting.report("https://Example.COM/pay?utm_source=x", kind="url"),
    ]
    reporting.submit_batch(client, keys["regulator"], *reports)
    with app.app_context():
        with db.reader() as session:
            indicators = session.scalars(select(Indicator).order_by(Indicator.id)).all()
            expected = [
                tuple(getattr(i, name) for name in fast.IndicatorRow._fields) for i in indicators
            ]
        assert len(expected) == 3
        with fast.single_read() as connection:
            read = [tuple(fast.fetch_indicator(connection, row[0], row[1])) for row in expected]
            assert fast.fetch_indicator(connection, "phone", "+6500000000") is None
    assert read == expected


def test_the_bulk_update_stores_what_the_orm_would(app):
    """fast.update_by_id writes every lifecycle column as the models' column types do."""
    moment = datetime(2026, 11, 23, 3, 0, 0, 120000, tzinfo=UTC)
    values = {
        "status": "listed",
        "risk": "high",
        "report_count": 3,
        "category_counts": {"loan": 2, "investment": 1},
        "foreign": [{"country": "MY", "categories": ["loan"]}],
        "first_reported_at": moment,
        "expires_at": moment.astimezone(timezone(timedelta(hours=8))),
        "exported": True,
        "csv_line": 'phone,"+6,5",listed',
    }
    with transaction(app) as session:
        for value in ("+6580000001", "+6580000002"):
            session.add(
                Indicator(kind="phone", value=value, facts={}, created_at=moment, updated_at=moment)
            )
        session.flush()
        by_orm, by_driver = session.scalars(
            select(Indicator).where(Indicator.value.like("+658000000%")).order_by(Indicator.value)
        ).all()
        for name, value in values.items():
            setattr(by_orm, name, value)
        session.flush()
        columns = tuple(values)
        fast.update_by_id(
            session, Indicator.__table__, columns, [[values[c] for c in columns]], [by_driver.id]
        )
        orm_row, driver_row = (
            raw_rows(session, Indicator, [value]) for value in ("+6580000001", "+6580000002")
        )
    assert driver_row == orm_row
