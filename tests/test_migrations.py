"""Alembic owns the schema, on both engines."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from scamshare import migrations
from scamshare.db import make_engine
from scamshare.models import Base


def test_migrations_build_exactly_the_models_schema(empty_database_url):
    """Upgrading an empty database to head leaves no difference from the models."""
    engine = make_engine(empty_database_url)
    migrations.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_migrations_downgrade_to_base_and_upgrade_again(empty_database_url):
    """Every migration can be undone and redone."""
    engine = make_engine(empty_database_url)
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    migrations.downgrade(engine, "base")
    assert migrations.current_revision(engine) is None
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    engine.dispose()


def test_stored_download_lines_are_rendered_for_existing_indicators(empty_database_url):
    """Revision 0006 writes each listing's lines with the one writer, the node's country first."""
    engine = make_engine(empty_database_url)
    migrations.upgrade(engine, "0005")
    foreign = [
        {
            "node": "scamshare-th",
            "country": "TH",
            "status": "listed",
            "removal_reason": None,
            "risk": "high",
            "categories": ["loan"],
            "report_count": 2,
            "org_count": 2,
            "first_reported": "2026-11-01T00:00:00+00:00",
            "last_reported": "2026-11-02T00:00:00+00:00",
            "expires_at": "2026-12-02T00:00:00+00:00",
        }
    ]
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO peers (node_id, country, url, public_key, policy, cursor, "
                "consecutive_failures, created_at) VALUES ('scamshare-th', 'TH', 'http://th', "
                "'k', 'warn', 0, 0, '2026-11-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO indicators (kind, value, status, risk, report_count, spoofed_count, "
                "verified_count, org_count, country_count, category_counts, channel_counts, "
                "first_reported_at, last_reported_at, expires_at, sequence, origin_version, "
                "\"foreign\", exported, facts, created_at, updated_at) VALUES ('phone', "
                "'+60123456789', 'listed', 'medium', 1, 0, 0, 1, 1, '{\"investment\": 1}', '{}', "
                "'2026-11-03 00:00:00', '2026-11-04 00:00:00', '2027-01-03 00:00:00', 1, 1, "
                ":foreign, true, '{}', '2026-11-03 00:00:00', '2026-11-04 00:00:00')"
            ),
            {"foreign": json.dumps(foreign)},
        )
    migrations.upgrade(engine, country="MY")
    with engine.connect() as connection:
        line, status = connection.execute(
            text("SELECT csv_line, shown_status FROM indicators")
        ).one()
    engine.dispose()
    assert status == "listed"
    assert line == (
        "phone,+60123456789,listed,medium,investment;loan,MY:block;TH:warn,"
        "2026-11-01T00:00:00Z,2026-11-04T00:00:00Z,2027-01-03T00:00:00Z"
    )
