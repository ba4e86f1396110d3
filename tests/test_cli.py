"""The `scamshare` command, through the same entry point a user types."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from tests import live_server


@pytest.fixture
def run(cli):
    """Run a scamshare command on the test database, as a Malaysian node."""
    return cli("MY")


def test_orgs_and_keys_lifecycle_from_the_command_line(run):
    """Create an organisation, issue a key, list both, revoke the key."""
    created = run("orgs", "create", "--name", "Maxis", "--role", "operator", "--country", "MY")
    assert "Maxis (operator, MY)" in created.output
    assert "Maxis\toperator\tMY" in run("orgs", "list").output

    issued = run("keys", "create", "--org", "Maxis")
    key = issued.output.strip().splitlines()[-1]
    assert re.fullmatch(r"ss\.k[0-9a-f]{12}\.[A-Za-z0-9_-]{40,}", key)
    key_id = key.split(".")[1]
    listing = run("keys", "list").output
    assert f"{key_id}\tMaxis\tactive\tnever used" in listing
    assert key.split(".")[2] not in listing

    run("keys", "revoke", key_id)
    assert f"{key_id}\tMaxis\trevoked" in run("keys", "list", "--org", "Maxis").output
    again = run("keys", "revoke", key_id, ok=False)
    assert again.exit_code == 1
    assert "already revoked" in again.output


def test_cli_errors_are_clear_and_nonzero(run):
    """Bad input fails with a message, not a traceback."""
    bad = run("orgs", "create", "--name", "X", "--role", "operator", "--country", "FR", ok=False)
    assert bad.exit_code == 1
    assert "Unknown country 'FR'" in bad.output
    missing = run("keys", "create", "--org", "Nobody", ok=False)
    assert "No organisation 'Nobody'" in missing.output


def test_cli_changes_are_audited(run, app):
    """Commands write audit entries with the local account as actor."""
    from scamshare.db import transaction
    from scamshare.services import audit

    run("orgs", "create", "--name", "U Mobile", "--role", "operator", "--country", "MY")
    run("keys", "create", "--org", "U Mobile")
    with transaction(app) as session:
        found, _ = audit.search(session, audit.AuditFilter(limit=10))
        actions = [(e.action, e.organisation_name.startswith("cli:")) for e in found]
    assert actions[:2] == [("key.create", True), ("org.create", True)]


def test_db_commands_report_the_revision(run):
    """`db current` names the newest migration once `db upgrade` ran."""
    from scamshare.migrations import head_revision

    run("db", "upgrade")
    output = run("db", "current").output
    assert f"current: {head_revision()}" in output
    assert f"head: {head_revision()}" in output


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_creates_the_database_prints_keys_and_serves(tmp_path):
    """`scamshare serve` on an empty data directory is ready to use in one command."""
    port = free_port()
    env = {
        **os.environ,
        "SCAMSHARE_DATA_DIR": str(tmp_path / "data"),
        "SCAMSHARE_COUNTRY": "TH",
    }
    env.pop("SCAMSHARE_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "scamshare", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines, keys = live_server.startup(process.stdout)
        assert set(keys) == {"admin", "regulator", "operator", "law_enforcement"}
        assert any("NBTC" in line for line in lines)
        assert (tmp_path / "data" / "scamshare.db").exists()
        base = f"http://127.0.0.1:{port}"
        ready = live_server.wait_ready(base)
        assert ready.status_code == 200
        node = httpx.get(
            f"{base}/api/v1/node", headers={"Authorization": f"Bearer {keys['regulator']}"}
        )
        assert node.json()["country"] == "TH"
        busy = subprocess.run(
            [sys.executable, "-m", "scamshare", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert busy.returncode == 1
        assert busy.stderr.strip().splitlines() == [
            f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
        ]
        assert "API docs" not in busy.stdout
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        process.stdout.close()
    restarted = subprocess.Popen(
        [sys.executable, "-m", "scamshare", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        again = [restarted.stdout.readline() for _ in range(3)]
    finally:
        restarted.send_signal(signal.SIGINT)
        restarted.wait(timeout=10)
        restarted.stdout.close()
    assert "scamshare keys create --org NAME" in again[2], again


def test_version_and_help_are_scamshares(cli):
    """`--version` names ScamShare's version; `--help` shows its commands, not Flask's options."""
    from scamshare import __version__

    run = cli("MY")
    assert run("--version").output == f"scamshare {__version__}\n"
    usage = run("--help").output
    for command in ("serve", "demo", "peers", "sync", "backup", "restore"):
        assert f"  {command} " in usage
    for flask_option in ("--app", "--env-file", "--debug", "Flask"):
        assert flask_option not in usage
