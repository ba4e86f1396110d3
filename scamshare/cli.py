"""The `scamshare` command."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.engine import make_url

from scamshare import db, migrations
from scamshare.app import create_app
from scamshare.errors import DomainError
from scamshare.services import audit
from scamshare.services import organisations as orgs_service

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _actor() -> audit.Actor:
    """The audit actor of a command: the local account that ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return audit.Actor(organisation_name=f"cli:{user}")


def _app() -> Flask:
    """Return the app behind the current command."""
    return current_app._get_current_object()


def _fail(error: DomainError) -> None:
    """Turn a domain error into a clean command failure."""
    raise click.ClickException(error.message)


def _create_app() -> Flask:
    """Build the app for a command and release its database connections when it ends."""
    app = create_app()
    click.get_current_context().call_on_close(app.extensions["scamshare.engine"].dispose)
    return app


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    load_dotenv=False,
)
def main() -> None:
    """ScamShare node: submissions, indicators, blocklists and federation."""


# --- database ---------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrations.upgrade(db.engine(), revision)
    click.echo(f"database at {migrations.current_revision(db.engine())}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION ('base' empties the database)."""
    migrations.downgrade(db.engine(), revision)
    click.echo(f"database at {migrations.current_revision(db.engine())}")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the database's migration and the newest one."""
    click.echo(f"current: {migrations.current_revision(db.engine())}")
    click.echo(f"head: {migrations.head_revision()}")


def initialise(app: Flask) -> list[tuple[str, str, str]]:
    """Create the schema and load the sample organisations on an empty database.

    Returns (organisation, role, key) for every key it issued, or nothing when the database
    already existed.
    """
    engine = app.extensions["scamshare.engine"]
    if not migrations.is_empty(engine):
        migrations.upgrade(engine)
        return []
    migrations.upgrade(engine)
    samples = json.loads((FIXTURES / "organisations.json").read_text())
    country = app.config["COUNTRY"]
    issued = []
    with db.transaction(app) as session:
        for entry in samples["node"] + samples["countries"][country]:
            org = orgs_service.create_organisation(
                session, audit.NODE, name=entry["name"], role=entry["role"], country=country
            )
            key = orgs_service.create_key(session, audit.NODE, org)
            issued.append((org.name, org.role, key.key))
    return issued


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Worker threads.")
@with_appcontext
def serve(host: str, port: int, threads: int) -> None:
    """Serve the API with waitress, creating and migrating the database on first start."""
    import waitress

    app = _app()
    issued = initialise(app)
    url = make_url(app.config["DATABASE_URL"])
    click.echo(f"ScamShare node {app.config['NODE_ID']} ({app.config['COUNTRY']})")
    click.echo(f"database: {url.render_as_string(hide_password=True)}")
    if issued:
        click.echo("New database: sample organisations and their API keys (shown only now):")
        for name, role, key in issued:
            click.echo(f"  {role:<16} {name:<40} {key}")
    click.echo(f"API docs: http://{host}:{port}/api/v1/docs")
    waitress.serve(app, host=host, port=port, threads=threads, ident="scamshare")


# --- organisations and keys -------------------------------------------------------------------


@main.group("orgs")
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
        with db.transaction(_app()) as session:
            org = orgs_service.create_organisation(
                session, _actor(), name=name, role=role, country=country
            )
            click.echo(f"created organisation {org.id}: {org.name} ({org.role}, {org.country})")
    except DomainError as error:
        _fail(error)


@orgs_group.command("list")
@with_appcontext
def orgs_list() -> None:
    """List organisations."""
    with db.transaction(_app()) as session:
        for org in orgs_service.list_organisations(session):
            click.echo(f"{org.id}\t{org.name}\t{org.role}\t{org.country}")


@main.group("keys")
def keys_group() -> None:
    """API keys."""


@keys_group.command("create")
@click.option("--org", "organisation", required=True, help="Organisation name or id")
@with_appcontext
def keys_create(organisation: str) -> None:
    """Issue a key; the key itself is printed alone on the last line, once."""
    try:
        with db.transaction(_app()) as session:
            org = orgs_service.find_organisation(session, organisation)
            issued = orgs_service.create_key(session, _actor(), org)
    except DomainError as error:
        _fail(error)
    click.echo(f"key {issued.record.key_id} for {org.name}; store it now, it is not shown again:")
    click.echo(issued.key)


@keys_group.command("list")
@click.option("--org", "organisation", default=None, help="Only this organisation's keys")
@with_appcontext
def keys_list(organisation: str | None) -> None:
    """List keys (never their secrets)."""
    try:
        with db.transaction(_app()) as session:
            org = orgs_service.find_organisation(session, organisation) if organisation else None
            for key in orgs_service.list_keys(session, org):
                state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
                used = key.last_used_at.isoformat() if key.last_used_at else "never used"
                click.echo(f"{key.key_id}\t{key.organisation.name}\t{state}\t{used}")
    except DomainError as error:
        _fail(error)


@keys_group.command("revoke")
@click.argument("key_id")
@with_appcontext
def keys_revoke(key_id: str) -> None:
    """Revoke a key at once."""
    try:
        with db.transaction(_app()) as session:
            orgs_service.revoke_key(session, _actor(), key_id)
    except DomainError as error:
        _fail(error)
    click.echo(f"revoked {key_id}")


def _register_commands() -> None:
    """Add the commands that live next to their own domain code."""
    from scamshare.cli_normalise import normalise_command

    main.add_command(normalise_command)


_register_commands()
