"""`scamshare expire`: end the listings that outlived their kind's time to live, now."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from scamshare import db
from scamshare.cli.common import actor, current
from scamshare.clock import utcnow
from scamshare.services import expiry


@click.command("expire")
@with_appcontext
def expire_command() -> None:
    """End listings whose last report is older than their kind's time to live."""
    app = current()
    with db.transaction(app) as session:
        count = expiry.expire_due(session, app.extensions["scamshare.policy"], utcnow(), actor())
    click.echo(f"{count} expired")
