"""A peer is an untrusted input: values are checked as local ones, and listings keep their facts."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import select

from scamshare.clock import utcnow
from scamshare.db import transaction
from scamshare.models import AuditEntry
from scamshare.services import audit
from scamshare.services import peers as peers_service
from tests import reporting
from tests.federation.peers import batch_of, contribution_from, encode, signed_post, sync

report = reporting.report
KINDS = ("phone", "phone_range", "sender_id", "url", "domain", "message")
FORMULA_STARTS = ("=", "-", "@")


def downloads(node) -> dict[str, list[str]]:
    """Every value of every download format (full and a delta from 0), one per row."""
    values: dict[str, list[str]] = {}
    for since in (None, 0):
        params = {} if since is None else {"since": since}
        name = "full" if since is None else "delta"
        text = node.get("/api/v1/blocklist", node.operator, format="csv", **params).text
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert all(len(row) == len(rows[0]) for row in rows), rows
        values[f"csv {name}"] = [row[1] for row in rows[1:]]
        body = node.get("/api/v1/blocklist", node.operator, format="json", **params).json()
        values[f"json {name}"] = [item["value"] for item in body["items"]]
        lines = node.get("/api/v1/blocklist", node.operator, format="ndjson", **params).text
        values[f"ndjson {name}"] = [json.loads(line)["value"] for line in lines.splitlines()]
        rows = []
        for kind in KINDS:  # a txt list holds one kind; warn entries too, to see every value
            lines = node.get(
                "/api/v1/blocklist",
                node.operator,
                format="txt",
                kind=kind,
                include_warn="true",
                **params,
            ).text
            rows += [line for line in lines.split("\n") if line]
        if since is not None:
            assert all(row[0] in "+-" for row in rows), rows
            rows = [row[1:] for row in rows]  # a delta line is +value or -value
        values[f"txt {name}"] = rows
    for rows in values.values():
        assert not any(value.startswith(FORMULA_STARTS) for value in rows), rows
    return values


def test_values_a_peer_sends_are_checked_as_local_ones_and_refused_one_by_one(nodes):
    """Emergency numbers, non-canonical and hostile values never reach a download."""
    sg, my = nodes["SG"], nodes["MY"]
    sent = [
        contribution_from(my, 1, value="+60123456789"),
        contribution_from(my, 2, value="999"),
        contribution_from(my, 3, value="+60999"),
        contribution_from(my, 4, value="012-345 6789"),
        contribution_from(my, 5, value="A,B\r\nphone,+1999"),
        contribution_from(my, 6, kind="sender_id", value="=HYPERLINK(1)"),
        contribution_from(my, 7, kind="url", value="https://evil.example/a\r\nphone,+65999"),
        contribution_from(my, 8, kind="domain", value="maybank2u-verify.com"),
    ]
    response = signed_post(sg, my, encode(batch_of(my, sent)))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["applied"] == 2
    refused = {entry["index"]: entry["reason"] for entry in result["rejected"]}
    assert sorted(refused) == [1, 2, 3, 4, 5, 6]
    assert refused[3] == "not_canonical"
    assert all(reason for reason in refused.values())

    for name, values in downloads(sg).items():
        assert sorted(values) == ["+60123456789", "maybank2u-verify.com"], name

    with transaction(sg.app) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "federation.receive")
        ).one()
    assert entry.details["rejected"] == 6
    assert {r["index"]: r["reason"] for r in entry.details["refusals"]} == refused


def test_a_value_protected_here_is_refused_from_a_peer(nodes):
    """A peer cannot list what this node protects."""
    sg, my = nodes["SG"], nodes["MY"]
    added = sg.post(
        "/api/v1/protected",
        {
            "kind": "phone",
            "value": "+60 12-345 6789",
            "label": "Bank hotline",
            "category": "bank_hotline",
        },
    )
    assert added.status_code in (200, 201), added.text
    response = signed_post(sg, my, encode(batch_of(my, [contribution_from(my, 1)])))
    assert response.json()["applied"] == 0
    assert [e["reason"] for e in response.json()["rejected"]] == ["protected"]
    found = sg.get("/api/v1/lookup", sg.operator, value="+60123456789").json()
    assert found["status"] in ("unknown", "protected") and found["listed"] is False


def test_a_peer_merge_writes_a_history_row_like_a_local_change(nodes):
    """The indicator's history names the peer that listed it, with the sequence it took."""
    sg, my = nodes["SG"], nodes["MY"]
    assert signed_post(sg, my, encode(batch_of(my, [contribution_from(my, 1)]))).json()["applied"]
    [item] = sg.get("/api/v1/indicators", sg.regulator).json()["items"]
    detail = sg.get(f"/api/v1/indicators/{item['id']}", sg.regulator).json()
    [event] = detail["history"]
    assert (event["from_status"], event["to_status"]) == ("reported", "listed")
    assert event["reason"] == f"peer {my.node_id}"
    assert event["sequence"] == detail["sequence"]


def test_a_peer_only_listing_keeps_that_origins_facts_everywhere(nodes):
    """Downloads, deltas and lookups show the origin's categories, counts, dates and expiry."""
    sg, my = nodes["SG"], nodes["MY"]
    first, last = utcnow() - timedelta(days=5), utcnow() - timedelta(days=1)
    expires = utcnow() + timedelta(days=20)
    sent = contribution_from(
        my,
        1,
        kind="domain",
        value="maybank2u-secure-login.com",
        categories=["bank_impersonation", "phishing_link"],
        report_count=4,
        org_count=3,
        first_reported=first.isoformat(),
        last_reported=last.isoformat(),
        expires_at=expires.isoformat(),
    )
    assert signed_post(sg, my, encode(batch_of(my, [sent]))).json()["applied"] == 1

    def z(moment) -> str:
        """A moment as the blocklist writes it."""
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    line = sg.get("/api/v1/blocklist", sg.operator, format="csv").text.splitlines()[1]
    assert line == (
        "domain,maybank2u-secure-login.com,listed,high,bank_impersonation;phishing_link,"
        f"MY:block,{z(first)},{z(last)},{z(expires)}"
    )
    for params in ({}, {"since": 0}):
        body = sg.get("/api/v1/blocklist", sg.operator, format="json", **params).json()
        [item] = body["items"]
        assert item["categories"] == ["bank_impersonation", "phishing_link"]
        assert (item["first_reported"], item["last_reported"]) == (z(first), z(last))
        assert item["expires_at"] == z(expires)
    found = sg.get(
        "/api/v1/lookup", sg.operator, value="maybank2u-secure-login.com", kind="domain"
    ).json()
    assert found["status"] == "listed"
    assert (found["counts"]["reports"], found["counts"]["organisations"]) == (4, 3)
    assert found["categories"] == ["bank_impersonation", "phishing_link"]
    assert found["expires_at"] == expires.isoformat()
    [origin] = found["origins"]
    assert (origin["country"], origin["report_count"], origin["org_count"]) == ("MY", 4, 3)


def test_a_value_several_origins_list_shows_their_merged_facts(nodes):
    """Counts summed, categories united, earliest first, latest last and expiry, each origin."""
    sg, my, th = nodes["SG"], nodes["MY"], nodes["TH"]
    now = utcnow()
    one = contribution_from(
        my,
        1,
        categories=["loan"],
        report_count=2,
        org_count=1,
        first_reported=(now - timedelta(days=9)).isoformat(),
        last_reported=(now - timedelta(days=3)).isoformat(),
        expires_at=(now + timedelta(days=10)).isoformat(),
    )
    other = contribution_from(
        th,
        1,
        categories=["investment"],
        report_count=5,
        org_count=4,
        first_reported=(now - timedelta(days=4)).isoformat(),
        last_reported=(now - timedelta(days=1)).isoformat(),
        expires_at=(now + timedelta(days=40)).isoformat(),
    )
    assert signed_post(sg, my, encode(batch_of(my, [one]))).json()["applied"] == 1
    assert signed_post(sg, th, encode(batch_of(th, [other]))).json()["applied"] == 1
    found = sg.get("/api/v1/lookup", sg.operator, value="+60123456789").json()
    assert (found["counts"]["reports"], found["counts"]["organisations"]) == (7, 5)
    assert found["categories"] == ["investment", "loan"]
    assert found["first_reported"] == one["first_reported"]
    assert found["last_reported"] == other["last_reported"]
    assert found["expires_at"] == other["expires_at"]
    assert [(o["country"], o["report_count"]) for o in found["origins"]] == [("MY", 2), ("TH", 5)]
    [item] = sg.get("/api/v1/blocklist", sg.operator, format="json").json()["items"]
    assert item["origins"] == [
        {"country": "MY", "policy": "block"},
        {"country": "TH", "policy": "block"},
    ]
    assert item["categories"] == ["investment", "loan"]

    # A local report adds this node's own facts to the same view.
    sg.post("/api/v1/reports", report("+60 12-345 6789", category="romance", verified=True))
    found = sg.get("/api/v1/lookup", sg.operator, value="+60123456789").json()
    assert found["counts"]["reports"] == 8
    assert [o["country"] for o in found["origins"]] == ["SG", "MY", "TH"]
    sync(sg)
    held = my.get("/api/v1/lookup", my.operator, value="+60123456789").json()
    assert [o["country"] for o in held["origins"]] == ["SG"]  # MY's own view is its own


def register_again_as_warn(node, peer) -> None:
    """Register a peer again on a node, its listings now shown as warn."""
    with transaction(node.app) as session:
        rules = node.app.extensions["scamshare.policy"]
        peers_service.remove_peer(session, audit.NODE, peer.node_id, rules)
        registration = peers_service.Registration(
            peer.node_id, peer.country, peer.url, peer.identity.public_key, "warn"
        )
        peers_service.add_peer(session, audit.NODE, registration, rules)


def test_a_change_of_peer_policy_is_a_new_version_of_its_listings(nodes):
    """Registering a peer again with warn shows its listings as warn, in the next delta too."""
    sg, my = nodes["SG"], nodes["MY"]
    assert signed_post(sg, my, encode(batch_of(my, [contribution_from(my, 1)]))).json()["applied"]
    full = sg.get("/api/v1/blocklist", sg.operator, format="json")
    assert full.json()["items"][0]["origins"] == [{"country": "MY", "policy": "block"}]
    cursor = full.headers["X-ScamShare-Cursor"]
    register_again_as_warn(sg, my)
    delta = sg.get("/api/v1/blocklist", sg.operator, format="json", since=cursor).json()
    [item] = delta["items"]
    assert (item["action"], item["origins"]) == ("upsert", [{"country": "MY", "policy": "warn"}])
    line = sg.get("/api/v1/blocklist", sg.operator, format="csv").text.splitlines()[1]
    assert ",MY:warn," in line


def test_a_txt_list_holds_only_values_a_block_origin_lists_unless_warn_is_asked(nodes):
    """A firewall blocks every line: a value only warn origins list leaves the txt list."""
    sg, my = nodes["SG"], nodes["MY"]
    sent = [contribution_from(my, 1, value="+60123456789")]
    assert signed_post(sg, my, encode(batch_of(my, sent))).json()["applied"]
    sg.post("/api/v1/reports", report("+65 8123 4567", verified=True))

    def txt(**query) -> list[str]:
        """The lines of a txt phone list on SG."""
        response = sg.get("/api/v1/blocklist", sg.operator, format="txt", kind="phone", **query)
        assert response.status_code == 200, response.text
        return sorted(line for line in response.text.split("\n") if line)

    assert txt() == ["+60123456789", "+6581234567"]
    cursor = sg.get("/api/v1/blocklist", sg.operator, format="txt", kind="phone").headers[
        "X-ScamShare-Cursor"
    ]
    register_again_as_warn(sg, my)
    assert txt() == ["+6581234567"]
    assert txt(include_warn="true") == ["+60123456789", "+6581234567"]
    assert txt(since=cursor) == ["-+60123456789"]
    assert txt(since=cursor, include_warn="true") == ["++60123456789"]


def test_a_template_a_peer_lists_blocks_the_same_text_here(nodes):
    """A message travels as its template fingerprint, which this node takes as canonical."""
    sg, my = nodes["SG"], nodes["MY"]
    text = "Akaun Maybank anda disekat. Sahkan segera di https://maybank-sahkan.example.com/login"
    listed = my.post("/api/v1/reports", report(text, kind="message", verified=True))
    assert listed.status_code == 200, listed.text
    result = sync(my)[sg.node_id]
    assert (result.applied, result.rejected) == (1, 0), result
    check = sg.post("/api/v1/messages/check", {"text": text}, sg.operator)
    assert check.status_code == 200, check.text
    assert check.json()["verdict"] == "block"
    [match] = [m for m in check.json()["matches"] if m["match"] == "template"]
    assert match["origins"] == [{"country": "MY", "policy": "block"}]
    forged = contribution_from(my, 99, kind="message", value="not a fingerprint")
    response = signed_post(sg, my, encode(batch_of(my, [forged])))
    assert [entry["reason"] for entry in response.json()["rejected"]] == ["not_canonical"]
