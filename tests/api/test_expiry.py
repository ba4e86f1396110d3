"""Expiry: a listing lapses when its last corroborating report is older than the kind's TTL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from scamshare import db
from scamshare.auth import Caller
from scamshare.clock import utcnow
from scamshare.indicators import lifecycle
from scamshare.models import AuditEntry
from scamshare.services import audit, expiry
from scamshare.services import reports as reports_service
from tests.conftest import Credential, make_credential
from tests.reporting import report, submit


def submit_at(app, credential: Credential, now: datetime, *reports: dict) -> dict:
    """Submit reports through the submission service as if it were `now`."""
    caller = Caller(credential.organisation_id, credential.name, credential.role, "SG", "k")
    with db.transaction(app) as session:
        result = reports_service.submit(
            session,
            list(reports),
            caller,
            policy=app.extensions["scamshare.policy"],
            now=now,
            atomic=True,
        )
        return result.accepted[0]["indicator"]


def expire(app, now: datetime) -> int:
    """Run the sweep as the node at `now`."""
    with db.transaction(app) as session:
        return expiry.expire_due(session, app.extensions["scamshare.policy"], now, audit.NODE)


def indicator(client, credential: Credential, indicator_id: int) -> dict:
    """One indicator with its history."""
    response = client.get(f"/api/v1/indicators/{indicator_id}", headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


@pytest.fixture
def operators(app) -> list[Credential]:
    """Three independent operators of this node."""
    return [make_credential(app, "operator", f"Operator {n}") for n in range(3)]


def test_a_listing_expires_when_its_last_report_is_older_than_the_ttl(app, client, keys):
    """A phone listing lives 60 days from its last report, then ends as expired, audited."""
    regulator = keys["regulator"]
    observed = utcnow() - timedelta(days=59)
    ref = submit(client, regulator, report("8123 4567", observed=observed, verified=True))
    assert ref["status"] == "listed"
    listed = indicator(client, regulator, ref["id"])

    assert expire(app, utcnow()) == 0
    assert expire(app, observed + timedelta(days=60, seconds=1)) == 1
    assert expire(app, observed + timedelta(days=61)) == 0  # nothing left to expire

    after = indicator(client, regulator, ref["id"])
    assert after["status"] == "expired"
    assert after["removal_reason"] == "expired"
    assert after["expires_at"] is None
    assert after["sequence"] > listed["sequence"]
    event = after["history"][-1]
    assert (event["from_status"], event["to_status"]) == ("listed", "expired")
    assert event["reason"] == expiry.WHY
    with db.transaction(app) as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "indicator.expired")
        ).all()
        assert entry.organisation_name == "node"
        assert entry.details["reason"] == expiry.WHY
        assert entry.details["removal_reason"] == "expired"


def test_expiry_counts_from_the_last_corroborating_report(app, client, keys, operators):
    """A later report by anyone keeps the listing alive for another full TTL."""
    regulator = keys["regulator"]
    old = utcnow() - timedelta(days=59)
    ref = submit(client, regulator, report("8123 4567", observed=old, verified=True))
    submit(client, operators[0], report("8123 4567", observed=utcnow() - timedelta(days=5)))
    assert expire(app, old + timedelta(days=61)) == 0
    assert indicator(client, regulator, ref["id"])["status"] == "listed"
    assert expire(app, utcnow() + timedelta(days=56)) == 1


def test_each_kind_has_its_own_ttl(app, client, keys):
    """A URL lapses after 14 days while a phone number of the same age stays listed."""
    regulator = keys["regulator"]
    observed = utcnow() - timedelta(days=13)
    url_report = report(
        "https://pay-parcel-fee.com/pay", kind="url", observed=observed, verified=True
    )
    url = submit(client, regulator, url_report)
    phone = submit(client, regulator, report("8123 4567", observed=observed, verified=True))
    assert expire(app, utcnow() + timedelta(days=2)) == 1
    assert indicator(client, regulator, url["id"])["status"] == "expired"
    assert indicator(client, regulator, phone["id"])["status"] == "listed"


def test_a_disputed_listing_expires_too(app, client, keys):
    """An appeal does not keep a listing alive past its TTL."""
    regulator = keys["regulator"]
    observed = utcnow() - timedelta(days=59)
    ref = submit(client, regulator, report("8123 4567", observed=observed, verified=True))
    filed = client.post(
        "/api/v1/appeals",
        json={"value": "8123 4567", "reason": "new holder", "contact_ref": "T-1"},
        headers=keys["operator"].headers,
    )
    assert filed.status_code == 201, filed.json
    assert expire(app, utcnow() + timedelta(days=2)) == 1
    assert indicator(client, regulator, ref["id"])["status"] == "expired"


def test_the_sweep_walks_every_due_listing_in_chunks(app, client, keys, monkeypatch):
    """More due listings than one chunk holds are all expired in one run."""
    monkeypatch.setattr(lifecycle, "CHUNK", 2)
    regulator = keys["regulator"]
    observed = utcnow() - timedelta(days=59)
    numbers = [f"8123 456{n}" for n in range(5)]
    response = client.post(
        "/api/v1/reports",
        json={"reports": [report(n, observed=observed, verified=True) for n in numbers]},
        headers=regulator.headers,
    )
    assert [r["indicator"]["status"] for r in response.json["reports"]] == ["listed"] * 5
    assert expire(app, utcnow() + timedelta(days=2)) == 5


def test_a_new_report_lists_an_expired_value_again_under_the_normal_rule(
    app, client, keys, operators
):
    """After expiry one unverified report is not enough; three organisations are."""
    regulator = keys["regulator"]
    then = utcnow() - timedelta(days=70)
    for operator in operators:
        ref = submit_at(app, operator, then, report("8123 4567", observed=then))
    assert ref["status"] == "listed"
    assert expire(app, utcnow()) == 1

    assert submit(client, operators[0], report("8123 4567"))["status"] == "expired"
    assert submit(client, operators[1], report("8123 4567"))["status"] == "expired"
    again = submit(client, operators[2], report("8123 4567"))
    assert again["status"] == "listed"
    shown = indicator(client, regulator, ref["id"])
    assert shown["removal_reason"] is None
    assert [e["to_status"] for e in shown["history"]] == ["listed", "expired", "listed"]


def test_a_verified_report_lists_an_expired_value_at_once(app, client, keys, operators):
    """The verified rule applies after expiry as before it."""
    then = utcnow() - timedelta(days=70)
    for operator in operators:
        ref = submit_at(app, operator, then, report("8123 4567", observed=then))
    assert expire(app, utcnow()) == 1
    again = submit(client, keys["law_enforcement"], report("8123 4567", verified=True))
    assert (again["id"], again["status"]) == (ref["id"], "listed")


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    """Run a scamshare command on the test database; environment overrides per call."""
    from click.testing import CliRunner

    from scamshare.cli import main

    monkeypatch.setenv("SCAMSHARE_DATABASE_URL", database_url)
    monkeypatch.setenv("SCAMSHARE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCAMSHARE_COUNTRY", "SG")

    def invoke(*args: str, **env: str):
        """Invoke one command line and insist that it succeeded."""
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return invoke


def test_expire_command_prints_how_many_expired(app, client, keys, operators, run):
    """`scamshare expire` ends due listings and says how many, audited to the local user."""
    then = utcnow() - timedelta(days=70)
    for operator in operators:
        ref = submit_at(app, operator, then, report("8123 4567", observed=then))
    submit(client, keys["regulator"], report("8123 9999", verified=True))
    assert run("expire").output.strip() == "1 expired"
    assert run("expire").output.strip() == "0 expired"
    history = indicator(client, keys["regulator"], ref["id"])["history"]
    assert history[-1]["to_status"] == "expired"
    with db.transaction(app) as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "indicator.expired")
        ).all()
        assert entry.organisation_name.startswith("cli:")


def test_a_shortened_ttl_takes_effect_at_the_next_sweep(client, keys, run):
    """The sweep reads the TTL of its own run, not the expiry stamped at listing time."""
    ref = submit(
        client,
        keys["regulator"],
        report("8123 4567", observed=utcnow() - timedelta(days=10), verified=True),
    )
    assert run("expire").output.strip() == "0 expired"
    assert run("expire", SCAMSHARE_TTL_DAYS="phone=5").output.strip() == "1 expired"
    assert indicator(client, keys["regulator"], ref["id"])["status"] == "expired"
