"""db.Raw's remembered driver values: the same text as SQLAlchemy writes, never a neighbour's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from scamshare import db


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
