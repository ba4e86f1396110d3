"""`scamshare protected`: the values this node never lists."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from scamshare import db
from scamshare.bootstrap import load_protected
from scamshare.cli.common import actor, current, fail
from scamshare.clock import utcnow
from scamshare.config import MEMBER_STATES
from scamshare.errors import DomainError
from scamshare.services import protected as protected_service
from schemas.protected import PROTECTED_CATEGORIES, PROTECTED_KINDS


@click.group("protected")
def protected_group() -> None:
    """Protected values: numbers, sender IDs and domains this node never lists."""


@protected_group.command("add")
@click.argument("value")
@click.option("--kind", type=click.Choice(PROTECTED_KINDS), default="phone", show_default=True)
@click.option("--label", required=True, help="Whose value it is, e.g. 'DBS customer service'")
@click.option("--category", required=True, type=click.Choice(PROTECTED_CATEGORIES))
@click.option("--region", default=None, help="Region to read national numbers in (default: node)")
@with_appcontext
def protected_add(value: str, kind: str, label: str, category: str, region: str | None) -> None:
    """Protect VALUE; its existing indicators become protected at once."""
    app = current()
    try:
        with db.transaction(app) as session:
            added = protected_service.add(
                session,
                app.extensions["scamshare.policy"],
                actor(),
                protected_service.Entry(
                    kind, value, label, category, region or app.config["COUNTRY"]
                ),
                utcnow(),
            )
    except DomainError as error:
        fail(error)
    click.echo(
        f"protected {added['kind']} {added['value']} (id {added['id']}); "
        f"{added['indicators_changed']} indicators changed"
    )


@protected_group.command("list")
@click.option("--kind", type=click.Choice(PROTECTED_KINDS), default=None)
@click.option("--category", type=click.Choice(PROTECTED_CATEGORIES), default=None)
@with_appcontext
def protected_list(kind: str | None, category: str | None) -> None:
    """List protected values: id, kind, value, category, label, source, reports against it."""
    with db.transaction(current()) as session:
        cursor = None
        while True:
            items, cursor = protected_service.list_values(
                session, kind=kind, category=category, after=cursor, limit=1000
            )
            for item in items:
                click.echo(
                    f"{item['id']}\t{item['kind']}\t{item['value']}\t{item['category']}\t"
                    f"{item['label']}\t{item['source']}\t{item['impersonation_reports']}"
                )
            if cursor is None:
                break


@protected_group.command("remove")
@click.argument("value")
@click.option("--kind", type=click.Choice(PROTECTED_KINDS), default="phone", show_default=True)
@click.option("--region", default=None, help="Region to read national numbers in (default: node)")
@with_appcontext
def protected_remove(value: str, kind: str, region: str | None) -> None:
    """Take VALUE off the protected list; its indicators are settled again."""
    app = current()
    try:
        with db.transaction(app) as session:
            row = protected_service.find(session, kind, value, region or app.config["COUNTRY"])
            removed = protected_service.remove(
                session, app.extensions["scamshare.policy"], actor(), row.id, utcnow()
            )
    except DomainError as error:
        fail(error)
    click.echo(
        f"removed {removed['kind']} {removed['value']} (id {removed['id']}); "
        f"{removed['indicators_changed']} indicators changed"
    )


@protected_group.command("load")
@click.option(
    "--country",
    type=click.Choice(MEMBER_STATES, case_sensitive=False),
    default=None,
    help="Member state whose fixtures/protected/<CC>.json to load (default: the node's)",
)
@with_appcontext
def protected_load(country: str | None) -> None:
    """Load a member state's protected values; values already on the list are skipped."""
    app = current()
    country = (country or app.config["COUNTRY"]).upper()
    try:
        with db.transaction(app) as session:
            loaded = load_protected(app, session, actor(), country)
    except DomainError as error:
        fail(error)
    click.echo(
        f"{country}: {loaded.added} protected values added, {loaded.present} already present; "
        f"{loaded.indicators_changed} indicators changed"
    )
