"""`scamshare node`, `peers` and `sync`: this node's identity, its peers, one sync now."""

from __future__ import annotations

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.cli import with_appcontext

from scamshare import db
from scamshare.cli.common import current
from scamshare.clock import utcnow
from scamshare.errors import DomainError
from scamshare.federation import identity, rotation
from scamshare.federation.push import Pusher, http_client
from scamshare.services import audit
from scamshare.services import peers as peers_service


def _actor() -> audit.Actor:
    """The audit actor of a federation command."""
    return audit.Actor(organisation_name="cli")


def pusher_for(app: Flask) -> Pusher:
    """A pusher with this node's identity and a real HTTP client."""
    try:
        node = identity.load(app.config["DATA_DIR"], app.config["NODE_KEY"])
    except identity.IdentityError as error:
        raise click.ClickException(str(error)) from None
    return Pusher(app, node, http_client(app.config))


@click.group("node")
def node_group() -> None:
    """This node's federation identity."""


@node_group.command("init")
@click.option("--force", is_flag=True, help="Replace an existing key (peers must re-register).")
@with_appcontext
def node_init(force: bool) -> None:
    """Create the node's Ed25519 key pair; the public key is printed alone on the last line."""
    app = current()
    if app.config["NODE_KEY"]:
        node = identity.load(app.config["DATA_DIR"], app.config["NODE_KEY"])
        click.echo("using the key in SCAMSHARE_NODE_KEY; its public key:")
    else:
        try:
            node = identity.create(app.config["DATA_DIR"], force=force)
        except identity.IdentityError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"private key written to {identity.key_path(app.config['DATA_DIR'])} (0600)")
        click.echo(f"node {app.config['NODE_ID']} ({app.config['COUNTRY']}); public key:")
    click.echo(node.public_key)


@node_group.command("show")
@with_appcontext
def node_show() -> None:
    """Print the node's id and country; its public key is alone on the last line."""
    app = current()
    try:
        node = identity.load(app.config["DATA_DIR"], app.config["NODE_KEY"])
    except identity.IdentityError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"node {app.config['NODE_ID']} ({app.config['COUNTRY']}); public key:")
    click.echo(node.public_key)


@node_group.command("rotate-key")
@click.option(
    "--even-if-unreachable",
    is_flag=True,
    help="Switch even if some peers did not take the announcement (they must re-register).",
)
@with_appcontext
def node_rotate_key(even_if_unreachable: bool) -> None:
    """Make a new key, announce it to every peer signed with the old one, then switch to it."""
    app = current()
    if app.config["NODE_KEY"]:
        raise click.ClickException(
            "the key comes from SCAMSHARE_NODE_KEY: rotate it where that variable is set"
        )
    data_dir = app.config["DATA_DIR"]
    try:
        old = identity.load(data_dir)
    except identity.IdentityError as error:
        raise click.ClickException(str(error)) from None
    new = identity.NodeIdentity(Ed25519PrivateKey.generate())
    with db.transaction(app) as session:
        peers = peers_service.list_peers(session)
        session.expunge_all()
    with http_client(app.config) as client:
        answers = rotation.announce(
            client, peers, old, app.config["NODE_ID"], new.public_key, utcnow()
        )
    for answer in answers:
        click.echo(f"{answer.peer}: " + (f"FAILED {answer.error}" if answer.error else "took it"))
    failed = [answer.peer for answer in answers if answer.error]
    if failed and not even_if_unreachable:
        raise click.ClickException(
            f"{len(failed)} peer(s) did not take the new key; nothing changed here. Run again "
            "when they answer, or pass --even-if-unreachable."
        )
    path = identity.key_path(data_dir)
    identity.write(path.with_name("node_key.previous.pem"), old)
    identity.write(path, new)
    with db.transaction(app) as session:
        audit.record(
            session,
            _actor(),
            "node.rotate_key",
            details={"peers": len(answers), "failed": failed},
        )
    click.echo(f"new key in {path}; the old one kept in {path.with_name('node_key.previous.pem')}")
    click.echo(f"node {app.config['NODE_ID']} ({app.config['COUNTRY']}); new public key:")
    click.echo(new.public_key)


@click.group("peers")
def peers_group() -> None:
    """Peer nodes of other member states."""


@peers_group.command("add")
@click.option("--node-id", required=True)
@click.option("--country", required=True)
@click.option(
    "--url", required=True, help="Base URL of the peer node, e.g. https://scamshare.mcmc.gov.my"
)
@click.option("--public-key", required=True, help="The peer's public key (from its `node init`)")
@click.option("--policy", type=click.Choice(["block", "warn"]), default="block", show_default=True)
@with_appcontext
def peers_add(node_id: str, country: str, url: str, public_key: str, policy: str) -> None:
    """Register a peer and how this node's operators treat its listings."""
    app = current()
    try:
        with db.transaction(app) as session:
            peers_service.add_peer(
                session,
                _actor(),
                peers_service.Registration(node_id, country, url, public_key, policy),
                app.extensions["scamshare.policy"],
            )
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"peer {node_id} ({country.upper()}) added with policy {policy}")


@peers_group.command("list")
@with_appcontext
def peers_list() -> None:
    """List peers with their sync health."""
    with db.transaction(current()) as session:
        for peer in peers_service.list_peers(session):
            health = (
                f"failing x{peer.consecutive_failures}: {peer.last_error}"
                if peer.consecutive_failures
                else f"ok {peer.last_success_at.isoformat()}"
                if peer.last_success_at
                else "never synced"
            )
            click.echo(
                f"{peer.node_id}\t{peer.country}\t{peer.policy}\t{peer.url}\t"
                f"cursor: change {peer.cursor}\t"
                f"lag: {peers_service.lag(session, peer)} changes unacknowledged\t{health}"
            )


@peers_group.command("remove")
@click.argument("node_id")
@with_appcontext
def peers_remove(node_id: str) -> None:
    """Forget a peer."""
    app = current()
    try:
        with db.transaction(app) as session:
            peers_service.remove_peer(
                session, _actor(), node_id, app.extensions["scamshare.policy"]
            )
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"peer {node_id} removed")


@click.command("sync")
@click.option("--peer", "peer_id", default=None, help="Only this peer")
@with_appcontext
def sync_command(peer_id: str | None) -> None:
    """Push to peers now and print what was sent, applied and rejected, per peer."""
    pusher = pusher_for(current())
    try:
        reports = pusher.push_all(peer_id, force=True)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    finally:
        pusher.client.close()
    if not reports:
        click.echo("no peers registered")
    failed = False
    for report in reports:
        line = (
            f"{report.peer}: sent {report.sent} in {report.batches} batch(es), "
            f"applied {report.applied}, ignored {report.ignored}, rejected {report.rejected}, "
            f"cursor {report.cursor}"
        )
        if report.reasons:
            line += f" (rejected because: {', '.join(sorted(set(report.reasons)))})"
        if report.error:
            failed = True
            line += f"; FAILED: {report.error}"
        click.echo(line)
    if failed:
        raise SystemExit(1)
