"""Authentication and the role matrix, through the HTTP API."""

from __future__ import annotations

import re

import pytest

from scamshare.auth import ROLE_MATRIX
from scamshare.models import ROLES

PROBLEM = "application/problem+json"


def protected_routes(app):
    """Every (method, path, permission) of a view that requires a key."""
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        permission = getattr(view, "permission", None)
        if permission is None:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, path, permission))
    return routes


def test_every_api_route_except_health_and_docs_requires_a_key(app, client):
    """No endpoint under /api/v1 but the documentation answers without a key."""
    open_paths = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or "docs" in rule.rule or "openapi" in rule.rule:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x1", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method)
            if response.status_code != 401:
                open_paths.append((method, path, response.status_code))
    assert open_paths == []


def test_missing_key_is_401_with_problem_details(client):
    """A request without a key is told how to send one."""
    response = client.get("/api/v1/node")
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.json["code"] == "missing_key"
    assert "Bearer" in response.json["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        "Bearer ss.k000000000000.wrongsecret",
        "Bearer ss..",
        "Bearer ss.kabc.def.ghi",
    ],
)
def test_malformed_or_unknown_key_is_401(client, header):
    """Keys that are not of this node are refused with invalid_key."""
    response = client.get("/api/v1/node", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["code"] == "invalid_key"


def test_right_key_id_with_wrong_secret_is_401(client, keys):
    """Knowing a key id is not enough."""
    key_id = keys["operator"].key_id
    response = client.get(
        "/api/v1/node", headers={"Authorization": f"Bearer ss.{key_id}.not-the-secret"}
    )
    assert response.status_code == 401
    assert response.json["code"] == "invalid_key"


def test_revoked_key_is_401_at_once(client, keys):
    """A key revoked through the API stops working on the next request."""
    operator = keys["operator"]
    assert client.get("/api/v1/node", headers=operator.headers).status_code == 200
    response = client.delete(f"/api/v1/keys/{operator.key_id}", headers=keys["regulator"].headers)
    assert response.status_code == 200
    assert response.json["revoked_at"] is not None
    refused = client.get("/api/v1/node", headers=operator.headers)
    assert refused.status_code == 401
    assert refused.json["code"] == "revoked_key"


def test_key_use_is_recorded(client, keys, app):
    """The key's last-used time is set by its first request."""
    from scamshare.db import transaction
    from scamshare.services import organisations

    client.get("/api/v1/node", headers=keys["law_enforcement"].headers)
    with transaction(app) as session:
        used = {k.key_id: k.last_used_at for k in organisations.list_keys(session)}
    assert used[keys["law_enforcement"].key_id] is not None
    assert used[keys["peer_node"].key_id] is None


def test_every_role_outside_the_matrix_gets_403_on_every_protected_endpoint(app, client, keys):
    """The one role matrix decides; every other role is refused before anything runs."""
    routes = protected_routes(app)
    assert len(routes) >= 6
    checked = 0
    for method, path, permission in routes:
        for role in ROLES:
            if role in ROLE_MATRIX[permission]:
                continue
            response = client.open(path, method=method, headers=keys[role].headers, json={})
            assert response.status_code == 403, (method, path, role, response.json)
            assert response.json["code"] == "forbidden"
            assert permission in response.json["detail"]
            checked += 1
    assert checked > 0


def test_every_role_inside_the_matrix_gets_past_authorisation(app, client, keys):
    """Allowed roles are never refused with 401 or 403."""
    for method, path, permission in protected_routes(app):
        for role in ROLE_MATRIX[permission]:
            response = client.open(path, method=method, headers=keys[role].headers, json={})
            assert response.status_code not in (401, 403), (method, path, role, response.json)


def test_a_key_revoked_elsewhere_stops_working_within_the_cache_period(
    app, client, keys, monkeypatch
):
    """Another worker's revocation is honoured once this worker's cached key is stale."""
    from scamshare import auth, db
    from scamshare.services import audit, organisations

    operator = keys["operator"]
    assert client.get("/api/v1/node", headers=operator.headers).status_code == 200
    with db.transaction(app) as session:  # as the CLI or another worker would
        organisations.revoke_key(session, audit.NODE, operator.key_id)
    assert client.get("/api/v1/node", headers=operator.headers).status_code == 200
    later = auth._monotonic() + app.config["KEY_CACHE_SECONDS"] + 1
    monkeypatch.setattr(auth, "_monotonic", lambda: later)
    refused = client.get("/api/v1/node", headers=operator.headers)
    assert refused.status_code == 401
    assert refused.json["code"] == "revoked_key"
