"""`scamshare node rotate-key`: peers take the new key unasked and retire the old one later."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select, update

from scamshare.cli import main
from scamshare.clock import utcnow
from scamshare.db import transaction
from scamshare.federation import identity
from scamshare.models import Peer
from tests import reporting
from tests.federation.peers import batch_from, encode, signed_post, sync


def rotate(node, monkeypatch) -> str:
    """Run `scamshare node rotate-key` as the node's administrator; return its output."""
    monkeypatch.setenv("SCAMSHARE_DATABASE_URL", node.app.config["DATABASE_URL"])
    monkeypatch.setenv("SCAMSHARE_DATA_DIR", node.app.config["DATA_DIR"])
    monkeypatch.setenv("SCAMSHARE_COUNTRY", node.country)
    monkeypatch.delenv("SCAMSHARE_NODE_KEY", raising=False)
    result = CliRunner().invoke(main, ["node", "rotate-key"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_rotated_key_keeps_sync_going_both_ways_and_retires_the_old_one(nodes, monkeypatch):
    """MY and TH take SG's new key from its announcement; SG's old key works only in the overlap."""
    sg, my, th = nodes["SG"], nodes["MY"], nodes["TH"]
    old = sg.identity
    output = rotate(sg, monkeypatch)
    assert f"{my.node_id}: took it" in output and f"{th.node_id}: took it" in output
    new = identity.load(sg.app.config["DATA_DIR"])
    assert output.strip().splitlines()[-1] == new.public_key != old.public_key
    for peer in (my, th):
        with transaction(peer.app) as session:
            held = session.scalars(select(Peer).where(Peer.node_id == sg.node_id)).one()
            assert (held.public_key, held.previous_public_key) == (new.public_key, old.public_key)
            overlap = held.previous_key_until - utcnow()
            assert timedelta(days=6, hours=23) < overlap <= timedelta(days=7)
    served = sg.get("/api/v1/federation/node").json()["public_key"]
    assert served == new.public_key

    sg.identity = new
    sg.post("/api/v1/reports", reporting.report("+65 8123 4567", verified=True))
    assert {p: (r.applied, r.error) for p, r in sync(sg).items()} == {
        my.node_id: (1, None),
        th.node_id: (1, None),
    }
    my.post("/api/v1/reports", reporting.report("+60 12-345 6789", verified=True))
    assert sync(my)[sg.node_id].applied == 1

    signed_by_old = replace(sg, identity=old)
    during = signed_post(my, signed_by_old, encode(batch_from(sg, version=90)))
    assert during.status_code == 200, during.json()
    with transaction(my.app) as session:  # the overlap ends
        session.execute(
            update(Peer)
            .where(Peer.node_id == sg.node_id)
            .values(previous_key_until=utcnow() - timedelta(seconds=1))
        )
    after = signed_post(my, signed_by_old, encode(batch_from(sg, version=91)))
    assert (after.status_code, after.json()["code"]) == (401, "bad_signature")
    still = signed_post(my, sg, encode(batch_from(sg, version=92)))
    assert still.status_code == 200
