"""Structured request logs and request ids."""

from __future__ import annotations

import json


def access_lines(text: str) -> list[dict]:
    """Parse the JSON access-log lines out of captured standard error."""
    lines = []
    for raw in text.splitlines():
        if raw.startswith("{"):
            record = json.loads(raw)
            if record["logger"] == "scamshare.request":
                lines.append(record)
    return lines


def test_each_request_logs_one_json_line_with_its_id(client, keys, capsys):
    """Method, path, status, duration, organisation and request id are logged."""
    response = client.get("/api/v1/node", headers=keys["operator"].headers)
    lines = access_lines(capsys.readouterr().err)
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/node"
    assert line["status"] == 200
    assert line["organisation"] == keys["operator"].name
    assert line["duration_ms"] >= 0


def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(client):
    """Proxies can pass their id through; junk is not echoed back."""
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-1234.abc"})
    assert kept.headers["X-Request-Id"] == "lb-1234.abc"
    replaced = client.get("/healthz", headers={"X-Request-Id": "<script>"})
    assert replaced.headers["X-Request-Id"] != "<script>"
    assert len(replaced.headers["X-Request-Id"]) == 32
