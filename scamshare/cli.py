"""The `scamshare` command."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.engine import make_url

from scamshare import db, migrations, serving
from scamshare.app import create_app
from scamshare.config import MEMBER_STATES
from scamshare.errors import DomainError
from scamshare.services import audit
from scamshare.services import organisations as orgs_service
from schemas.protected import PROTECTED_CATEGORIES, PROTECTED_KINDS

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
        _load_protected(app, session, audit.NODE, country)
    return issued


def _load_protected(app: Flask, session, actor: audit.Actor, country: str):
    """Load a member state's protected-values fixture through the service (audited)."""
    from scamshare.clock import utcnow
    from scamshare.services import protected as protected_service

    fixture = protected_service.read_fixture(FIXTURES / "protected" / f"{country}.json")
    return protected_service.load(
        session,
        app.extensions["scamshare.policy"],
        actor,
        fixture,
        country=country,
        now=utcnow(),
    )


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Worker threads.")
@click.option(
    "--bulk-threads",
    default=serving.BULK_THREADS,
    show_default=True,
    type=click.IntRange(min=0),
    help="Worker threads blocklist downloads may hold at once (0: any).",
)
@click.option(
    "--with-scheduler",
    is_flag=True,
    help="Also run the scheduler in this process (embedded default; still under the lease).",
)
@click.option(
    "--server-option",
    "server_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override one waitress setting (e.g. connection_limit=4000); repeatable.",
)
@with_appcontext
def serve(
    host: str,
    port: int,
    threads: int,
    bulk_threads: int,
    with_scheduler: bool,
    server_options: tuple[str, ...],
) -> None:
    """Serve the API with waitress, creating and migrating the database on first start."""
    # Settings first: a bad one fails before the database is touched.
    adj = serving.adjustments(host, port, threads, serving.parse_overrides(server_options))
    app = _app()
    issued = initialise(app)
    if with_scheduler:
        from scamshare import scheduler

        keeper = scheduler.LeaseKeeper(app, scheduler.holder_id())
        scheduler.build(app, keeper, background=True).start()
        click.echo(f"scheduler running here as {keeper.holder} (under the database lease)")
    url = make_url(app.config["DATABASE_URL"])
    click.echo(f"ScamShare node {app.config['NODE_ID']} ({app.config['COUNTRY']})")
    click.echo(f"database: {url.render_as_string(hide_password=True)}")
    if issued:
        click.echo("New database: sample organisations and their API keys (shown only now):")
        for name, role, key in issued:
            click.echo(f"  {role:<16} {name:<40} {key}")
    click.echo(f"API docs: http://{host}:{port}/api/v1/docs")
    serving.serve(app, adj, bulk_threads)


@main.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the node's scheduler in this process (only the lease holder runs jobs)."""
    from scamshare import scheduler

    app = _app()
    keeper = scheduler.LeaseKeeper(app, scheduler.holder_id())
    click.echo(f"scheduler {keeper.holder}; jobs:")
    for job in scheduler.node_jobs(app):
        click.echo(f"  {job.name:<10} every {job.seconds}s: {job.why}")
    runner = scheduler.build(app, keeper, background=False)
    try:
        runner.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        keeper.release()


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


# --- importing reports ------------------------------------------------------------------------


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
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
    help="Where rejected rows and reasons go (default: FILE.rejects.csv or .ndjson beside FILE)",
)
@click.option(
    "--atomic", is_flag=True, help="One transaction: import nothing if a row is rejected."
)
@with_appcontext
def import_reports(
    file: Path,
    organisation: str,
    file_format: str | None,
    batch_size: int,
    rejects_path: Path | None,
    atomic: bool,
) -> None:
    """Load reports from a CSV or NDJSON FILE in batches, as one organisation's submissions.

    Each batch is one transaction through the same submission service as the API, committed
    before the next starts; with --atomic the whole file is one transaction instead.
    """
    import contextlib

    from rich.console import Console

    from scamshare.clock import utcnow
    from scamshare.services import importer

    app = _app()
    try:
        file_format = importer.file_format(file, file_format)
        with db.transaction(app) as session:
            caller = importer.caller_for(orgs_service.find_organisation(session, organisation))
    except DomainError as error:
        _fail(error)
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
            _fail(error)
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
                node_country=app.config["COUNTRY"],
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
            raise click.ClickException(f"{error.message} Stopped there; {kept}.") from None
        finally:
            tally.close()

    failed = atomic and tally.rejected > 0
    with db.transaction(app) as session:
        audit.record(
            session,
            _actor(),
            "reports.import",
            target=f"organisation:{caller.organisation_id}",
            outcome="rejected" if failed else "ok",
            details={"file": file.name, "format": file_format, "atomic": atomic, **tally.counts()},
        )
    click.echo(
        f"{file.name}: {tally.rows} rows, {0 if failed else tally.accepted} reports accepted, "
        f"{tally.rejected} rejected (as {caller.organisation_name})"
    )
    if tally.reasons:
        listed = ", ".join(f"{reason} {count}" for reason, count in sorted(tally.reasons.items()))
        click.echo(f"rejected by reason: {listed}")
        click.echo(f"rejected rows and reasons: {tally.rejects_path}")
    if failed:
        raise click.ClickException("--atomic: some rows were rejected, so nothing was imported.")


def _import_progress(console, total_lines: int):
    """A progress bar over the file's lines, with the running counts."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

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


# --- protected values and expiry --------------------------------------------------------------


@main.group("protected")
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
    from scamshare.clock import utcnow
    from scamshare.services import protected as protected_service

    app = _app()
    try:
        with db.transaction(app) as session:
            added = protected_service.add(
                session,
                app.extensions["scamshare.policy"],
                _actor(),
                kind=kind,
                value=value,
                label=label,
                category=category,
                region=region or app.config["COUNTRY"],
                now=utcnow(),
            )
    except DomainError as error:
        _fail(error)
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
    from scamshare.services import protected as protected_service

    with db.transaction(_app()) as session:
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
    from scamshare.clock import utcnow
    from scamshare.services import protected as protected_service

    app = _app()
    try:
        with db.transaction(app) as session:
            row = protected_service.find(session, kind, value, region or app.config["COUNTRY"])
            removed = protected_service.remove(
                session, app.extensions["scamshare.policy"], _actor(), row.id, utcnow()
            )
    except DomainError as error:
        _fail(error)
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
    app = _app()
    country = (country or app.config["COUNTRY"]).upper()
    try:
        with db.transaction(app) as session:
            loaded = _load_protected(app, session, _actor(), country)
    except DomainError as error:
        _fail(error)
    click.echo(
        f"{country}: {loaded.added} protected values added, {loaded.present} already present; "
        f"{loaded.indicators_changed} indicators changed"
    )


@main.command("expire")
@with_appcontext
def expire_command() -> None:
    """End listings whose last report is older than their kind's time to live."""
    from scamshare.clock import utcnow
    from scamshare.services import expiry

    app = _app()
    with db.transaction(app) as session:
        count = expiry.expire_due(session, app.extensions["scamshare.policy"], utcnow(), _actor())
    click.echo(f"{count} expired")


def _register_commands() -> None:
    """Add the commands that live next to their own domain code."""
    from scamshare.cli_normalise import normalise_command
    from scamshare.federation.commands import node_group, peers_group, sync_command
    from scamshare.federation.demo import demo_command

    for command in (normalise_command, node_group, peers_group, sync_command, demo_command):
        main.add_command(command)


_register_commands()
