"""`scamshare backup` under load and `restore` elsewhere give back the same node."""

from __future__ import annotations

import threading
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, update

from scamshare import db
from scamshare.app import create_app
from scamshare.cli import main
from scamshare.federation import identity
from scamshare.models import AuditEntry, Peer
from tests import reporting


def submit_numbers(client, credential, first: int, count: int) -> None:
    """Submit verified reports of `count` distinct Singapore numbers."""
    reports = [
        reporting.report(f"+65 91{first + n:06d}", verified=True, evidence_ref=f"case-{first + n}")
        for n in range(count)
    ]
    answer = client.post("/api/v1/reports", json={"reports": reports}, headers=credential.headers)
    assert answer.status_code == 200 and answer.json["rejected"] == [], answer.json


def audit_log(app) -> list[tuple]:
    """Every audit entry, oldest first."""
    with db.transaction(app) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.id, r.at, r.action, r.target, r.outcome, r.details) for r in rows]


def listing(client, credential, **query) -> dict:
    """The blocklist as JSON."""
    response = client.get(
        "/api/v1/blocklist", query_string={"format": "json", **query}, headers=credential.headers
    )
    assert response.status_code == 200, response.json
    return response.json


def keyed(items: list[dict]) -> dict:
    """Items by (kind, value), without a delta's action and reason."""
    return {
        (item["kind"], item["value"]): {
            k: v for k, v in item.items() if k not in ("action", "reason")
        }
        for item in items
    }


def test_a_backup_under_load_restores_to_the_same_node(
    app, client, keys, cli, empty_database_url, tmp_path, monkeypatch
):
    """The restored list plus the original's delta since its cursor is the original's list."""
    regulator, operator = keys["regulator"], keys["operator"]
    submit_numbers(client, regulator, 0, 50)
    peer = identity.create(str(tmp_path / "peer"))
    client.post(
        "/api/v1/federation/peers",
        json={
            "node_id": "scamshare-my",
            "country": "MY",
            "url": "https://scamshare.mcmc.example",
            "public_key": peer.public_key,
        },
        headers=keys["admin"].headers,
    )
    with db.transaction(app) as session:
        session.execute(update(Peer).values(cursor=17))
    stop = threading.Event()

    def load() -> None:
        """Keep submitting while the backup runs."""
        writer = app.test_client()
        batch = 1
        while not stop.is_set():
            submit_numbers(writer, regulator, 1000 * batch, 20)
            batch += 1

    loader = threading.Thread(target=load)
    loader.start()
    try:
        backup_file = tmp_path / "backups" / "sg.backup"
        taken = cli("SG")("backup", str(backup_file))
    finally:
        stop.set()
        loader.join()
    assert "migration" in taken.output and backup_file.exists()
    original_audit = audit_log(app)

    monkeypatch.setenv("SCAMSHARE_DATABASE_URL", empty_database_url)
    restored_run = CliRunner().invoke(main, ["restore", str(backup_file)], catch_exceptions=False)
    assert restored_run.exit_code == 0, restored_run.output
    assert "cursor_ahead" in restored_run.output
    again = CliRunner().invoke(main, ["restore", str(backup_file)], catch_exceptions=False)
    assert again.exit_code == 1 and "not empty" in again.output

    restored = create_app(
        {
            "DATABASE_URL": empty_database_url,
            "DATA_DIR": str(Path(tmp_path / "restored")),
            "COUNTRY": "SG",
            "TESTING": True,
        }
    )
    try:
        restored_audit = audit_log(restored)
        assert restored_audit and restored_audit == original_audit[: len(restored_audit)]
        other = restored.test_client()
        restored_list = listing(other, operator)
        sequence = int(taken.output.rsplit("sequence ", 1)[1].split()[0])
        assert restored_list["cursor"] == sequence
        delta = listing(client, operator, since=restored_list["cursor"])
        healed = keyed(restored_list["items"])
        for item in delta["items"]:
            if item["action"] == "remove":
                healed.pop((item["kind"], item["value"]), None)
            else:
                healed[(item["kind"], item["value"])] = keyed([item])[(item["kind"], item["value"])]
        assert healed == keyed(listing(client, operator)["items"])
        assert len(restored_list["items"]) >= 50
        peers = other.get("/api/v1/federation/peers", headers=regulator.headers).json
        assert [(p["node_id"], p["cursor"]) for p in peers] == [("scamshare-my", 17)]
    finally:
        restored.extensions["scamshare.engine"].dispose()
