"""No role grants itself more than it holds: a regulator cannot make admins or peers."""

from __future__ import annotations

from tests.conftest import make_credential
from tests.hostile.conftest import stored


def test_a_regulator_cannot_create_organisations_outside_its_remit(app, client, keys):
    """Admin and peer-node organisations, and other countries', are for admins."""
    for role, country in (
        ("admin", "SG"),
        ("peer_node", "SG"),
        ("operator", "MY"),
        ("regulator", "TH"),
    ):
        before = stored(app)
        body = {"name": f"Mine now {role} {country}", "role": role, "country": country}
        response = client.post(
            "/api/v1/organisations", json=body, headers=keys["regulator"].headers
        )
        assert response.status_code == 403, response.json
        assert response.json["code"] == "forbidden"
        assert "orgs.manage_all" in response.json["detail"]
        assert stored(app) == before
        by_admin = client.post("/api/v1/organisations", json=body, headers=keys["admin"].headers)
        assert by_admin.status_code == 201


def test_a_regulator_manages_its_own_countrys_organisations_and_their_keys(client, keys):
    """Within its remit a regulator creates organisations, issues and revokes their keys."""
    regulator = keys["regulator"].headers
    for role in ("regulator", "law_enforcement", "operator"):
        body = {"name": f"New {role}", "role": role, "country": "SG"}
        assert client.post("/api/v1/organisations", json=body, headers=regulator).status_code == 201
        issued = client.post("/api/v1/keys", json={"organisation": body["name"]}, headers=regulator)
        assert issued.status_code == 201
        revoked = client.delete(f"/api/v1/keys/{issued.json['key_id']}", headers=regulator)
        assert revoked.status_code == 200


def test_a_regulator_cannot_issue_or_revoke_keys_of_admins_or_peers(app, client, keys):
    """The node's own admin organisation stays out of a regulator's reach."""
    before = stored(app)
    regulator = keys["regulator"].headers
    for role in ("admin", "peer_node"):
        body = {"organisation": keys[role].name}
        assert client.post("/api/v1/keys", json=body, headers=regulator).status_code == 403
        revoked = client.delete(f"/api/v1/keys/{keys[role].key_id}", headers=regulator)
        assert revoked.status_code == 403, revoked.json
    assert stored(app) == before
    for role in ("admin", "peer_node"):
        assert client.get("/api/v1/node", headers=keys[role].headers).status_code == 200


def test_a_regulator_cannot_reach_another_countrys_keys(app, client, keys):
    """An operator registered for another member state is managed by admins only."""
    foreign = make_credential(app, "operator", "Maxis", "MY")
    regulator = keys["regulator"].headers
    assert (
        client.post("/api/v1/keys", json={"organisation": "Maxis"}, headers=regulator).status_code
        == 403
    )
    assert client.delete(f"/api/v1/keys/{foreign.key_id}", headers=regulator).status_code == 403
    assert (
        client.delete(f"/api/v1/keys/{foreign.key_id}", headers=keys["admin"].headers).status_code
        == 200
    )
