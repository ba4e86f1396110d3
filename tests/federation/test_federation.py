"""Federation between real nodes on loopback: propagation, removals, outages, bad batches."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import select

from scamshare.clock import utcnow
from scamshare.db import transaction
from scamshare.federation import signing
from scamshare.models import AuditEntry, Contribution, Indicator, Peer
from tests import reporting
from tests.federation.peers import batch_from, encode, signed_post, sync

report = reporting.report


def contributions(node, origin: str) -> dict[tuple[str, str], Contribution]:
    """What a node holds from one origin."""
    with transaction(node.app) as session:
        rows = session.scalars(select(Contribution).where(Contribution.origin_node == origin))
        return {(c.kind, c.value): c for c in rows}


def merged(node, value: str, kind: str = "phone") -> Indicator | None:
    """A node's merged view of one value."""
    with transaction(node.app) as session:
        return session.scalars(
            select(Indicator).where(Indicator.kind == kind, Indicator.value == value)
        ).first()


def test_a_listing_propagates_to_every_peer_with_its_origin(nodes):
    """SG lists a number; after one sync MY and TH hold SG's contribution and export it."""
    sg, my, th = nodes["SG"], nodes["MY"], nodes["TH"]
    response = sg.post("/api/v1/reports", report("+65 8123 4567", verified=True))
    assert response.json()["reports"][0]["indicator"]["status"] == "listed"
    reports = sync(sg)
    assert {peer: (r.sent, r.applied, r.error) for peer, r in reports.items()} == {
        my.node_id: (1, 1, None),
        th.node_id: (1, 1, None),
    }
    for peer in (my, th):
        held = contributions(peer, sg.node_id)[("phone", "+6581234567")]
        assert (held.status, held.origin_country, held.report_count) == ("listed", "SG", 1)
        view = merged(peer, "+6581234567")
        assert view.exported is True
        assert view.status == "reported"  # the peer's own state is untouched
        assert [entry["country"] for entry in view.foreign] == ["SG"]
    with transaction(sg.app) as session:
        cursors = {p.node_id: p.cursor for p in session.scalars(select(Peer))}
        own = session.scalars(select(Indicator)).one()
    assert cursors == {my.node_id: own.origin_version, th.node_id: own.origin_version}


def test_a_second_sync_sends_nothing_and_nodes_never_relay(nodes):
    """Caught-up peers get nothing more; MY does not pass SG's listing on to TH."""
    sg, my, th = nodes["SG"], nodes["MY"], nodes["TH"]
    sg.post("/api/v1/reports", report("+65 8123 4567", verified=True))
    sync(sg)
    assert all(r.sent == 0 for r in sync(sg).values())
    assert all(r.sent == 0 for r in sync(my).values())
    assert contributions(th, my.node_id) == {}


def test_delisting_and_expiry_travel_as_tombstones(nodes):
    """A removal at the origin removes the value from the peers' merged view, with its reason."""
    sg, my = nodes["SG"], nodes["MY"]
    sg.post("/api/v1/reports", report("+65 8123 4567", verified=True))
    sg.post("/api/v1/reports", report("+65 9123 4567", verified=True, days_ago=59))
    sync(sg)
    assert merged(my, "+6591234567").exported is True

    appeal = sg.post(
        "/api/v1/appeals",
        {"value": "+6581234567", "reason": "number reassigned", "contact_ref": "ticket-7"},
        sg.operator,
    )
    assert appeal.status_code in (200, 201), appeal.text
    resolved = sg.post(
        f"/api/v1/appeals/{appeal.json()['id']}/resolve", {"outcome": "delisted", "note": "ok"}
    )
    assert resolved.status_code == 200, resolved.text
    from scamshare.services.audit import NODE
    from scamshare.services.expiry import expire_due

    with transaction(sg.app) as session:
        expired = expire_due(
            session, sg.app.extensions["scamshare.policy"], utcnow() + timedelta(days=2), NODE
        )
    assert expired == 1
    sync(sg)
    held = contributions(my, sg.node_id)
    assert held[("phone", "+6581234567")].status == "removed"
    assert held[("phone", "+6581234567")].removal_reason == "delisted"
    assert held[("phone", "+6591234567")].removal_reason == "expired"
    assert merged(my, "+6581234567").exported is False
    assert merged(my, "+6591234567").exported is False


def test_a_peer_down_during_sync_fails_loudly_then_catches_up(nodes):
    """MY is down: TH still gets the batch, MY's failure is recorded, and MY catches up later."""
    sg, my, th = nodes["SG"], nodes["MY"], nodes["TH"]
    my.stop()
    sg.post("/api/v1/reports", report("+65 8123 4567", verified=True))
    reports = sync(sg)
    assert reports[th.node_id].error is None and reports[th.node_id].applied == 1
    assert reports[my.node_id].error and "Connect" in reports[my.node_id].error
    health = {p["node_id"]: p for p in sg.get("/api/v1/federation/peers").json()}
    assert health[my.node_id]["consecutive_failures"] == 1
    assert health[my.node_id]["lag"] == 1
    assert health[my.node_id]["last_error"]
    assert health[th.node_id]["lag"] == 0 and health[th.node_id]["last_success_at"]

    sg.post("/api/v1/reports", report("+65 9123 4567", verified=True))
    my.start()
    reports = sync(sg)
    assert (reports[my.node_id].sent, reports[my.node_id].applied) == (2, 2)
    assert reports[th.node_id].sent == 1
    assert set(contributions(my, sg.node_id)) == {
        ("phone", "+6581234567"),
        ("phone", "+6591234567"),
    }
    health = {p["node_id"]: p for p in sg.get("/api/v1/federation/peers").json()}
    assert health[my.node_id]["consecutive_failures"] == 0 and health[my.node_id]["lag"] == 0
    with transaction(sg.app) as session:
        runs = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "federation.push")
        ).all()
    assert {(r.target, r.outcome) for r in runs} >= {(f"peer:{my.node_id}", "error")}


def test_a_tampered_batch_is_rejected(nodes):
    """Changing one byte after signing breaks the signature: 401, nothing applied."""
    sg, my = nodes["SG"], nodes["MY"]
    body = encode(batch_from(my))
    headers = signing.sign_headers(my.identity, my.node_id, body, utcnow())
    tampered = body.replace(b'"report_count": 3', b'"report_count": 9')
    response = httpx.post(f"{sg.url}/api/v1/federation/batches", content=tampered, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    assert contributions(sg, my.node_id) == {}


def test_a_replayed_batch_changes_nothing(nodes):
    """The same batch id again is refused with 409 and the cursor it already earned."""
    sg, my = nodes["SG"], nodes["MY"]
    body = encode(batch_from(my, version=5))
    first = signed_post(sg, my, body)
    assert first.status_code == 200 and first.json()["applied"] == 1
    again = signed_post(sg, my, body)
    assert again.status_code == 409
    assert again.json()["code"] == "replayed_batch"
    assert again.json()["highest_sequence"] == 5
    assert contributions(sg, my.node_id)[("phone", "+60123456789")].origin_version == 5


def test_older_and_duplicate_versions_are_ignored(nodes):
    """Reordered or retried contributions never roll a newer one back."""
    sg, my = nodes["SG"], nodes["MY"]
    assert signed_post(sg, my, encode(batch_from(my, version=7))).json()["applied"] == 1
    older = signed_post(sg, my, encode(batch_from(my, version=3, status="removed"))).json()
    assert (older["applied"], older["ignored"]) == (0, 1)
    same = signed_post(sg, my, encode(batch_from(my, version=7, report_count=99))).json()
    assert (same["applied"], same["ignored"]) == (0, 1)
    held = contributions(sg, my.node_id)[("phone", "+60123456789")]
    assert (held.status, held.report_count, held.origin_version) == ("listed", 3, 7)


def test_unknown_senders_stale_timestamps_and_relays_are_refused(nodes):
    """A non-peer, an old signature and another origin's data each get a clear answer."""
    sg, my, th = nodes["SG"], nodes["MY"], nodes["TH"]
    with transaction(sg.app) as session:
        session.delete(session.scalars(select(Peer).where(Peer.node_id == th.node_id)).one())
    unknown = signed_post(sg, th, encode(batch_from(th)))
    assert unknown.status_code == 403 and unknown.json()["code"] == "unknown_sender"
    stale = signed_post(sg, my, encode(batch_from(my)), timestamp=utcnow() - timedelta(minutes=6))
    assert stale.status_code == 401 and stale.json()["code"] == "stale_timestamp"
    relay = batch_from(my, origin_node=th.node_id, origin_country="TH")
    answer = signed_post(sg, my, encode(relay)).json()
    assert answer["applied"] == 0
    assert answer["rejected"][0]["reason"] == "not_sender_origin"
    missing = httpx.post(
        f"{sg.url}/api/v1/federation/batches",
        content=b"{}",
        headers={"Content-Type": "application/json"},
    )
    assert missing.status_code == 401 and missing.json()["code"] == "missing_signature"


def test_the_wire_format_refuses_fields_it_does_not_name(nodes):
    """A contribution carrying a reporter or evidence field is refused whole (422)."""
    sg, my = nodes["SG"], nodes["MY"]
    batch = batch_from(my)
    batch["contributions"][0]["evidence_ref"] = "case-1"
    response = signed_post(sg, my, encode(batch))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_batch"
    assert "evidence_ref" in response.json()["detail"]


def test_counts_are_kept_per_origin_so_nothing_is_double_counted(nodes):
    """SG and MY both list a number; TH holds two contributions and sums them once each."""
    sg, my, th = nodes["SG"], nodes["MY"], nodes["TH"]
    for node in (sg, my):
        node.post("/api/v1/reports", report("+65 8123 4567", verified=True, region="SG"))
        sync(node)
        sync(node)  # a retry changes nothing
    view = merged(th, "+6581234567")
    assert sorted(entry["country"] for entry in view.foreign) == ["MY", "SG"]
    assert sum(entry["report_count"] for entry in view.foreign) == 2


def test_reconciliation_resends_what_a_peer_lost(nodes):
    """After a peer loses a contribution, comparing digests finds and resends it."""
    sg, my = nodes["SG"], nodes["MY"]
    sg.post("/api/v1/reports", report("+65 8123 4567", verified=True))
    sg.post("/api/v1/reports", report("+65 9123 4567", verified=True))
    sync(sg)
    with transaction(my.app) as session:
        lost = session.scalars(
            select(Contribution).where(Contribution.value == "+6591234567")
        ).one()
        session.delete(lost)
    labels = {"peer": my.node_id, "outcome": "applied"}
    before = REGISTRY.get_sample_value("scamshare_peer_contributions_total", labels) or 0
    pusher = sg.pusher()
    try:
        report_ = pusher.reconcile_peer(my.node_id)
    finally:
        pusher.client.close()
    assert report_.error is None
    assert report_.applied == 1
    # /metrics counts what a reconciliation resent, as it counts a push's batches.
    assert REGISTRY.get_sample_value("scamshare_peer_contributions_total", labels) == before + 1
    assert set(contributions(my, sg.node_id)) == {
        ("phone", "+6581234567"),
        ("phone", "+6591234567"),
    }
    pusher = sg.pusher()
    try:
        assert pusher.reconcile_peer(my.node_id).sent == 0
    finally:
        pusher.client.close()


def test_operators_see_peer_listings_with_origin_and_local_policy(nodes):
    """MY's blocklist, deltas and lookups show SG's listing as SG's, with MY's policy for SG."""
    sg, my = nodes["SG"], nodes["MY"]
    with transaction(my.app) as session:
        session.scalars(select(Peer).where(Peer.node_id == sg.node_id)).one().policy = "warn"
    before = my.get("/api/v1/blocklist", my.operator, format="json").json()
    assert before["items"] == []
    sg.post("/api/v1/reports", report("+65 8123 4567", verified=True))
    sync(sg)
    listing = my.get("/api/v1/blocklist", my.operator, format="json").json()
    [item] = listing["items"]
    assert (item["value"], item["status"], item["risk"]) == ("+6581234567", "listed", "high")
    assert item["origins"] == [{"country": "SG", "policy": "warn"}]
    found = my.get("/api/v1/lookup", my.operator, value="+65 8123 4567").json()
    origins = [(origin["country"], origin["policy"]) for origin in found["origins"]]
    assert (found["status"], origins) == ("listed", [("SG", "warn")])
    only_sg = my.get("/api/v1/blocklist", my.operator, format="json", origin="SG").json()
    assert len(only_sg["items"]) == 1
    assert (
        my.get("/api/v1/blocklist", my.operator, format="json", origin="TH").json()["items"] == []
    )

    appeal = sg.post(
        "/api/v1/appeals",
        {"value": "+6581234567", "reason": "reassigned", "contact_ref": "t-1"},
        sg.operator,
    ).json()
    sg.post(f"/api/v1/appeals/{appeal['id']}/resolve", {"outcome": "delisted"})
    sync(sg)
    delta = my.get("/api/v1/blocklist", my.operator, format="json", since=listing["cursor"]).json()
    [removal] = delta["items"]
    assert (removal["value"], removal["action"], removal["reason"]) == (
        "+6581234567",
        "remove",
        "delisted",
    )
    assert my.get("/api/v1/blocklist", my.operator, format="json").json()["items"] == []
