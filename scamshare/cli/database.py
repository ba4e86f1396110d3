"""`scamshare db`: the database schema (Alembic migrations)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from scamshare import db, migrations


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrations.upgrade(
        db.engine(),
        revision,
        country=current_app.config["COUNTRY"],
        policy=current_app.extensions["scamshare.policy"],
    )
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
