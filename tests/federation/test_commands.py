"""The federation commands and admin API, as an operator of a node uses them."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest

from scamshare.clock import utcnow
from scamshare.federation import identity
from scamshare.public_keys import decode_public


@pytest.fixture
def run(cli):
    """Run scamshare commands against the test database and data directory."""
    return cli("SG")


def test_node_init_writes_a_private_key_only_its_owner_reads(run, tmp_path, client, keys):
    """The last line is the public key; the key file is 0600; the API shows the same key."""
    output = run("node", "init").output.strip().splitlines()
    public_key = output[-1]
    decode_public(public_key)
    key_file = Path(tmp_path) / identity.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = run("node", "init", ok=False)
    assert again.exit_code == 1 and "--force" in again.output
    shown = client.get("/api/v1/federation/node", headers=keys["operator"].headers)
    assert shown.status_code == 200
    assert shown.json["public_key"] == public_key
    assert shown.json["wire_version"] == 1


def test_node_without_a_key_says_how_to_make_one(client, keys):
    """Asking for the identity of an uninitialised node is a clear 409."""
    response = client.get("/api/v1/federation/node", headers=keys["operator"].headers)
    assert response.status_code == 409
    assert "scamshare node init" in response.json["detail"]


def test_peers_add_list_remove_from_the_command_line(run):
    """A peer can be registered, inspected and forgotten; bad input is refused by name."""
    other = identity.create(
        str(Path(run("node", "init").output and "/tmp") / "peer-key-test"), force=True
    )
    run(
        "peers",
        "add",
        "--node-id",
        "scamshare-my",
        "--country",
        "MY",
        "--url",
        "https://scamshare.mcmc.example",
        "--public-key",
        other.public_key,
        "--policy",
        "warn",
    )
    listing = run("peers", "list").output
    assert (
        "scamshare-my\tMY\twarn\thttps://scamshare.mcmc.example\tcursor: change 0\t"
        "lag: 0 changes unacknowledged\tnever synced" in listing
    )
    bad = run(
        "peers",
        "add",
        "--node-id",
        "x",
        "--country",
        "FR",
        "--url",
        "ftp://x",
        "--public-key",
        "short",
        ok=False,
    )
    assert bad.exit_code == 1
    assert "member state" in bad.output and "http" in bad.output
    run("peers", "remove", "scamshare-my")
    assert "scamshare-my" not in run("peers", "list").output


def test_sync_reports_each_peer_and_fails_when_one_is_down(run, tmp_path, client, keys):
    """`scamshare sync` prints per-peer outcomes and exits non-zero when a peer failed."""
    run("node", "init")
    other = identity.create(str(tmp_path / "peer"))
    report = {
        "kind": "phone",
        "value": "+6581234567",
        "category": "investment",
        "channel": "voice",
        "observed_at": (utcnow() - timedelta(days=1)).isoformat(),
        "evidence_ref": "case-1",
        "verified": True,
    }
    assert (
        client.post("/api/v1/reports", json=report, headers=keys["regulator"].headers).json[
            "accepted"
        ]
        == 1
    )
    run(
        "peers",
        "add",
        "--node-id",
        "scamshare-th",
        "--country",
        "TH",
        "--url",
        "http://127.0.0.1:9",
        "--public-key",
        other.public_key,
    )
    result = run("sync", ok=False)
    assert result.exit_code == 1
    assert "scamshare-th: sent 0 in 0 batch(es)" in result.output
    assert "FAILED: ConnectError" in result.output
    missing = run("sync", "--peer", "nobody", ok=False)
    assert "no peer 'nobody'" in missing.output


def test_admins_manage_peers_through_the_api_and_regulators_read_health(client, keys, tmp_path):
    """The admin API mirrors the commands; only admins change peers."""
    other = identity.create(str(tmp_path / "peer"))
    body = {
        "node_id": "scamshare-vn",
        "country": "VN",
        "url": "https://scamshare.vnta.example",
        "public_key": other.public_key,
    }
    refused = client.post("/api/v1/federation/peers", json=body, headers=keys["regulator"].headers)
    assert refused.status_code == 403
    created = client.post("/api/v1/federation/peers", json=body, headers=keys["admin"].headers)
    assert created.status_code == 201
    assert (created.json["policy"], created.json["lag"], created.json["cursor"]) == ("block", 0, 0)
    duplicate = client.post("/api/v1/federation/peers", json=body, headers=keys["admin"].headers)
    assert duplicate.status_code == 409
    health = client.get("/api/v1/federation/peers", headers=keys["regulator"].headers).json
    assert [peer["node_id"] for peer in health] == ["scamshare-vn"]
    gone = client.delete("/api/v1/federation/peers/scamshare-vn", headers=keys["admin"].headers)
    assert gone.status_code == 204
    assert client.get("/api/v1/federation/peers", headers=keys["admin"].headers).json == []
