"""A batch of reports stored straight through the driver reads back as if written via the models."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from scamshare import db
from scamshare.clock import utcnow
from scamshare.models import Indicator, IndicatorOrganisation, Report
from tests.api.test_reports import submit
from tests.reporting import report
from tests.storage import raw_rows


def copy_through_models(session, model, row, value: str):
    """Insert a copy of a loaded row under another value, through the ORM."""
    columns = {c.name: getattr(row, c.name) for c in model.__table__.c if c.name != "id"}
    copy = model(**{**columns, "value": value})
    session.add(copy)
    return copy


def test_reports_and_indicators_hold_what_the_models_would_write(app, client, keys):
    """Report rows, indicators (new and updated) and their corroboration match ORM inserts."""
    values = ["+6581234567", "+6591234567"]
    first = [
        report(values[0], category="job", days_ago=3),
        report(values[0], channel="sms", spoofed_caller_id=True),
        # A whole second: SQLite's text must still carry its ".000000".
        {**report(values[1]), "observed_at": whole_second_ago()},
    ]
    assert submit(client, keys["operator"], {"reports": first}).status_code == 200
    verified = report(values[0], verified=True, days_ago=2, note="from the hotline")
    assert submit(client, keys["regulator"], {"reports": [verified]}).status_code == 200

    with db.transaction(app) as session:
        indicators = session.scalars(select(Indicator).where(Indicator.value.in_(values))).all()
        assert {i.status for i in indicators} == {"listed", "reported"}
        copies = {}
        for indicator in indicators:
            copy = copy_through_models(session, Indicator, indicator, "copy" + indicator.value)
            copies[indicator.id] = copy
        session.flush()
        for indicator in indicators:
            for held in session.scalars(
                select(IndicatorOrganisation).where(
                    IndicatorOrganisation.indicator_id == indicator.id
                )
            ).all():
                session.add(
                    IndicatorOrganisation(
                        **{
                            c.name: getattr(held, c.name)
                            for c in IndicatorOrganisation.__table__.c
                            if c.name != "indicator_id"
                        },
                        indicator_id=copies[indicator.id].id,
                    )
                )
        for stored in session.scalars(
            select(Report).where(Report.indicator_id.in_([i.id for i in indicators]))
        ).all():
            columns = {c.name: getattr(stored, c.name) for c in Report.__table__.c}
            session.add(
                Report(
                    **{
                        **columns,
                        "id": None,
                        "indicator_id": copies[stored.indicator_id].id,
                        "extracted_from_id": None,
                    }
                )
            )
        session.flush()

        copied = ["copy" + value for value in values]
        assert raw_rows(session, Indicator, values) == raw_rows(session, Indicator, copied)
        for original, copy in zip(values, copied, strict=True):
            assert texts(session, "reports", original) == texts(session, "reports", copy)
            assert texts(session, "indicator_organisations", original) == texts(
                session, "indicator_organisations", copy
            )


def whole_second_ago() -> str:
    """An hour ago, to the second, as ISO 8601."""
    return (utcnow() - timedelta(hours=1)).replace(microsecond=0).isoformat()


def texts(session, table: str, value: str) -> list[tuple]:
    """A child table's rows of one indicator, as the database holds them, as text."""
    columns = [
        c.name
        for c in {"reports": Report, "indicator_organisations": IndicatorOrganisation}[
            table
        ].__table__.c
        if c.name not in ("id", "indicator_id", "extracted_from_id")
    ]
    selected = ", ".join(f'CAST(t."{name}" AS TEXT)' for name in columns)
    return sorted(
        session.execute(
            text(
                f"SELECT {selected} FROM {table} AS t JOIN indicators AS i "
                "ON i.id = t.indicator_id WHERE i.value = :value"
            ),
            {"value": value},
        ).all()
    )
