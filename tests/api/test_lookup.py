"""Looking values up: one or a thousand, unknown values, 422 reasons, and counting."""

from __future__ import annotations

import functools

import pytest

from scamshare import db
from scamshare.clock import utcnow
from scamshare.services.lookup import lookups_on
from tests import reporting
from tests.conftest import make_credential

report = functools.partial(reporting.report, channel="sms")


def lookup(client, credential, **query):
    """GET one lookup."""
    return client.get("/api/v1/lookup", query_string=query, headers=credential.headers)


def test_a_listed_number_is_found_in_the_callers_national_format(client, keys):
    """A national number reads in the caller's country and returns everything operators need."""
    client.post(
        "/api/v1/reports",
        json=report("+65 8123 4567", verified=True),
        headers=keys["regulator"].headers,
    )
    response = lookup(client, keys["operator"], value="8123 4567")
    assert response.status_code == 200
    body = response.json
    assert (body["kind"], body["value"], body["status"]) == ("phone", "+6581234567", "listed")
    assert body["listed"] is True and body["disputed"] is False
    assert body["risk"] == "high" and body["categories"] == ["investment"]
    assert body["counts"] == {
        "reports": 1,
        "organisations": 1,
        "countries": 1,
        "categories": {"investment": 1},
    }
    assert body["first_reported"] and body["last_reported"] and body["expires_at"]
    [origin] = body["origins"]
    assert (origin["country"], origin["policy"], origin["status"]) == ("SG", "block", "listed")
    assert (origin["report_count"], origin["org_count"], origin["categories"]) == (
        1,
        1,
        ["investment"],
    )
    assert origin["expires_at"] == body["expires_at"]


def test_the_callers_country_decides_how_a_national_number_reads(app, client, keys):
    """A Malaysian operator's 012-345 6789 is +60123456789."""
    malaysian = make_credential(app, "operator", name="Maxis", country="MY")
    response = lookup(client, malaysian, value="012-345 6789")
    assert response.json["value"] == "+60123456789"


def test_a_value_never_seen_is_unknown_with_200(client, keys):
    """Unknown is an answer, not an error."""
    response = lookup(
        client, keys["law_enforcement"], value="http://never-seen.example.com/x", kind="url"
    )
    assert response.status_code == 200
    assert (response.json["status"], response.json["listed"], response.json["risk"]) == (
        "unknown",
        False,
        None,
    )
    assert response.json["value"] == "never-seen.example.com/x"


def test_a_disputed_listing_shows_its_dispute(client, keys):
    """An appealed listing is disputed, and still on the list."""
    client.post(
        "/api/v1/reports",
        json=report("+65 8123 4567", verified=True),
        headers=keys["regulator"].headers,
    )
    client.post(
        "/api/v1/appeals",
        json={"value": "+65 8123 4567", "reason": "not mine", "contact_ref": "c-1"},
        headers=keys["operator"].headers,
    )
    body = lookup(client, keys["operator"], value="+6581234567").json
    assert (body["status"], body["disputed"], body["listed"]) == ("disputed", True, True)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"value": "not a number"}, "not_a_number"),
        ({"value": "12"}, "too_short"),
        ({"value": "ftp://x.example", "kind": "url"}, "unsupported_scheme"),
    ],
)
def test_a_value_that_cannot_be_normalised_is_422_naming_the_reason(client, keys, query, reason):
    """The problem names the field and the normaliser's reason."""
    response = lookup(client, keys["operator"], **query)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "value"
    assert response.json["errors"][0]["reason"] == reason


def test_a_batch_answers_in_order_with_each_input(client, keys):
    """POST takes many values of several kinds and answers each, in the order asked."""
    client.post(
        "/api/v1/reports",
        json={"reports": [report("DBS-BANK", kind="sender_id", verified=True)]},
        headers=keys["regulator"].headers,
    )
    values = [
        {"value": "dbs-bank", "kind": "sender_id"},
        {"value": "8123 4567"},
        {"value": "dbs-bank", "kind": "sender_id"},
    ]
    response = client.post(
        "/api/v1/lookup", json={"values": values}, headers=keys["operator"].headers
    )
    assert response.status_code == 200
    items = response.json["items"]
    assert [(i["input"], i["value"], i["status"]) for i in items] == [
        ("dbs-bank", "DBS-BANK", "listed"),
        ("8123 4567", "+6581234567", "unknown"),
        ("dbs-bank", "DBS-BANK", "listed"),
    ]


def test_a_batch_answers_a_value_it_cannot_read_with_its_error_and_the_rest_in_full(client, keys):
    """One junk value costs only its own answer: its item names the field and the reason."""
    client.post(
        "/api/v1/reports",
        json=report("+65 8123 4567", verified=True),
        headers=keys["regulator"].headers,
    )
    values = [{"value": "8123 4567"}, {"value": "xyz"}, {"value": "12"}, {"value": "9123 4567"}]
    response = client.post(
        "/api/v1/lookup", json={"values": values}, headers=keys["operator"].headers
    )
    assert response.status_code == 200
    items = response.json["items"]
    assert [(i["input"], i.get("status")) for i in items] == [
        ("8123 4567", "listed"),
        ("xyz", None),
        ("12", None),
        ("9123 4567", "unknown"),
    ]
    assert [(i["error"]["field"], i["error"]["reason"]) for i in items[1:3]] == [
        ("values.1.value", "not_a_number"),
        ("values.2.value", "too_short"),
    ]
    assert all(i["error"]["message"] for i in items[1:3])
    assert "error" not in items[0] and "error" not in items[3]


@pytest.mark.parametrize(
    "body",
    [
        {"values": "8123 4567"},
        {"values": [{"kind": "phone"}]},
        {"values": [{"value": "8123 4567", "kind": "fax"}]},
        {"items": []},
    ],
)
def test_only_a_malformed_batch_body_is_422(client, keys, body):
    """A body that is not a list of values (or names no kind the node knows) is refused whole."""
    response = client.post("/api/v1/lookup", json=body, headers=keys["operator"].headers)
    assert response.status_code == 422
    assert response.json["errors"]


def test_a_batch_holds_at_most_a_thousand_values(client, keys):
    """1,001 values are refused before any is read."""
    values = [{"value": "8123 4567"}] * 1001
    response = client.post(
        "/api/v1/lookup", json={"values": values}, headers=keys["operator"].headers
    )
    assert response.status_code == 422


def test_lookups_are_counted_in_batches_not_logged_one_by_one(app, client, keys):
    """Counts reach the daily counter and one audit entry per organisation per flush."""
    for _ in range(3):
        lookup(client, keys["operator"], value="8123 4567")
    with db.transaction(app) as session:
        assert lookups_on(session, utcnow()) == 0  # still in memory: not one write per lookup
    app.config["LOOKUP_COUNT_SECONDS"] = 0
    app.extensions["scamshare.lookup_tally"].interval = 0
    client.post(
        "/api/v1/lookup",
        json={"values": [{"value": "8123 4567"}] * 2},
        headers=keys["law_enforcement"].headers,
    )
    with db.transaction(app) as session:
        assert lookups_on(session, utcnow()) == 4
    entries = client.get(
        "/api/v1/audit?action=lookup.count", headers=keys["regulator"].headers
    ).json["items"]
    counted = {e["organisation"]: e["details"] for e in entries}
    assert counted == {
        keys["operator"].name: {"lookups": 3, "values": 3},
        keys["law_enforcement"].name: {"lookups": 1, "values": 2},
    }


@pytest.mark.parametrize("role", ["peer_node", "admin"])
def test_roles_without_lookup_permission_are_refused(client, keys, role):
    """Only regulators, law enforcement and operators look up."""
    assert lookup(client, keys[role], value="8123 4567").status_code == 403
