"""`scamshare orgs` and `scamshare keys`: the node's organisations and their API keys."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from scamshare import db
from scamshare.cli.common import actor, current, fail
from scamshare.errors import DomainError
from scamshare.services import organisations as orgs_service


@click.group("orgs")
def orgs_group() -> None:
    """Organisations of this node."""


@orgs_group.command("create")
@click.option("--name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["regulator", "operator", "law_enforcement", "peer_node", "admin"]),
)
@click.option("--country", required=True, help="ISO 3166 alpha-2 of a member state")
@with_appcontext
def orgs_create(name: str, role: str, country: str) -> None:
    """Create an organisation."""
    try:
        with db.transaction(current()) as session:
            org = orgs_service.create_organisation(
                session, actor(), name=name, role=role, country=country
            )
            click.echo(f"created organisation {org.id}: {org.name} ({org.role}, {org.country})")
    except DomainError as error:
        fail(error)


@orgs_group.command("list")
@with_appcontext
def orgs_list() -> None:
    """List organisations."""
    with db.transaction(current()) as session:
        for org in orgs_service.list_organisations(session):
            click.echo(f"{org.id}\t{org.name}\t{org.role}\t{org.country}")


@click.group("keys")
def keys_group() -> None:
    """API keys."""


@keys_group.command("create")
@click.option("--org", "organisation", required=True, help="Organisation name or id")
@with_appcontext
def keys_create(organisation: str) -> None:
    """Issue a key; the key itself is printed alone on the last line, once."""
    try:
        with db.transaction(current()) as session:
            org = orgs_service.find_organisation(session, organisation)
            issued = orgs_service.create_key(session, actor(), org)
    except DomainError as error:
        fail(error)
    click.echo(f"key {issued.record.key_id} for {org.name}; store it now, it is not shown again:")
    click.echo(issued.key)


@keys_group.command("list")
@click.option("--org", "organisation", default=None, help="Only this organisation's keys")
@with_appcontext
def keys_list(organisation: str | None) -> None:
    """List keys (never their secrets)."""
    try:
        with db.transaction(current()) as session:
            org = orgs_service.find_organisation(session, organisation) if organisation else None
            for key in orgs_service.list_keys(session, org):
                state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
                used = key.last_used_at.isoformat() if key.last_used_at else "never used"
                click.echo(f"{key.key_id}\t{key.organisation.name}\t{state}\t{used}")
    except DomainError as error:
        fail(error)


@keys_group.command("revoke")
@click.argument("key_id")
@with_appcontext
def keys_revoke(key_id: str) -> None:
    """Revoke a key at once."""
    try:
        with db.transaction(current()) as session:
            orgs_service.revoke_key(session, actor(), key_id)
    except DomainError as error:
        fail(error)
    click.echo(f"revoked {key_id}")
