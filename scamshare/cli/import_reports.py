"""`scamshare import`: load a CSV or NDJSON file of reports as one organisation's submissions."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from scamshare import db
from scamshare.cli import taxii_import
from scamshare.cli.common import current, fail, record_import
from scamshare.clock import utcnow
from scamshare.errors import DomainError
from scamshare.services import importer
from scamshare.services import organisations as orgs_service


@click.command("import")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--org", "organisation", required=True, help="Organisation (name or id) reporting")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "ndjson"]),
    default=None,
    help="csv or ndjson (default: from the file's extension: .csv, .ndjson or .jsonl)",
)
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 10000))
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where rejected rows and reasons go (default: FILE.rejects.csv or .ndjson beside FILE); "
    "an existing file is kept and NAME-2.EXT (-3, ...) written instead",
)
@click.option(
    "--atomic", is_flag=True, help="One transaction: import nothing if a row is rejected."
)
@click.option("--taxii", "taxii_url", help="Pull from this TAXII 2.1 API root instead of a FILE")
@click.option("--collection", help="The TAXII collection id (with --taxii)")
@click.option("--user", help="TAXII user name; the password is read from SCAMSHARE_TAXII_PASSWORD")
@with_appcontext
def import_reports(
    file: Path | None,
    organisation: str,
    file_format: str | None,
    batch_size: int,
    rejects_path: Path | None,
    atomic: bool,
    taxii_url: str | None,
    collection: str | None,
    user: str | None,
) -> None:
    """Load reports from a CSV or NDJSON FILE in batches, as one organisation's submissions.

    Each batch is one transaction through the same submission service as the API, committed
    before the next starts; with --atomic the whole file is one transaction instead. With
    --taxii and --collection, STIX indicators are pulled from a TAXII 2.1 server instead.
    """
    if taxii_url is not None or collection is not None:
        if not taxii_url or not collection or file is not None:
            raise click.UsageError("--taxii and --collection go together, without a FILE.")
        taxii_import.run(taxii_url, collection, organisation, user)
        return
    if file is None:
        raise click.UsageError("Give a FILE to import, or --taxii URL --collection ID.")
    app = current()
    try:
        file_format = importer.file_format(file, file_format)
        with db.transaction(app) as session:
            caller = importer.caller_for(orgs_service.find_organisation(session, organisation))
    except DomainError as error:
        fail(error)
    console = Console()
    progress = (
        _import_progress(console, importer.count_lines(file)) if console.is_terminal else None
    )
    with (
        file.open("rb") as handle,
        progress or contextlib.nullcontext(),
    ):
        try:
            reader = importer.RowReader(handle, file_format)
        except DomainError as error:
            fail(error)
        tally = importer.Tally(
            rejects_path or importer.default_rejects_path(file, file_format),
            file_format,
            reader.header,
        )

        def submit(session, batch) -> None:
            """Submit one batch, keep its rejects and show how far the import got."""
            outcome = importer.import_batch(
                session,
                batch,
                caller,
                policy=app.extensions["scamshare.policy"],
                now=utcnow(),
                atomic=atomic,
            )
            tally.add(batch, outcome)
            if progress is not None:
                progress.update(progress.task_ids[0], completed=reader.line, **tally.counts())
            else:  # not a terminal (a log, a pipe): one plain line per batch
                click.echo(
                    f"lines {batch[0].line}-{reader.line}: {outcome.accepted} accepted, "
                    f"{len(outcome.rejected)} rejected"
                )

        try:
            if atomic:
                with db.transaction(app) as session:
                    for batch in importer.batches(reader, batch_size):
                        submit(session, batch)
                    if tally.rejected:
                        session.rollback()
            else:
                for batch in importer.batches(reader, batch_size):
                    with db.transaction(app) as session:
                        submit(session, batch)
        except DomainError as error:
            kept = "nothing was imported" if atomic else f"{tally.accepted} reports were imported"
            if tally.rejected:
                kept += f"; rejected rows so far are in {tally.rejects_path}"
            raise click.ClickException(f"{error.message} Stopped there; {kept}.") from None
        finally:
            tally.close()

    failed = atomic and tally.rejected > 0
    details = {"file": file.name, "format": file_format, "atomic": atomic, **tally.counts()}
    record_import(app, caller, details, outcome="rejected" if failed else "ok")
    click.echo(
        f"{file.name}: {tally.rows} rows, {0 if failed else tally.accepted} reports accepted, "
        f"{tally.rejected} rejected (as {caller.organisation_name})"
    )
    if tally.reasons:
        listed = ", ".join(f"{reason} {count}" for reason, count in sorted(tally.reasons.items()))
        click.echo(f"rejected by reason: {listed}")
        click.echo(f"rejected rows and reasons: {tally.rejects_path}")
        if tally.kept is not None:
            click.echo(f"{tally.kept} already existed and was left as it was")
    if failed:
        raise click.ClickException("--atomic: some rows were rejected, so nothing was imported.")


def _import_progress(console, total_lines: int):
    """A progress bar over the file's lines, with the running counts."""
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("lines, {task.fields[accepted]} accepted, {task.fields[rejected]} rejected"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    progress.add_task("import", total=total_lines, rows=0, accepted=0, rejected=0)
    return progress
