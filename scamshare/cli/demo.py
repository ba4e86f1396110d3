"""`scamshare demo`: three member-state nodes on loopback, federating, ready to explore."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

import click
import httpx
import waitress

from scamshare import bootstrap
from scamshare.app import create_app
from scamshare.clock import utcnow
from scamshare.federation.push import Pusher, http_client
from scamshare.services import audit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "reports.json"
COUNTRIES = ("SG", "MY", "TH")


class DemoNode:
    """One demo node: its app, server, identity and the sample keys printed at creation."""

    def __init__(self, country: str, base: Path, port: int):
        """Create the node's database, sample organisations and keys, and its identity."""
        self.country = country
        self.port = port
        data_dir = base / country.lower()
        self.app = create_app(
            {"COUNTRY": country, "DATA_DIR": str(data_dir), "LOG_REQUESTS": False}
        )
        setup = bootstrap.set_up_node(self.app, replace_identity=True)
        self.keys = {role: issued.key for role, issued in setup.keys.items()}
        self.identity = setup.identity
        self.server = waitress.create_server(self.app, host="127.0.0.1", port=port, threads=4)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def node_id(self) -> str:
        """The node's id."""
        return self.app.config["NODE_ID"]

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def headers(self, role: str = "regulator") -> dict:
        """Authorization for one of its sample organisations."""
        return {"Authorization": f"Bearer {self.keys[role]}"}


def run(base_port: int, base: Path, nodes: list[DemoNode], echo=click.echo) -> list[DemoNode]:
    """Start the nodes, peer them, submit the sample reports, sync once and print the lists.

    Each node is appended to `nodes` as soon as it exists, so the caller can stop it on Ctrl-C.
    """
    for i, country in enumerate(COUNTRIES):
        nodes.append(DemoNode(country, base, base_port + i))
        nodes[-1].thread.start()
    bootstrap.peer_each_other(
        nodes,
        policy=lambda country: "block" if country != "TH" else "warn",
        actor=audit.Actor(organisation_name="demo"),
    )
    samples = json.loads(FIXTURES.read_text())
    observed = (utcnow() - timedelta(hours=6)).isoformat()
    with httpx.Client(timeout=30) as client:
        for node in nodes:
            reports = [{**r, "observed_at": observed} for r in samples[node.country]]
            answer = client.post(
                f"{node.url}/api/v1/reports", json={"reports": reports}, headers=node.headers()
            ).json()
            echo(f"{node.country}: submitted {len(reports)} reports, accepted {answer['accepted']}")
        for node in nodes:
            with http_client(node.app.config) as peer_client:
                pusher = Pusher(node.app, node.identity, peer_client)
                for report in pusher.push_all(force=True):
                    echo(
                        f"{node.country} -> {report.peer}: sent {report.sent}, "
                        f"applied {report.applied}, rejected {report.rejected}"
                        + (f", FAILED {report.error}" if report.error else "")
                    )
        for node in nodes:
            listing = client.get(
                f"{node.url}/api/v1/blocklist", params={"format": "json"}, headers=node.headers()
            ).json()
            echo(f"\n{node.country} node {node.node_id} lists {len(listing['items'])} values:")
            for item in listing["items"]:
                origins = ", ".join(f"{o['country']} ({o['policy']})" for o in item["origins"])
                echo(f"  {item['kind']:<10} {item['value']:<45} {item['status']:<9} {origins}")
    echo("\nThe nodes keep serving until you press Ctrl-C. To explore them:")
    for node in nodes:
        echo(
            f"\n  {node.country}: {node.url}/api/v1/docs   (data in {node.app.config['DATA_DIR']})"
        )
        for role, key in node.keys.items():
            echo(f"    {role:<16} {key}")
    return nodes


@click.command("demo")
@click.option("--base-port", default=8701, show_default=True, help="SG, MY, TH use 3 ports from it")
@click.option("--data-dir", default=None, help="Where the three nodes keep their data (temp dir)")
def demo_command(base_port: int, data_dir: str | None) -> None:
    """Start SG, MY and TH nodes on loopback, federate sample reports, keep serving.

    Without --data-dir the nodes live in a temporary folder, removed on exit (Ctrl-C included).
    """
    base = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="scamshare-demo-"))
    nodes: list[DemoNode] = []
    try:
        run(base_port, base, nodes)
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        for node in nodes:
            node.server.close()
            node.app.extensions["scamshare.engine"].dispose()
        if not data_dir:
            shutil.rmtree(base, ignore_errors=True)
            click.echo(f"removed {base}")
