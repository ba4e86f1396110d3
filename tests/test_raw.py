"""db.Raw's remembered driver values: the same text as SQLAlchemy writes, never a neighbour's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from scamshare import db
from scamshare.models import Indicator, IndicatorOrganisation
from scamshare.services import lifecycle, reports
from tests.reporting import report


def test_json_text_is_json_dumps_and_tells_equal_looking_values_apart(app):
    with db.transaction(app) as session:
        raw = db.Raw(session)
        values = [{"a": True}, {"a": 1}, {"a": 1.0}, {"a": "1"}, [], {}, {"a": True}, {"a": 1}]
        assert [raw.json_text(value) for value in values] == [json.dumps(v) for v in values]


def test_when_remembers_each_datetime_apart(app):
    moment = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    later = moment + timedelta(microseconds=1)
    with db.transaction(app) as session:
        raw = db.Raw(session)
        texts = [raw.when(value) for value in (moment, later, moment, None)]
    if raw.sqlite:
        assert texts == [
            db.sqlite_when(moment),
            db.sqlite_when(later),
            db.sqlite_when(moment),
            None,
        ]
    else:
        assert texts == [moment, later, moment, None]


def test_insert_new_twice_in_one_transaction_returns_each_call_its_own_new_rows(app):
    moment = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    table = Indicator.__table__
    with db.transaction(app) as session:
        raw = db.Raw(session)

        def rows(*values):
            states = {("phone", v): lifecycle.new_state(("phone", v), {}, moment) for v in values}
            return reports.new_rows(raw, states)

        first = raw.insert_new(table, reports._NEW_COLUMNS, rows("+6581111111", "+6582222222"))
        second = raw.insert_new(table, reports._NEW_COLUMNS, rows("+6582222222", "+6583333333"))
    assert sorted(value for _, _, value in first) == ["+6581111111", "+6582222222"]
    assert [value for _, _, value in second] == ["+6583333333"]
    with db.transaction(app) as session:
        assert session.scalar(select(func.count()).select_from(Indicator)) == 3


def test_staged_upserts_in_one_transaction_count_each_row_once(app, keys):
    moment = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    organisation = keys["operator"].organisation_id
    columns = ("indicator_id", "organisation_id", "country", "report_count", "first_at", "last_at")
    tail = (
        "ON CONFLICT (indicator_id, organisation_id) DO UPDATE SET "
        "report_count = indicator_organisations.report_count + excluded.report_count"
    )
    with db.transaction(app) as session:
        raw = db.Raw(session)
        state = lifecycle.new_state(("phone", "+6581111111"), {}, moment)
        states = {("phone", "+6581111111"): state}
        [(indicator_id, _, _)] = raw.insert_new(
            Indicator.__table__, reports._NEW_COLUMNS, reports.new_rows(raw, states)
        )
        row = (indicator_id, organisation, "SG", 1, raw.when(moment), raw.when(moment))
        for _ in range(3):
            raw.insert(IndicatorOrganisation.__table__, columns, [row], tail)
    with db.transaction(app) as session:
        assert session.scalar(select(IndicatorOrganisation.report_count)) == 3


def test_load_states_finds_every_key_of_a_list_longer_than_one_chunk(app):
    """More values than SQLite binds in one IN list (and one array on PostgreSQL) all come back."""
    moment = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    values = [f"+658{n:07d}" for n in range(db.SQLITE_LIST_CHUNK * 2 + 7)]
    with db.transaction(app) as session:
        raw = db.Raw(session)
        states = {("phone", v): lifecycle.new_state(("phone", v), {}, moment) for v in values}
        raw.insert_new(Indicator.__table__, reports._NEW_COLUMNS, reports.new_rows(raw, states))
    with db.transaction(app) as session:
        found = lifecycle.load_states(
            session, [("phone", v) for v in values] + [("url", "x")], True
        )
    assert sorted(found) == sorted(states)
    assert [state.id for state in found.values()] == sorted(state.id for state in found.values())


def test_the_first_batch_gives_a_new_database_its_planner_statistics(app, client, keys):
    """PostgreSQL analyses a fresh node's indicators at its first batch, not a minute later."""
    body = {"reports": [report(f"8{n:03d} 4567") for n in range(20)]}
    response = client.post("/api/v1/reports", json=body, headers=keys["operator"].headers)
    assert response.status_code == 200, response.json
    with db.transaction(app) as session:
        if db.Raw(session).sqlite:
            # SQLite plans these lookups from its indexes alone; nothing is analysed.
            assert (
                session.scalar(
                    text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
                )
                == 0
            )
        else:
            assert (
                session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stats "
                        "WHERE tablename = 'indicators' AND attname IN ('kind', 'value')"
                    )
                )
                == 2
            )
