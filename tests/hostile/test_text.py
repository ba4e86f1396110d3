"""NUL, lone surrogates and oversized numbers are refused at every entry, naming the field."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import NUL, SURROGATE, refused, report, stored

PUBLIC_KEY = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
REASONS = {NUL: "nul_character", SURROGATE: "lone_surrogate"}


def json_bodies(bad: str) -> list[tuple[str, str, str, object, str]]:
    """(role, method, path, body, field) for every JSON body, with `bad` in one string."""
    return [
        ("operator", "POST", "/api/v1/reports", report(value=f"+65{bad}81234567"), "value"),
        ("operator", "POST", "/api/v1/reports", report(note=bad), "note"),
        ("operator", "POST", "/api/v1/reports", report(evidence_ref=bad), "evidence_ref"),
        (
            "operator",
            "POST",
            "/api/v1/reports",
            {"reports": [report(), report(value=bad)]},
            "reports.1.value",
        ),
        ("operator", "POST", "/api/v1/reports", report(**{f"x{bad}": 1}), f"x{bad}"),
        (
            "regulator",
            "POST",
            "/api/v1/organisations",
            {"name": f"Acme{bad}", "role": "operator", "country": "SG"},
            "name",
        ),
        ("regulator", "POST", "/api/v1/keys", {"organisation": f"Acme{bad}"}, "organisation"),
        (
            "regulator",
            "POST",
            "/api/v1/protected",
            {
                "kind": "phone",
                "value": "+6562255582",
                "label": f"Bank{bad}",
                "category": "bank_hotline",
            },
            "label",
        ),
        (
            "admin",
            "POST",
            "/api/v1/federation/peers",
            {
                "node_id": f"peer{bad}",
                "country": "MY",
                "url": "http://127.0.0.1:9",
                "public_key": PUBLIC_KEY,
            },
            "node_id",
        ),
        (
            "operator",
            "POST",
            "/api/v1/appeals",
            {"value": "+6581234567", "reason": f"mine{bad}", "contact_ref": "c-1"},
            "reason",
        ),
        (
            "regulator",
            "POST",
            "/api/v1/appeals/1/resolve",
            {"outcome": "upheld", "note": bad},
            "note",
        ),
        (
            "operator",
            "POST",
            "/api/v1/lookup",
            {"values": [{"value": f"+65{bad}"}]},
            "values.0.value",
        ),
        ("operator", "POST", "/api/v1/messages/check", {"text": f"Win{bad}"}, "text"),
        (
            "operator",
            "POST",
            "/api/v1/disconnections",
            {"number": f"8123{bad}", "disconnected_on": "2026-01-05"},
            "number",
        ),
    ]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_every_json_body_refuses_unstorable_text_naming_the_field(app, client, keys, bad):
    """Whichever endpoint and field, the string is refused before anything reads it."""
    before = stored(app)
    for role, method, path, body, field in json_bodies(bad):
        response = client.open(path, method=method, json=body, headers=keys[role].headers)
        entry = refused(response, 422, field, REASONS[bad])
        assert entry["location"] == "json"
        assert response.json["code"] == "unstorable_text"
    assert stored(app) == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_a_peer_batch_refuses_unstorable_text_naming_the_field(app, client, peer, bad):
    """Batch ids, senders, contribution values and categories are text like any other."""
    before = stored(app)
    for batch, field in (
        (peer.batch(batch_id=f"bbbbbbbb{bad}"), "batch_id"),
        (peer.batch(sender=f"scamshare-my{bad}"), "sender"),
        (peer.batch(peer.contribution(value=f"+6012{bad}")), "contributions.0.value"),
        (peer.batch(peer.contribution(categories=[f"scam{bad}"])), "contributions.0.categories.0"),
    ):
        refused(peer.send(client, batch), 422, field, REASONS[bad])
    assert stored(app) == before


def test_a_query_string_with_nul_is_refused_naming_the_argument(client, keys):
    """Query arguments and their names follow the same rule."""
    for role, path, field in (
        ("operator", "/api/v1/lookup?value=%2B65%00", "value"),
        ("operator", "/api/v1/indicators?kind=ph%00one", "kind"),
        ("operator", "/api/v1/blocklist?format=csv%00", "format"),
        ("regulator", "/api/v1/audit?action=key.%00", "action"),
        ("regulator", "/api/v1/stats?x%00=1", "x\x00"),
    ):
        entry = refused(client.get(path, headers=keys[role].headers), 422, field, "nul_character")
        assert entry["location"] == "query"


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_headers_the_node_reads_are_refused_with_unstorable_text(app, client, keys, peer, bad):
    """Idempotency keys and the peer's node id never reach a query."""
    before = stored(app)
    headers = keys["operator"].headers | {"Idempotency-Key": f"k{bad}"}
    response = client.post("/api/v1/reports", json=report(), headers=headers)
    entry = refused(response, 422, "Idempotency-Key", REASONS[bad])
    assert entry["location"] == "headers"
    response = peer.send(client, peer.batch(), **{"X-ScamShare-Node": f"scamshare-my{bad}"})
    refused(response, 422, "X-Scamshare-Node", REASONS[bad])  # header names as WSGI gives them
    assert stored(app) == before


def test_a_path_id_with_nul_is_refused_naming_it(app, client, keys, peer):
    """%00 in a path id is a 422, never a database error."""
    before = stored(app)
    for role, method, path, field in (
        ("operator", "GET", "/api/v1/indicators/1%00", "indicator_id"),
        ("regulator", "DELETE", "/api/v1/keys/k%00", "key_id"),
        ("admin", "DELETE", "/api/v1/federation/peers/scamshare-my%00", "node_id"),
        ("regulator", "DELETE", "/api/v1/protected/1%00", "protected_id"),
        ("regulator", "POST", "/api/v1/appeals/1%00/resolve", "appeal_id"),
    ):
        response = client.open(
            path, method=method, json={"outcome": "upheld"}, headers=keys[role].headers
        )
        assert refused(response, 422, field, "nul_character")["location"] == "path"
    assert stored(app) == before


def test_csv_and_ndjson_uploads_refuse_unstorable_text_naming_row_and_field(app, client, keys):
    """A cell or a line holding NUL (or a surrogate escape) is refused with its index."""
    before = stored(app)
    operator = keys["operator"].headers
    header = "kind,value,category,channel,observed_at,evidence_ref\r\n"
    good = f"phone,+6581234567,investment,voice,{report()['observed_at']},case-1\r\n"
    for upload, content_type, field in (
        (header + good + good.replace("case-1", "case\x00"), "text/csv", "evidence_ref"),
        ("kind\x00," + header[5:] + good, "text/csv", "kind\x00"),
        ('{"kind": "phone"}\n{"value": "+65\\u0000"}\n', "application/x-ndjson", "value"),
        ('{"kind": "phone"}\n{"note": "\\udc00"}\n', "application/x-ndjson", "note"),
    ):
        response = client.post(
            "/api/v1/reports", data=upload.encode(), content_type=content_type, headers=operator
        )
        entry = refused(response, 422, field)
        assert entry["location"] in ("csv", "ndjson")
        assert entry.get("index", 1) == 1
    assert stored(app) == before


def test_an_organisation_id_beyond_bigint_is_refused_naming_the_field(client, keys):
    """An id no column holds is a 422, not an overflow; a plausible unknown id is a 404."""
    regulator = keys["regulator"].headers
    for organisation in ("1" * 31, str(2**63)):
        response = client.post(
            "/api/v1/keys", json={"organisation": organisation}, headers=regulator
        )
        refused(response, 422, "organisation", "out_of_range")
    unknown = client.post("/api/v1/keys", json={"organisation": str(2**63 - 1)}, headers=regulator)
    assert unknown.status_code == 404


def test_contribution_and_batch_numbers_beyond_their_columns_are_refused(app, client, peer):
    """Counts, versions and sequences of 10**30 are a 422 naming the field."""
    before = stored(app)
    for name in ("report_count", "org_count", "origin_version"):
        response = peer.send(client, peer.batch(peer.contribution(**{name: 10**30})))
        refused(response, 422, f"contributions.0.{name}")
    for envelope in ("sequence_from", "sequence_to"):
        refused(peer.send(client, peer.batch(**{envelope: 10**30})), 422, envelope)
    assert stored(app) == before
