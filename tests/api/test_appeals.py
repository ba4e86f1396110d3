"""Appeals: a listing disputed on behalf of its holder, then upheld or delisted by a regulator.

Longer than most test modules: every step of an appeal's lifecycle is tested here, in order.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from scamshare import db
from scamshare.auth import Caller
from scamshare.clock import utcnow
from scamshare.models import AuditEntry, Indicator
from scamshare.services import appeals as appeals_service
from scamshare.services import reports as reports_service
from scamshare.services.audit import Actor
from tests.conftest import Credential, make_credential
from tests.reporting import report, submit

NUMBER = "8123 4567"


def file(client, credential: Credential, value: str = NUMBER, **extra):
    """File an appeal through the API and return the response."""
    body = {
        "value": value,
        "reason": extra.pop("reason", "The holder got this number last month."),
        "contact_ref": extra.pop("contact_ref", "TICKET-1"),
        **extra,
    }
    return client.post("/api/v1/appeals", json=body, headers=credential.headers)


def resolve(client, credential: Credential, appeal_id, outcome: str, note: str | None = None):
    """Resolve an appeal through the API and return the response."""
    body = {"outcome": outcome, **({"note": note} if note is not None else {})}
    return client.post(
        f"/api/v1/appeals/{appeal_id}/resolve", json=body, headers=credential.headers
    )


def appeals(client, credential: Credential, **query) -> dict:
    """One page of appeals as a credential sees them."""
    response = client.get("/api/v1/appeals", query_string=query, headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


def indicator(client, credential: Credential, indicator_id: int) -> dict:
    """One indicator with its history."""
    response = client.get(f"/api/v1/indicators/{indicator_id}", headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


def listed(client, keys, value: str = NUMBER, kind: str = "phone") -> dict:
    """List a value with a verified regulator report."""
    ref = submit(client, keys["regulator"], report(value, kind=kind, verified=True))
    assert ref["status"] == "listed"
    return ref


def caller(credential: Credential) -> Caller:
    """The caller of a credential, for the services."""
    return Caller(credential.organisation_id, credential.name, credential.role, "SG", "k")


def actor(credential: Credential) -> Actor:
    """The audit actor of a credential, for the services."""
    return Actor(credential.organisation_id, credential.name, credential.key_id)


@pytest.fixture
def operators(app) -> list[Credential]:
    """Three independent operators of this node."""
    return [make_credential(app, "operator", f"Operator {n}") for n in range(3)]


# --- filing -----------------------------------------------------------------------------------


def test_an_operator_appeals_a_listing_which_becomes_disputed(app, client, keys, operators):
    """The listing stays visible to operators, marked disputed, with a new sequence value."""
    ref = listed(client, keys)
    before = indicator(client, keys["regulator"], ref["id"])
    response = file(client, keys["operator"], "+65 8123-4567")
    assert response.status_code == 201, response.json
    appeal = response.json
    assert appeal["status"] == "open"
    assert appeal["indicator"] == {**ref, "status": "disputed"}
    assert appeal["filed_by"] == keys["operator"].name
    assert (appeal["age_days"], appeal["overdue"]) == (0.0, False)
    assert appeal["resolved_at"] is None

    shown = indicator(client, operators[0], ref["id"])
    assert shown["status"] == "disputed"
    assert shown["removal_reason"] is None
    assert shown["sequence"] > before["sequence"]
    assert shown["history"][-1]["reason"] == f"appeal {appeal['id']} filed"
    # Another operator's report of the number sees it disputed, and keeps it so.
    assert submit(client, operators[0], report())["status"] == "disputed"
    with db.transaction(app) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "indicator.disputed")
        ).one()
        assert (entry.organisation_name, entry.key_id) == (
            keys["operator"].name,
            keys["operator"].key_id,
        )
        assert entry.details["reason"] == f"appeal {appeal['id']} filed"


def test_a_regulator_may_appeal_too_and_any_kind_can_be_appealed(client, keys):
    """The kind defaults to phone; other kinds are named."""
    ref = listed(client, keys, "https://shop-deals.com/deal", kind="url")
    response = file(client, keys["regulator"], "HTTPS://SHOP-DEALS.COM/deal", kind="url")
    assert response.status_code == 201, response.json
    assert response.json["indicator"]["id"] == ref["id"]


def test_appealing_a_value_that_is_not_listed_is_a_conflict(client, keys):
    """Unknown, merely reported and already disputed values each get a clear code."""
    never = file(client, keys["operator"], "9123 4567")
    assert never.status_code == 409
    assert never.json["code"] == "not_listed"
    assert "never reported" in never.json["detail"]

    submit(client, keys["operator"], report("9123 4567"))
    reported = file(client, keys["operator"], "9123 4567")
    assert reported.status_code == 409
    assert reported.json["code"] == "not_listed"
    assert "reported" in reported.json["detail"]

    listed(client, keys)
    first = file(client, keys["operator"]).json
    again = file(client, keys["operator"])
    assert again.status_code == 409
    assert again.json["code"] == "already_disputed"
    assert again.json["appeal_id"] == first["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": NUMBER, "contact_ref": "T-1"}, "reason"),
        ({"value": NUMBER, "reason": "x"}, "contact_ref"),
        ({"value": "not a number", "reason": "x", "contact_ref": "T-1"}, "value"),
        ({"value": NUMBER, "kind": "fax", "reason": "x", "contact_ref": "T-1"}, "kind"),
        ({"value": NUMBER, "region": "ZZ", "reason": "x", "contact_ref": "T-1"}, "region"),
        ({"value": NUMBER, "reason": "a\x00b", "contact_ref": "T-1"}, "reason"),
    ],
)
def test_an_invalid_appeal_is_422_naming_the_field(client, keys, body, field):
    """Missing and invalid fields are named."""
    listed(client, keys)
    response = client.post("/api/v1/appeals", json=body, headers=keys["operator"].headers)
    assert response.status_code == 422, response.json
    assert field in [error["field"] for error in response.json["errors"]]


# --- resolving --------------------------------------------------------------------------------


def test_an_upheld_appeal_lists_the_value_again(app, client, keys):
    """The listing returns as it was, its listing time unchanged, the note kept in the history."""
    ref = listed(client, keys)
    listed_at = indicator(client, keys["regulator"], ref["id"])["listed_at"]
    appeal = file(client, keys["operator"]).json
    response = resolve(client, keys["regulator"], appeal["id"], "upheld", "Police confirm.")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "upheld"
    assert response.json["resolved_by"] == keys["regulator"].name
    assert response.json["resolution_note"] == "Police confirm."
    assert response.json["indicator"]["status"] == "listed"

    shown = indicator(client, keys["regulator"], ref["id"])
    assert shown["status"] == "listed"
    assert shown["listed_at"] == listed_at
    assert shown["history"][-1]["reason"] == f"appeal {appeal['id']} upheld: Police confirm."
    with db.transaction(app) as session:
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "indicator.listed")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry.organisation_name == keys["regulator"].name
        assert entry.details["from"] == "disputed"


def test_a_delisted_appeal_removes_the_listing(app, client, keys):
    """Status delisted, removal reason delisted, delisted_at set."""
    ref = listed(client, keys)
    appeal = file(client, keys["operator"]).json
    response = resolve(client, keys["regulator"], appeal["id"], "delisted")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "delisted"
    assert response.json["indicator"]["status"] == "delisted"
    shown = indicator(client, keys["regulator"], ref["id"])
    assert shown["status"] == "delisted"
    assert shown["removal_reason"] == "delisted"
    assert shown["delisted_at"] is not None
    assert shown["expires_at"] is None
    with db.transaction(app) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "indicator.delisted")
        ).one()
        assert entry.organisation_name == keys["regulator"].name
        assert entry.details["removal_reason"] == "delisted"


def test_resolving_a_resolved_appeal_is_a_conflict(client, keys):
    """An appeal is decided once."""
    listed(client, keys)
    appeal = file(client, keys["operator"]).json
    assert resolve(client, keys["regulator"], appeal["id"], "upheld").status_code == 200
    again = resolve(client, keys["regulator"], appeal["id"], "delisted")
    assert again.status_code == 409
    assert again.json["code"] == "appeal_resolved"
    assert "upheld" in again.json["detail"]


def test_resolving_needs_a_known_appeal_a_valid_outcome_and_a_regulator(client, keys):
    """Unknown ids are 404, bad outcomes 422, operators 403."""
    listed(client, keys)
    appeal = file(client, keys["operator"]).json
    for raw in ("424242", "abc", "9" * 30):
        assert resolve(client, keys["regulator"], raw, "upheld").status_code == 404
    bad = resolve(client, keys["regulator"], appeal["id"], "maybe")
    assert bad.status_code == 422
    assert bad.json["errors"][0]["field"] == "outcome"
    assert resolve(client, keys["operator"], appeal["id"], "delisted").status_code == 403


# --- the cool-down after delisting ------------------------------------------------------------


def test_a_delisted_value_needs_a_verified_report_during_the_cool_down(
    app, client, keys, operators
):
    """Three organisations' unverified reports do not list it again; a verified report does."""
    ref = listed(client, keys)
    appeal = file(client, keys["operator"]).json
    resolve(client, keys["regulator"], appeal["id"], "delisted")
    for operator in operators:
        assert submit(client, operator, report())["status"] == "delisted"
    shown = indicator(client, keys["regulator"], ref["id"])
    assert (shown["status"], shown["org_count"]) == ("delisted", 4)

    # Only a verified report observed after the delisting counts.
    late = submit(client, keys["law_enforcement"], report(verified=True))
    assert late["status"] == "delisted"
    again = submit(client, keys["law_enforcement"], report(observed=utcnow(), verified=True))
    assert again["status"] == "listed"


def test_after_the_cool_down_the_normal_rule_applies_again(app, client, keys, operators):
    """Delisted 31 days ago: one unverified report does not list it, three organisations do."""
    regulator = keys["regulator"]
    policy = app.extensions["scamshare.policy"]
    then = utcnow() - timedelta(days=31)
    with db.transaction(app) as session:
        reports_service.submit(
            session,
            [report(observed=then - timedelta(days=1), verified=True)],
            caller(regulator),
            policy=policy,
            now=then,
            atomic=True,
        )
        appeal = appeals_service.file(
            session,
            policy,
            actor(keys["operator"]),
            appeals_service.Filing("phone", NUMBER, "new holder", "T-1", "SG"),
            then,
        )
        appeals_service.resolve(
            session,
            policy,
            actor(regulator),
            appeal["id"],
            appeals_service.Decision("delisted"),
            then,
        )
    assert submit(client, operators[0], report())["status"] == "delisted"
    submit(client, operators[1], report())
    assert submit(client, operators[2], report())["status"] == "listed"
    with db.transaction(app) as session:
        stored = session.get(Indicator, appeal["indicator"]["id"])
        assert stored.delisted_at == then
        assert stored.removal_reason is None


# --- reading ----------------------------------------------------------------------------------


def test_operators_see_their_own_appeals_and_regulators_see_all(app, client, keys, operators):
    """Each operator sees only what it filed; the regulator sees both, newest first."""
    listed(client, keys, "8123 4567")
    listed(client, keys, "8123 4568")
    first = file(client, operators[0], "8123 4567").json
    second = file(client, operators[1], "8123 4568").json
    assert [a["id"] for a in appeals(client, operators[0])["items"]] == [first["id"]]
    assert [a["id"] for a in appeals(client, operators[1])["items"]] == [second["id"]]
    assert appeals(client, operators[2])["items"] == []
    everything = appeals(client, keys["regulator"])["items"]
    assert [a["id"] for a in everything] == [second["id"], first["id"]]
    assert everything[1]["filed_by"] == operators[0].name
    assert client.get("/api/v1/appeals", headers=keys["law_enforcement"].headers).status_code == 403


def test_appeals_open_longer_than_five_days_are_flagged_overdue(app, client, keys):
    """Age is shown in days; open appeals older than the deadline are overdue and filterable."""
    policy = app.extensions["scamshare.policy"]
    listed(client, keys, "8123 4567")
    listed(client, keys, "8123 4568")
    listed(client, keys, "8123 4569")
    with db.transaction(app) as session:
        old = appeals_service.file(
            session,
            policy,
            actor(keys["operator"]),
            appeals_service.Filing("phone", "8123 4567", "new holder", "T-1", "SG"),
            utcnow() - timedelta(days=6),
        )
        decided = appeals_service.file(
            session,
            policy,
            actor(keys["operator"]),
            appeals_service.Filing("phone", "8123 4569", "new holder", "T-3", "SG"),
            utcnow() - timedelta(days=9),
        )
        appeals_service.resolve(
            session,
            policy,
            actor(keys["regulator"]),
            decided["id"],
            appeals_service.Decision("upheld"),
            utcnow() - timedelta(days=7),
        )
    fresh = file(client, keys["operator"], "8123 4568").json

    page = {a["id"]: a for a in appeals(client, keys["regulator"])["items"]}
    assert (page[old["id"]]["overdue"], round(page[old["id"]]["age_days"])) == (True, 6)
    assert (page[fresh["id"]]["overdue"], page[fresh["id"]]["age_days"]) == (False, 0.0)
    assert (page[decided["id"]]["overdue"], page[decided["id"]]["age_days"]) == (False, 2.0)
    overdue = appeals(client, keys["regulator"], overdue="true")["items"]
    assert [a["id"] for a in overdue] == [old["id"]]
    on_time = appeals(client, keys["operator"], overdue="false")["items"]
    assert {a["id"] for a in on_time} == {fresh["id"], decided["id"]}
    open_ones = appeals(client, keys["operator"], status="open")["items"]
    assert {a["id"] for a in open_ones} == {fresh["id"], old["id"]}


def test_appeals_page_with_a_cursor(client, keys):
    """`next` walks every appeal once, newest first."""
    numbers = [f"8123 456{n}" for n in range(5)]
    for number in numbers:
        listed(client, keys, number)
    filed = [file(client, keys["operator"], number).json["id"] for number in numbers]
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"before": cursor} if cursor else {})}
        page = appeals(client, keys["operator"], **query)
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == list(reversed(filed))
