"""The audit log: every state change is recorded, readable with filters and keyset pages."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from scamshare import db


def entries(client, credential, **query):
    """Return the audit entries a regulator sees for a query."""
    response = client.get("/api/v1/audit", query_string=query, headers=credential.headers)
    assert response.status_code == 200, response.json
    return response.json


def test_api_state_changes_are_audited_with_who_and_what(client, keys):
    """Creating an organisation, issuing and revoking a key each leave an entry."""
    regulator = keys["regulator"]
    client.post(
        "/api/v1/organisations",
        json={"name": "Acme Mobile", "role": "operator", "country": "SG"},
        headers=regulator.headers,
    )
    issued = client.post(
        "/api/v1/keys", json={"organisation": "Acme Mobile"}, headers=regulator.headers
    ).json
    client.delete(f"/api/v1/keys/{issued['key_id']}", headers=regulator.headers)

    items = entries(client, regulator, organisation=regulator.name)["items"]
    actions = [(item["action"], item["outcome"]) for item in items]
    assert actions == [("key.revoke", "ok"), ("key.create", "ok"), ("org.create", "ok")]
    for item in items:
        assert item["key_id"] == regulator.key_id
        assert item["at"].endswith("+00:00")
    assert items[0]["target"] == f"key:{issued['key_id']}"
    assert items[2]["details"] == {"name": "Acme Mobile", "role": "operator", "country": "SG"}


def test_refused_state_changes_are_audited_with_their_outcome(client, keys):
    """A wrong role and an invalid body are recorded as denied and rejected."""
    client.post(
        "/api/v1/organisations",
        json={"name": "X", "role": "operator", "country": "SG"},
        headers=keys["operator"].headers,
    )
    client.post("/api/v1/organisations", json={}, headers=keys["regulator"].headers)
    client.post(
        "/api/v1/organisations",
        json={"name": "X", "role": "operator", "country": "SG"},
        headers={"Authorization": "Bearer ss.kdeadbeef0000.nope"},
    )
    items = entries(client, keys["admin"], action="org.create")["items"]
    refused = [item for item in items if item["outcome"] != "ok"]
    outcomes = [(i["organisation"], i["outcome"], i["details"]["code"]) for i in refused]
    assert outcomes == [
        (None, "denied", "invalid_key"),
        (keys["regulator"].name, "rejected", "validation_failed"),
        (keys["operator"].name, "denied", "forbidden"),
    ]


def test_keyset_pagination_walks_every_entry_once(client, keys):
    """Pages follow the `next` cursor, newest first, with no gaps or repeats."""
    regulator = keys["regulator"]
    for number in range(7):
        client.post(
            "/api/v1/organisations",
            json={"name": f"Org {number}", "role": "operator", "country": "SG"},
            headers=regulator.headers,
        )
    seen, cursor = [], None
    while True:
        query = {"action": "org.create", "organisation": regulator.name, "limit": 3}
        if cursor:
            query["before"] = cursor
        page = entries(client, regulator, **query)
        seen.extend(item["details"]["name"] for item in page["items"])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"Org {n}" for n in reversed(range(7))]


def test_action_prefix_and_outcome_filters(client, keys):
    """A trailing dot selects a family of actions; outcome filters too."""
    regulator = keys["regulator"]
    client.post("/api/v1/keys", json={"organisation": regulator.name}, headers=regulator.headers)
    client.delete("/api/v1/keys/knothere", headers=regulator.headers)
    family = entries(client, regulator, action="key.", organisation=regulator.name)["items"]
    assert {item["action"] for item in family} == {"key.create", "key.revoke"}
    rejected = entries(client, regulator, outcome="rejected")["items"]
    assert [item["action"] for item in rejected] == ["key.revoke"]


def test_audit_log_is_append_only_in_the_database(app, keys):
    """The database itself refuses to change or delete an audit entry."""
    for statement in ("UPDATE audit_log SET outcome = 'ok'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), db.transaction(app) as session:
            session.execute(text(statement))
