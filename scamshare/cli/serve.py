"""`scamshare serve` and `scamshare scheduler`: the node's long-running processes."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from scamshare import scheduler, serving
from scamshare.bootstrap import initialise
from scamshare.cli.common import current


@click.command("serve")
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
    app = current()
    issued = initialise(app)
    if with_scheduler:
        keeper = scheduler.LeaseKeeper(app, scheduler.holder_id())
        scheduler.build(app, keeper, background=True).start()
        click.echo(f"scheduler running here as {keeper.holder} (under the database lease)")
    url = make_url(app.config["DATABASE_URL"])
    click.echo(f"ScamShare node {app.config['NODE_ID']} ({app.config['COUNTRY']})")
    click.echo(f"database: {url.render_as_string(hide_password=True)}")
    if issued:
        click.echo("New database: sample organisations and their API keys (shown only now):")
        for issued_key in issued:
            click.echo(f"  {issued_key.role:<16} {issued_key.organisation:<40} {issued_key.key}")
    else:
        click.echo(
            "Existing database: keys are shown only when created. "
            "Make one with: scamshare keys create --org NAME (names: scamshare orgs list)"
        )
    listening = []

    def announce() -> None:
        """Say where the docs are, once the server listens."""
        listening.append(True)
        click.echo(f"listening on http://{host}:{port}; API docs: http://{host}:{port}/api/v1/docs")

    try:
        serving.serve(app, adj, bulk_threads, on_listening=announce)
    except OSError as error:
        if listening:
            raise
        click.echo(f"error: cannot listen on {host}:{port}: {error.strerror}", err=True)
        raise SystemExit(1) from None


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the node's scheduler in this process (only the lease holder runs jobs)."""
    app = current()
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
