"""One error shape everywhere: RFC 9457 problem details, never a 500 for bad input."""

from __future__ import annotations

import pytest

from scamshare.app import create_app

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> dict:
    """Check the problem-details shape and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def test_malformed_json_is_400(client, keys):
    """A body that is not JSON is named as such."""
    response = client.post(
        "/api/v1/organisations",
        data="{not json",
        content_type="application/json",
        headers=keys["regulator"].headers,
    )
    body = assert_problem(response, 400, "malformed_json")
    assert "JSON" in body["detail"]


def test_wrong_content_type_is_415(client, keys):
    """A JSON endpoint refuses form data and says what it takes."""
    response = client.post(
        "/api/v1/organisations",
        data="name=x",
        content_type="application/x-www-form-urlencoded",
        headers=keys["regulator"].headers,
    )
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "application/json" in body["detail"]


def test_body_over_the_limit_is_413(database_url, tmp_path):
    """The configured body limit is enforced with a clear message."""
    app = create_app(
        {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "MAX_BODY_BYTES": 1024}
    )
    from tests.conftest import make_credential

    regulator = make_credential(app, "regulator")
    response = app.test_client().post(
        "/api/v1/organisations",
        json={"name": "x" * 5000, "role": "operator", "country": "SG"},
        headers=regulator.headers,
    )
    body = assert_problem(response, 413, "body_too_large")
    assert "1024" in body["detail"]
    app.extensions["scamshare.engine"].dispose()


def test_unknown_and_invalid_fields_are_422_naming_each_field(client, keys):
    """Validation failures list every field with its reason."""
    response = client.post(
        "/api/v1/organisations",
        json={"name": "Acme", "role": "pirate", "country": "FR", "colour": "red"},
        headers=keys["regulator"].headers,
    )
    body = assert_problem(response, 422, "validation_failed")
    by_field = {error["field"]: error for error in body["errors"]}
    assert by_field["role"]["reason"] == "not_allowed"
    assert by_field["country"]["reason"] == "not_allowed"
    assert by_field["colour"]["reason"] == "unknown_field"
    assert all(error["location"] == "json" for error in body["errors"])


def test_missing_required_fields_are_422(client, keys):
    """An empty object names each missing field."""
    response = client.post("/api/v1/organisations", json={}, headers=keys["regulator"].headers)
    body = assert_problem(response, 422, "validation_failed")
    assert {e["field"] for e in body["errors"]} == {"name", "role", "country"}
    assert {e["reason"] for e in body["errors"]} == {"required"}


def test_invalid_query_parameter_is_422(client, keys):
    """Query strings are validated too."""
    response = client.get("/api/v1/audit?limit=0", headers=keys["regulator"].headers)
    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"][0]["field"] == "limit"
    assert body["errors"][0]["location"] == "query"


def test_duplicate_is_409(client, keys):
    """A domain conflict keeps the shape and its own code."""
    payload = {"name": "Acme", "role": "operator", "country": "SG"}
    assert client.post("/api/v1/organisations", json=payload, headers=keys["regulator"].headers)
    response = client.post("/api/v1/organisations", json=payload, headers=keys["regulator"].headers)
    assert_problem(response, 409, "duplicate_name")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/no-such-thing", 404, "not_found"),
        ("PUT", "/api/v1/node", 405, "method_not_allowed"),
    ],
)
def test_routing_errors_are_problems(client, method, path, status, code):
    """Unknown paths and methods answer in the same shape."""
    assert_problem(client.open(path, method=method), status, code)


def test_unexpected_failure_is_a_problem_and_saves_nothing(app, keys):
    """A crash mid-request renders a 500 problem and rolls the transaction back."""
    from scamshare import db
    from scamshare.models import Organisation

    def explode():
        """Write, then fail before the commit."""
        session = db.session()
        session.add(Organisation(name="Half-made", role="operator", country="SG"))
        session.flush()
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.add_url_rule("/test-explode", "explode", explode, methods=["POST"])
    response = app.test_client().post("/test-explode")
    assert_problem(response, 500, "internal_error")
    with db.transaction(app) as session:
        names = [org.name for org in session.query(Organisation)]
    assert "Half-made" not in names
