"""The production recipe of docs/deploy.md: gunicorn with deploy/gunicorn.conf.py, one scheduler."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url

from scamshare.cli import main
from tests.conftest import POSTGRES_URL, _admin_engine

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def empty_databases(tmp_path):
    """Two empty databases, on PostgreSQL when the suite runs there (as the recipe says)."""
    if not POSTGRES_URL:
        yield [f"sqlite:///{tmp_path / f'node{n}.db'}" for n in range(2)]
        return
    names = [f"scamshare_deploy_{os.getpid()}_{n}" for n in range(2)]
    admin = _admin_engine()
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield [
        make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        for name in names
    ]
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def command(env: dict, *args: str) -> str:
    """Run one `scamshare` command line with a node's environment; return its output."""
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def set_up(country: str, database_url: str, data_dir: Path, port: int) -> dict:
    """docs/deploy.md's first steps: environment, schema, node key, organisations and keys."""
    env = {
        "SCAMSHARE_COUNTRY": country,
        "SCAMSHARE_DATA_DIR": str(data_dir),
        "SCAMSHARE_DATABASE_URL": database_url,
        "SCAMSHARE_BIND": f"127.0.0.1:{port}",
        "SCAMSHARE_WORKERS": "2",
        "SCAMSHARE_THREADS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "metrics"),
        "SCAMSHARE_PUSH_INTERVAL_SECONDS": "2",  # the recipe's 900, shortened for the test
        "SCAMSHARE_LOG_LEVEL": "WARNING",
    }
    command(env, "db", "upgrade")
    public_key = command(env, "node", "init").strip().splitlines()[-1]
    keys = {}
    for role in ("admin", "regulator", "operator"):
        command(
            env,
            "orgs",
            "create",
            "--name",
            f"{country} {role}",
            "--role",
            role,
            "--country",
            country,
        )
        keys[role] = (
            command(env, "keys", "create", "--org", f"{country} {role}").strip().splitlines()[-1]
        )
    return {"env": env, "public_key": public_key, "keys": keys, "url": f"http://127.0.0.1:{port}"}


def start(stack: ExitStack, node: dict, *argv: str) -> None:
    """Start one of the recipe's processes; stop it (SIGTERM, as systemd does) at the end."""
    process = subprocess.Popen(
        list(argv),
        cwd=ROOT,
        env={**os.environ, **node["env"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        """Stop the process and wait for it."""
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    stack.callback(stop)


def wait_for(condition, what: str, seconds: float = 90):
    """Poll until `condition()` is truthy; fail naming `what` when it never is."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except httpx.TransportError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_nodes_served_as_the_recipe_says_sync_on_schedule(empty_databases, tmp_path):
    """gunicorn serves, the separate scheduler pushes SG's listing to MY, /metrics sees it."""
    sg = set_up("SG", empty_databases[0], tmp_path / "sg", free_port())
    my = set_up("MY", empty_databases[1], tmp_path / "my", free_port())
    for here, there, country in ((sg, my, "MY"), (my, sg, "SG")):
        command(
            here["env"], "peers", "add", "--node-id", f"scamshare-{country.lower()}",
            "--country", country, "--url", there["url"], "--public-key", there["public_key"],
        )  # fmt: skip
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"]
    with ExitStack() as stack:
        for node in (sg, my):
            start(stack, node, *gunicorn)
            start(stack, node, sys.executable, "-m", "scamshare", "scheduler")
        for node in (sg, my):
            wait_for(lambda n=node: httpx.get(f"{n['url']}/readyz").status_code == 200, "readyz")
        observed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        submitted = httpx.post(
            f"{sg['url']}/api/v1/reports",
            json={
                "kind": "phone",
                "value": "+65 8123 4567",
                "category": "investment",
                "channel": "voice",
                "observed_at": observed,
                "evidence_ref": "case-1",
                "verified": True,
            },
            headers={"Authorization": f"Bearer {sg['keys']['regulator']}"},
        )
        assert submitted.status_code == 200, submitted.text

        def listed_on_my() -> bool:
            """Whether MY's operators now see SG's number."""
            answer = httpx.get(
                f"{my['url']}/api/v1/lookup",
                params={"value": "+6581234567"},
                headers={"Authorization": f"Bearer {my['keys']['operator']}"},
            )
            return answer.json().get("listed") is True

        wait_for(listed_on_my, "the scheduled push from SG to MY")

        def sample(name: str, **labels: str) -> float:
            """One metric of SG as any of its gunicorn workers reports it (all processes')."""
            scrape = httpx.get(
                f"{sg['url']}/metrics", headers={"Authorization": f"Bearer {sg['keys']['admin']}"}
            )
            return sum(
                found.value
                for family in text_string_to_metric_families(scrape.text)
                for found in family.samples
                if found.name == name and found.labels == labels
            )

        runs = wait_for(
            lambda: sample("scamshare_scheduler_job_runs_total", job="push", outcome="ok"),
            "the scheduler's push runs in /metrics",
            30,
        )
        assert runs >= 1
        applied = {"peer": "scamshare-my", "outcome": "applied"}
        # MY may list the value a moment before SG's push run records what it delivered.
        wait_for(
            lambda: sample("scamshare_peer_contributions_total", **applied),
            "the push's applied count in /metrics",
            30,
        )
        assert sample("scamshare_peer_contributions_total", **applied) == 1
        assert sample("scamshare_peer_lag_changes", peer="scamshare-my") == 0
