"""`scamshare export stix`: write the node's listings as one STIX 2.1 bundle to a file."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from scamshare import db
from scamshare.cli.common import actor, current, fail
from scamshare.errors import DomainError
from scamshare.services import blocklist


@click.group("export")
def export_group() -> None:
    """Write the node's listings in another tool's format."""


@export_group.command("stix")
@click.option(
    "--output",
    "-o",
    type=click.File("wb"),
    default="-",
    show_default=True,
    help="Where to write the bundle (- for standard output).",
)
@click.option(
    "--since",
    type=click.IntRange(min=0),
    help="Only what changed after this cursor, removals as revoked versions.",
)
@with_appcontext
def export_stix(output, since: int | None) -> None:
    """Write every listing (or every change after --since) as a STIX 2.1 bundle."""
    app = current()
    with db.reader() as session:
        try:
            download = blocklist.open_download(
                session,
                "stix",
                blocklist.Filters(),
                app.config["COUNTRY"],
                since,
                app.config["TLP"],
            )
        except DomainError as error:
            fail(error)
        for chunk in download.chunks():
            output.write(chunk)
    with db.transaction(app) as log:
        blocklist.record_download(log, actor(), download, not_modified=False, gzip=False)
    if output.name != "<stdout>":
        click.echo(f"wrote the bundle at cursor {download.cursor} to {output.name}", err=True)
