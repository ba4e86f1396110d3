"""Responses are safe to show: input quoted escaped and clipped, nosniff, a CSP on the docs."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from scamshare import errors
from tests.hostile.conftest import report

SCRIPT = "<script>alert(1)</script>"


def test_an_unknown_field_named_like_markup_is_quoted_escaped(client, keys):
    """The field name comes back as data; the bytes hold no tag a browser could run."""
    body = {"name": "Acme", "role": "operator", "country": "SG", SCRIPT: 1}
    response = client.post("/api/v1/organisations", json=body, headers=keys["regulator"].headers)
    assert response.status_code == 422
    assert b"<script>" not in response.data
    assert SCRIPT in {e["field"] for e in response.json["errors"]}


def test_a_peer_header_holding_markup_is_quoted_escaped(client):
    """The X-ScamShare-Node value is echoed in the refusal only as escaped text."""
    headers = {
        "X-ScamShare-Node": SCRIPT,
        "X-ScamShare-Timestamp": "1",
        "X-ScamShare-Signature": "x",
    }
    response = client.post("/api/v1/federation/batches", json={}, headers=headers)
    assert response.status_code == 403
    assert b"<script>" not in response.data and b"<" not in response.data
    assert SCRIPT in response.json["detail"]


def test_long_input_is_clipped_in_errors(client, keys):
    """A 10,000-character field name or path id is quoted only in part."""
    body = report(**{"x" * 10_000: 1})
    response = client.post("/api/v1/reports", json=body, headers=keys["operator"].headers)
    assert response.status_code == 422
    fields = [e["field"] for e in response.json["errors"]]
    assert fields and all(len(field) <= errors.MAX_FIELD_CHARS for field in fields)
    missing = client.delete("/api/v1/keys/" + "k" * 10_000, headers=keys["regulator"].headers)
    assert missing.status_code == 404
    assert len(missing.json["detail"]) <= errors.MAX_TEXT_CHARS
    assert missing.json["detail"].endswith("…")


def test_every_response_forbids_content_sniffing(app, client, keys):
    """Successes, errors, documents, assets and failures all carry nosniff."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.add_url_rule("/test-crash", "crash", _crash)
    responses = [
        client.get("/healthz"),
        client.get("/api/v1/node", headers=keys["operator"].headers),
        client.get("/api/v1/no-such-thing"),
        client.get("/api/v1/node"),
        client.post("/api/v1/organisations", json={}, headers=keys["regulator"].headers),
        client.get("/api/v1/openapi.json"),
        client.get("/api/v1/docs"),
        client.get("/api/v1/docs/assets/swagger-ui.css"),
        client.get("/test-crash"),
    ]
    for response in responses:
        assert response.headers.get("X-Content-Type-Options") == "nosniff", response.status
        response.close()


def test_the_docs_page_runs_only_its_own_scripts(client):
    """The CSP allows the page's assets and its one inline script by hash, and nothing else."""
    page = client.get("/api/v1/docs")
    policy = page.headers["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    inline = re.findall(rb"<script>(.*?)</script>", page.data, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()
    assert f"'sha256-{digest}'" in directives["script-src"]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["default-src"] == ["'none'"]
    assert directives["connect-src"] == ["'self'"]  # the spec and try-it-out requests
    for asset in re.findall(rb'(?:src|href)="([^"]+)"', page.data):
        assert asset.startswith(b"/api/v1/docs/assets/"), asset  # all served by 'self'
    assert "Content-Security-Policy" not in client.get("/api/v1/openapi.json").headers


def _crash():
    """A view that fails unexpectedly."""
    raise RuntimeError("boom")


def test_an_unhandled_error_is_logged_once_with_its_request_id(app, client, capsys):
    """One JSON line with the traceback and the request id, not one per layer."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.add_url_rule("/test-crash", "crash", _crash)
    capsys.readouterr()
    response = client.get("/test-crash")
    assert response.status_code == 500
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    failures = [line for line in lines if line["level"] == "error"]
    assert len(failures) == 1, failures
    assert failures[0]["request_id"] == response.headers["X-Request-Id"]
    assert failures[0]["path"] == "/test-crash"
    assert "RuntimeError: boom" in failures[0]["exc"]
