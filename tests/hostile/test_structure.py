"""Nesting and CSV shapes are bounded: a clear 422, never a RecursionError or a csv.Error."""

from __future__ import annotations

import json

import pytest

from scamshare.auth import ROLE_MATRIX
from scamshare.text import MAX_DEPTH
from tests.hostile.conftest import refused, report, stored

DEEP = b"[" * 100_000 + b"]" * 100_000
CSV_HEADER = "kind,value,category,channel,observed_at,evidence_ref,note"


def json_operations(app, client) -> list[tuple[str, str, str | None]]:
    """(method, path, permission) of every operation documented with a JSON request body."""
    spec = client.get("/api/v1/openapi.json").json
    permissions = {}
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<string:", "{").replace(">", "}")
        for method in rule.methods:
            permissions[(method, path)] = getattr(
                app.view_functions[rule.endpoint], "permission", None
            )
    operations = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method == "parameters":
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                concrete = path.replace("{appeal_id}", "1")
                operations.append((method.upper(), concrete, permissions[(method.upper(), path)]))
    return operations


@pytest.mark.parametrize(
    "body", [DEEP, b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)], ids=["100000", "bound+1"]
)
def test_every_json_body_nested_too_deeply_is_a_422(app, client, keys, peer, body):
    """Deeper than the bound, or deep enough to exhaust the decoder, every endpoint says so."""
    before = stored(app)
    operations = json_operations(app, client)
    assert len(operations) >= 10
    for method, path, permission in operations:
        if permission is None:  # the signed federation batch
            response = peer.send(client, body)
        else:
            role = sorted(ROLE_MATRIX[permission])[0]
            response = client.open(
                path,
                method=method,
                data=body,
                content_type="application/json",
                headers=keys[role].headers,
            )
        assert response.status_code == 422, (method, path, response.get_data(as_text=True))
        assert response.json["code"] == "nested_too_deeply", (method, path)
        assert response.json["errors"][0]["reason"] == "too_deep"
    assert stored(app) == before


def test_the_too_deep_field_is_named_when_the_decoder_got_there(client, keys):
    """Within what the decoder takes, the error names the path where the bound was passed."""
    nested: object = "x"
    for _ in range(MAX_DEPTH):
        nested = {"a": nested}
    response = client.post(
        "/api/v1/reports", json=report(note=nested), headers=keys["operator"].headers
    )
    entry = refused(response, 422, "note." + ".".join(["a"] * (MAX_DEPTH - 1)), "too_deep")
    assert entry["location"] == "json"


def test_an_ndjson_line_nested_too_deeply_is_a_422_naming_its_index(app, client, keys):
    """The line is refused with its position; nothing of the upload is stored."""
    before = stored(app)
    upload = json.dumps(report()).encode() + b"\n" + DEEP + b"\n"
    response = client.post(
        "/api/v1/reports",
        data=upload,
        content_type="application/x-ndjson",
        headers=keys["operator"].headers,
    )
    entry = refused(response, 422, "ndjson", "too_deep")
    assert entry["index"] == 1
    assert stored(app) == before


@pytest.mark.parametrize("ending", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_csv_is_read_whatever_the_line_endings(client, keys, ending):
    """Spreadsheets, Unix tools and old Macs end lines differently; every row arrives."""
    observed = report()["observed_at"]
    rows = [
        CSV_HEADER,
        f"phone,+6581234567,investment,voice,{observed},case-1,",
        f'phone,+6581234568,investment,voice,{observed},case-2,"two{ending}lines"',
    ]
    response = client.post(
        "/api/v1/reports",
        data=(ending.join(rows) + ending).encode(),
        content_type="text/csv",
        headers=keys["operator"].headers,
    )
    assert response.status_code == 200, response.json
    assert (response.json["accepted"], response.json["rejected_count"]) == (2, 0)


@pytest.mark.parametrize(
    ("cells", "row", "column"),
    [
        (["phone", "+65" + "8" * 140_000, "investment", "voice", "{o}", "c", ""], 0, "value"),
        (
            [
                "phone",
                "+6581234567",
                "investment",
                "voice",
                "{o}",
                "c",
                '"a,b\n' + "x" * 140_000 + '"',
            ],
            1,
            "note",
        ),
    ],
)
def test_a_csv_cell_over_128_kib_is_a_422_naming_row_and_column(
    app, client, keys, cells, row, column
):
    """Python's CSV reader stops at 131,072 characters a cell; the caller is told where."""
    before = stored(app)
    observed = report()["observed_at"]
    good = f"phone,+6581234569,investment,voice,{observed},case-0,"
    bad = ",".join(cells).replace("{o}", observed)
    lines = [CSV_HEADER, bad] if row == 0 else [CSV_HEADER, good, bad]
    response = client.post(
        "/api/v1/reports",
        data="\r\n".join(lines).encode(),
        content_type="text/csv",
        headers=keys["operator"].headers,
    )
    entry = refused(response, 422, column, "too_long")
    assert entry["index"] == row and entry["location"] == "csv"
    assert (
        f"Row {row + 1}" in response.json["detail"]
        and f"column {column}" in response.json["detail"]
    )
    assert stored(app) == before
