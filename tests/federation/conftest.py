"""Real nodes on loopback: each its own database, key, peer registry and waitress server."""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from scamshare.app import create_app
from scamshare.bootstrap import OrganisationKey, peer_each_other, set_up_node
from scamshare.federation import identity
from scamshare.federation.push import Pusher
from tests.conftest import POSTGRES_URL, Credential, _admin_engine

_numbers = itertools.count()


@dataclass
class Node:
    """One running node and what a test needs to drive it."""

    country: str
    app: object
    identity: identity.NodeIdentity
    regulator: Credential
    operator: Credential
    port: int = 0
    server: object = None
    thread: threading.Thread | None = None
    peers: list[str] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        """The node's id."""
        return self.app.config["NODE_ID"]

    @property
    def url(self) -> str:
        """The node's base URL on loopback."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve the node on a real loopback socket (a free port the first time)."""
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and release the port (the database stays)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None

    def pusher(self, **overrides) -> Pusher:
        """A pusher for this node that does not really sleep between retries."""
        client = httpx.Client(timeout=httpx.Timeout(5.0))
        return Pusher(self.app, self.identity, client, sleep=lambda seconds: None, **overrides)

    def get(self, path: str, credential: Credential | None = None, **params) -> httpx.Response:
        """GET from the node's API as one of its organisations."""
        credential = credential or self.regulator
        return httpx.get(f"{self.url}{path}", params=params, headers=credential.headers, timeout=10)

    def post(self, path: str, body, credential: Credential | None = None) -> httpx.Response:
        """POST JSON to the node's API as one of its organisations."""
        credential = credential or self.regulator
        return httpx.post(f"{self.url}{path}", json=body, headers=credential.headers, timeout=10)


def _credential(issued: OrganisationKey) -> Credential:
    """The test's view of a key the node setup issued."""
    return Credential(
        issued.organisation_id, issued.organisation, issued.role, issued.key_id, issued.key
    )


def _database(template: str, name: str, tmp_path) -> str:
    """A fresh migrated database for one node."""
    if POSTGRES_URL:
        admin = _admin_engine()
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        admin.dispose()
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    import shutil

    path = tmp_path / f"{name}.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def nodes(template_database, tmp_path, request):
    """Start SG, MY and TH nodes, each peered with the other two."""
    countries = getattr(request, "param", ("SG", "MY", "TH"))
    started: list[Node] = []
    names = []
    for country in countries:
        name = f"scamshare_n_{os.getpid()}_{next(_numbers)}_{country.lower()}"
        names.append(name)
        data_dir = tmp_path / country
        app = create_app(
            {
                "DATABASE_URL": _database(template_database, name, tmp_path),
                "DATA_DIR": str(data_dir),
                "COUNTRY": country,
                "LOG_REQUESTS": False,
                "FEDERATION_ATTEMPTS": 2,
            }
        )
        setup = set_up_node(
            app, [(f"{country} regulator", "regulator"), (f"{country} operator", "operator")]
        )
        node = Node(
            country,
            app,
            setup.identity,
            _credential(setup.keys["regulator"]),
            _credential(setup.keys["operator"]),
        )
        node.start()
        started.append(node)
    peer_each_other(started)
    yield {node.country: node for node in started}
    for node in started:
        node.stop()
        node.app.extensions["scamshare.engine"].dispose()
    if POSTGRES_URL:
        admin = _admin_engine()
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
