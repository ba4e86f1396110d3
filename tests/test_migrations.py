"""Alembic owns the schema, on both engines."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from scamshare import migrations
from scamshare.app import create_app
from scamshare.clock import utcnow
from scamshare.db import make_engine
from scamshare.models import Base
from tests.conftest import make_credential


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
    """Revision 0007 writes each listing's lines with the one writer, the node's country first."""
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


def test_bounded_dates_migration_clamps_dates_no_node_could_read(empty_database_url, tmp_path):
    """A database holding year-1 and year-9999 dates reads and lists again once migrated."""
    engine = make_engine(empty_database_url)
    migrations.upgrade(engine)
    app = create_app({"DATABASE_URL": empty_database_url, "DATA_DIR": str(tmp_path)})
    operator = make_credential(app, "operator")
    client = app.test_client()
    report = {
        "kind": "phone",
        "value": "+6581234567",
        "category": "investment",
        "channel": "voice",
        "observed_at": utcnow().isoformat(),
        "evidence_ref": "case-1",
    }
    response = client.post("/api/v1/reports", json=report, headers=operator.headers)
    assert response.status_code == 200, response.json
    disconnected = {"number": "+6581234568", "disconnected_on": "2026-01-05"}
    response = client.post("/api/v1/disconnections", json=disconnected, headers=operator.headers)
    assert response.status_code == 200, response.json
    # Back to the schema before the bounds, and what the old code let in: on PostgreSQL year 1
    # at +01:00 is stored as 1 BC.
    migrations.downgrade(engine, "0005")
    postgres = engine.dialect.name == "postgresql"
    ancient = "TIMESTAMPTZ '0001-01-01 00:00:00+01'" if postgres else "'0001-01-01 00:00:00.000000'"
    distant = "TIMESTAMPTZ '9999-12-31 00:00:00+00'" if postgres else "'9999-12-31 00:00:00.000000'"
    peer_view = [
        {
            "node": "scamshare-my",
            "country": "MY",
            "status": "listed",
            "removal_reason": None,
            "risk": "high",
            "categories": ["investment"],
            "report_count": 3,
            "org_count": 2,
            "first_reported": "0001-01-01T00:00:00+01:00",
            "last_reported": "2026-01-01T00:00:00+00:00",
            "expires_at": "9999-12-31T23:00:00-02:00",
        }
    ]
    with engine.begin() as connection:
        for statement in (
            f"UPDATE reports SET observed_at = {ancient}",
            f"UPDATE indicators SET first_reported_at = {ancient}, last_reported_at = {ancient}",
            f"UPDATE indicator_organisations SET first_at = {ancient}, last_at = {ancient}",
            f"UPDATE disconnections SET disconnected_on = {distant}",
        ):
            connection.execute(text(statement))
        connection.execute(
            text('UPDATE indicators SET "foreign" = :view'), {"view": json.dumps(peer_view)}
        )
    migrations.upgrade(engine)
    earliest, latest = "2000-01-01T00:00:00+00:00", "2100-12-31T23:59:59+00:00"
    listed = client.get("/api/v1/indicators", headers=operator.headers)
    assert listed.status_code == 200, listed.json
    indicator = listed.json["items"][0]
    assert (indicator["first_reported_at"], indicator["last_reported_at"]) == (earliest, earliest)
    detail = client.get(f"/api/v1/indicators/{indicator['id']}", headers=operator.headers)
    assert detail.status_code == 200, detail.json
    assert detail.json["reporters"][0]["first_at"] == earliest
    looked_up = client.get(
        "/api/v1/lookup", query_string={"value": "+6581234567"}, headers=operator.headers
    )
    assert looked_up.status_code == 200, looked_up.json
    assert looked_up.json["first_reported"] == earliest
    with engine.connect() as connection:
        day = connection.execute(text("SELECT disconnected_on FROM disconnections")).scalar()
        observed = connection.execute(text("SELECT observed_at FROM reports")).scalar()
        view = connection.execute(text('SELECT "foreign" FROM indicators')).scalar()
    view = json.loads(view) if isinstance(view, str) else view
    assert (view[0]["first_reported"], view[0]["expires_at"]) == (earliest, latest)
    assert view[0]["last_reported"] == "2026-01-01T00:00:00+00:00"
    assert str(day).startswith("2100-12-31 23:59:59")
    assert str(observed).startswith("2000-01-01 00:00:00")
    app.extensions["scamshare.engine"].dispose()
    engine.dispose()


def test_url_indicators_lose_their_scheme_and_spellings_of_one_link_merge(
    empty_database_url, tmp_path
):
    """Revision 0009: http, https and trailing-slash spellings become one indicator.

    Their reports, history and corroboration are kept, the lifecycle's rules apply to the sum
    (three organisations over two spellings list the link), and a delta from before is refused.
    """
    engine = make_engine(empty_database_url)
    migrations.upgrade(engine)
    app = create_app({"DATABASE_URL": empty_database_url, "DATA_DIR": str(tmp_path)})
    client = app.test_client()
    operators = [make_credential(app, "operator", name=f"Telco {n}") for n in range(3)]

    def submit(credential, value: str) -> None:
        """One operator's report of a link."""
        report = {
            "kind": "url",
            "value": value,
            "category": "parcel_delivery",
            "channel": "sms",
            "observed_at": utcnow().isoformat(),
            "evidence_ref": "case-1",
        }
        response = client.post("/api/v1/reports", json=report, headers=credential.headers)
        assert response.status_code == 200, response.json

    submit(operators[0], "https://parcel.example.com/a")
    submit(operators[1], "https://parcel.example.com/a")
    submit(operators[2], "https://parcel.example.com/b")
    submit(operators[0], "https://alone.example.com/x")
    cursor = client.get(
        "/api/v1/blocklist", query_string={"format": "json"}, headers=operators[0].headers
    ).json["cursor"]
    # The values as the code before 0009 wrote them: two spellings of one link, and one more.
    migrations.downgrade(engine, "0008")
    with engine.begin() as connection:
        for old, new in (
            ("parcel.example.com/a", "https://parcel.example.com/track"),
            ("parcel.example.com/b", "http://parcel.example.com/track/"),
            ("alone.example.com/x", "https://alone.example.com/x"),
        ):
            connection.execute(
                text("UPDATE indicators SET value = :new WHERE value = :old"),
                {"old": old, "new": new},
            )
        before = dict(
            connection.execute(text("SELECT value, id FROM indicators WHERE kind = 'url'")).all()
        )
        events_before = connection.execute(text("SELECT count(*) FROM indicator_events")).scalar()
    migrations.upgrade(engine)

    with engine.connect() as connection:
        urls = connection.execute(
            text(
                "SELECT id, value, status, report_count, org_count FROM indicators "
                "WHERE kind = 'url' ORDER BY value"
            )
        ).all()
        reports = (
            connection.execute(text("SELECT DISTINCT indicator_id FROM reports WHERE kind = 'url'"))
            .scalars()
            .all()
        )
        corroborating = connection.execute(
            text("SELECT count(*) FROM indicator_organisations WHERE indicator_id = :id"),
            {"id": before["https://parcel.example.com/track"]},
        ).scalar()
        events = connection.execute(text("SELECT count(*) FROM indicator_events")).scalar()
    engine.dispose()
    merged_id = before["https://parcel.example.com/track"]
    assert [tuple(row)[1:] for row in urls] == [
        ("alone.example.com/x", "reported", 1, 1),
        ("parcel.example.com/track", "listed", 3, 3),
    ]
    assert urls[1][0] == merged_id
    assert sorted(reports) == sorted([merged_id, before["https://alone.example.com/x"]])
    assert corroborating == 3
    assert events > events_before  # the history is kept, and the listing is a new entry of it

    operator = operators[0]
    found = client.get(
        "/api/v1/lookup",
        query_string={"value": "parcel.example.com/track/", "kind": "url"},
        headers=operator.headers,
    ).json
    assert (found["value"], found["status"], found["counts"]["reports"]) == (
        "parcel.example.com/track",
        "listed",
        3,
    )
    stale = client.get(
        "/api/v1/blocklist",
        query_string={"format": "json", "since": cursor},
        headers=operator.headers,
    )
    assert stale.status_code == 422
    assert stale.json["errors"][0]["field"] == "since"
    assert stale.json["errors"][0]["reason"] == "full_list_needed"
    full = client.get(
        "/api/v1/blocklist",
        query_string={"format": "txt", "kind": "url"},
        headers=operator.headers,
    )
    assert full.get_data(as_text=True).splitlines() == ["parcel.example.com/track"]
    fresh = client.get(
        "/api/v1/blocklist",
        query_string={"format": "json", "since": full.headers["X-ScamShare-Cursor"]},
        headers=operator.headers,
    )
    assert fresh.status_code == 200 and fresh.json["items"] == []


def test_message_signatures_are_recomputed_both_ways(empty_database_url, tmp_path):
    """Revision 0010 turns stored SimHashes into MinHashes and LSH bands, and back on downgrade."""
    from scamshare.normalise import signature_bands

    engine = make_engine(empty_database_url)
    migrations.upgrade(engine)
    app = create_app({"DATABASE_URL": empty_database_url, "DATA_DIR": str(tmp_path)})
    regulator = make_credential(app, "regulator")
    operator = make_credential(app, "operator")
    client = app.test_client()
    scam = "Your parcel is held at customs. Pay $2.50 now at http://pay-parcel.example.com/t"
    variant = "Your parcel is being held at customs. Pay $9.90 today at http://other.example.org/z"
    report = {
        "kind": "message",
        "value": scam,
        "category": "parcel_delivery",
        "channel": "sms",
        "observed_at": utcnow().isoformat(),
        "evidence_ref": "case-1",
        "verified": True,
    }
    response = client.post("/api/v1/reports", json=report, headers=regulator.headers)
    assert response.status_code == 200, response.json

    def stored() -> tuple[str, set[str]]:
        """The message indicator's stored signature and band rows."""
        with engine.connect() as connection:
            facts = connection.execute(
                text("SELECT facts FROM indicators WHERE kind = 'message'")
            ).scalar()
            bands = connection.execute(text("SELECT band FROM message_bands")).scalars().all()
        facts = json.loads(facts) if isinstance(facts, str) else facts
        return facts["signature"], set(bands)

    migrations.downgrade(engine, "0009")
    simhash, bands = stored()
    assert len(simhash) == 16 and len(bands) == 66
    migrations.upgrade(engine)
    signature, bands = stored()
    assert len(signature) == 684 and bands == set(signature_bands(signature))
    check = client.post("/api/v1/messages/check", json={"text": variant}, headers=operator.headers)
    assert check.status_code == 200, check.json
    assert check.json["verdict"] == "warn"
    assert [m["match"] for m in check.json["matches"]] == ["similar_template"]
    app.extensions["scamshare.engine"].dispose()
    engine.dispose()
