"""The `scamshare` command: one module per command group, gathered here."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from scamshare import __version__
from scamshare.app import create_app
from scamshare.cli import (
    backup,
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
    users,
)


def _create_app() -> Flask:
    """Build the app for a command and release its database connections when it ends."""
    app = create_app()
    click.get_current_context().call_on_close(app.extensions["scamshare.engine"].dispose)
    return app


class ScamShareGroup(FlaskGroup):
    """Flask's command group without Flask's own options: the command is ScamShare's."""

    def __init__(self, **extra):
        """Keep FlaskGroup's app loading; drop -A/--app, -e/--env-file and --debug."""
        super().__init__(add_version_option=False, **extra)
        self.params = [
            param for param in self.params if param.name not in {"app", "env_file", "debug"}
        ]


@click.group(
    cls=ScamShareGroup,
    create_app=_create_app,
    add_default_commands=False,
    load_dotenv=False,
)
@click.version_option(__version__, prog_name="scamshare", message="%(prog)s %(version)s")
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
    backup.backup_command,
    backup.restore_command,
    users.users_group,
):
    main.add_command(_command)
