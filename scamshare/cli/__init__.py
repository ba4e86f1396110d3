"""The `scamshare` command: one module per command group, gathered here."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from scamshare.app import create_app
from scamshare.cli import (
    database,
    demo,
    expire,
    export,
    federation,
    import_reports,
    normalise,
    organisations,
    protected,
    serve,
)


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


for _command in (
    database.db_group,
    serve.serve,
    serve.scheduler_command,
    organisations.orgs_group,
    organisations.keys_group,
    import_reports.import_reports,
    protected.protected_group,
    expire.expire_command,
    export.export_group,
    normalise.normalise_command,
    federation.node_group,
    federation.peers_group,
    federation.sync_command,
    demo.demo_command,
):
    main.add_command(_command)
