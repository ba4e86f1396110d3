"""Disconnection notices: a recycled number's next holder must not inherit its listing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from scamshare import db
from scamshare.clock import utcnow
from scamshare.models import AuditEntry, Disconnection, Indicator
from tests.conftest import Credential, make_credential
from tests.reporting import report, submit


def disconnect(client, credential: Credential, body: dict):
    """POST a disconnection notice (or a batch) and return the response."""
    return client.post("/api/v1/disconnections", json=body, headers=credential.headers)


def indicator(client, credential: Credential, indicator_id: int) -> dict:
    """One indicator with its history."""
    response = client.get(f"/api/v1/indicators/{indicator_id}", headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


def days_ago(days: int) -> date:
    """A calendar day in the past (UTC)."""
    return (utcnow() - timedelta(days=days)).date()


@pytest.fixture
def operators(app) -> list[Credential]:
    """Three independent operators of this node."""
    return [make_credential(app, "operator", f"Operator {n}") for n in range(3)]


def test_a_disconnection_ends_a_listing_reported_before_it(app, client, keys):
    """The listing ends as expired with reason disconnected, stamped and audited to the operator."""
    regulator, operator = keys["regulator"], keys["operator"]
    ref = submit(client, regulator, report("8123 4567", days_ago=5, verified=True))
    assert ref["status"] == "listed"
    listed = indicator(client, regulator, ref["id"])

    day = days_ago(1)
    response = disconnect(client, operator, {"number": "8123 4567", "disconnected_on": str(day)})
    assert response.status_code == 200, response.json
    [result] = response.json["disconnections"]
    assert result["number"] == "+6581234567"
    assert result["disconnected_on"] == day.isoformat()
    assert result["listings_ended"] == 1
    assert response.json["listings_ended"] == 1

    after = indicator(client, regulator, ref["id"])
    assert after["status"] == "expired"
    assert after["removal_reason"] == "disconnected"
    assert after["sequence"] > listed["sequence"]
    event = after["history"][-1]
    assert (event["from_status"], event["to_status"]) == ("listed", "expired")
    assert event["reason"] == f"disconnected on {day.isoformat()}"
    with db.transaction(app) as session:
        stored = session.get(Indicator, ref["id"])
        assert stored.reset_at == datetime.combine(day, time.min, tzinfo=UTC)
        [notice] = session.scalars(select(Disconnection)).all()
        assert (notice.number, notice.organisation_id) == ("+6581234567", operator.organisation_id)
        assert notice.listings_ended == 1
        entries = {
            entry.action: entry
            for entry in session.scalars(
                select(AuditEntry).where(AuditEntry.organisation_name == operator.name)
            )
        }
    assert entries["indicator.expired"].details["removal_reason"] == "disconnected"
    assert entries["indicator.expired"].details["reason"] == f"disconnected on {day.isoformat()}"
    assert entries["indicator.expired"].key_id == operator.key_id
    assert entries["disconnections.submit"].details == {"received": 1, "listings_ended": 1}


def test_the_next_holder_of_a_recycled_number_is_not_blocked(app, client, keys, operators):
    """The old holder's reports, verified ones too, no longer count after the disconnection."""
    regulator = keys["regulator"]
    ref = submit(client, regulator, report("8123 4567", days_ago=20, verified=True))
    for operator in operators[:2]:
        submit(client, operator, report("8123 4567", days_ago=15))
    response = disconnect(
        client, keys["operator"], {"number": "+6581234567", "disconnected_on": str(days_ago(10))}
    )
    assert response.json["listings_ended"] == 1

    # One unverified report about the new holder does not bring the old listing back.
    assert submit(client, operators[0], report("8123 4567"))["status"] == "expired"
    shown = indicator(client, regulator, ref["id"])
    assert (shown["org_count"], shown["risk"]) == (1, "low")
    # Three organisations reporting the new holder list it again, under the normal rule.
    submit(client, operators[1], report("8123 4567"))
    assert submit(client, operators[2], report("8123 4567"))["status"] == "listed"


def test_a_listing_reported_after_the_disconnection_day_stays(app, client, keys):
    """Reports made after the number was disconnected are about its new holder."""
    regulator = keys["regulator"]
    ref = submit(client, regulator, report("8123 4567", days_ago=1, verified=True))
    response = disconnect(
        client, keys["operator"], {"number": "8123 4567", "disconnected_on": str(days_ago(30))}
    )
    assert response.json["disconnections"][0]["listings_ended"] == 0
    assert indicator(client, regulator, ref["id"])["status"] == "listed"


def test_a_batch_says_per_number_how_many_listings_ended(app, client, keys, operators):
    """Listed, merely reported and unknown numbers each get their own outcome."""
    regulator = keys["regulator"]
    submit(client, regulator, report("8123 4567", days_ago=5, verified=True))
    reported = submit(client, operators[0], report("8123 4568", days_ago=5))
    assert reported["status"] == "reported"
    day = str(days_ago(1))
    response = disconnect(
        client,
        keys["regulator"],
        {
            "disconnections": [
                {"number": "8123 4567", "disconnected_on": day},
                {"number": "+65 8123 4568", "disconnected_on": day},
                {"number": "9123 4569", "disconnected_on": day},
                {"number": "+60 12-345 6789", "disconnected_on": day},
            ]
        },
    )
    assert response.status_code == 200, response.json
    assert [(d["number"], d["listings_ended"]) for d in response.json["disconnections"]] == [
        ("+6581234567", 1),
        ("+6581234568", 0),
        ("+6591234569", 0),
        ("+60123456789", 0),
    ]
    assert response.json["listings_ended"] == 1
    with db.transaction(app) as session:
        assert session.scalar(select(func.count()).select_from(Disconnection)) == 4
        # A reported number's old reports stop counting too.
        assert session.get(Indicator, reported["id"]).org_count == 0


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"number": "not a number", "disconnected_on": "2026-01-05"}, "number", "not_a_number"),
        ({"number": "999", "disconnected_on": "2026-01-05"}, "number", "short_code"),
        ({"number": "8123 4567", "disconnected_on": "2099-01-01"}, "disconnected_on", "in_future"),
        ({"number": "8123 4567", "disconnected_on": "5 Jan"}, "disconnected_on", "invalid_type"),
        ({"number": "8123 4567"}, "disconnected_on", "required"),
        ({"disconnected_on": "2026-01-05"}, "number", "required"),
        (
            {
                "disconnections": [
                    {"number": "8123 4567", "disconnected_on": "2026-01-05"},
                    {"number": "12", "disconnected_on": "2026-01-05"},
                ]
            },
            "disconnections.1.number",
            "too_short",
        ),
        (
            {"disconnections": [{"number": "8123 4567"}]},
            "disconnections.0.disconnected_on",
            "required",
        ),
        (
            {
                "number": "8123 4567",
                "disconnections": [{"number": "8123 4567", "disconnected_on": "2026-01-05"}],
            },
            "number",
            "invalid",
        ),
    ],
)
def test_invalid_notices_are_422_naming_the_field_and_nothing_is_stored(
    app, client, keys, body, field, reason
):
    """Every refused number or date is named; a batch with one bad notice stores none."""
    response = disconnect(client, keys["operator"], body)
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_failed"
    assert (field, reason) in [(e["field"], e["reason"]) for e in response.json["errors"]]
    with db.transaction(app) as session:
        assert session.scalar(select(func.count()).select_from(Disconnection)) == 0


def test_only_operators_and_regulators_post_disconnections(client, keys):
    """Law enforcement, peers and admins are refused by the role matrix."""
    body = {"number": "8123 4567", "disconnected_on": str(days_ago(1))}
    for role in ("law_enforcement", "peer_node", "admin"):
        assert disconnect(client, keys[role], body).status_code == 403
    for role in ("operator", "regulator"):
        assert disconnect(client, keys[role], body).status_code == 200
