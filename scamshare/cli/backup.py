"""`scamshare backup` and `restore`: a consistent copy of a serving node's database.

A backup is one tar file: `manifest.json` (engine, migration revision, node sequence, when) and
the database itself, taken without stopping the node: SQLite's online backup API copies one
consistent snapshot page by page, `pg_dump` reads inside one repeatable-read transaction.
The node's signing key is not in it: it is a secret of its own (see the README).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select, text
from sqlalchemy.engine import URL, make_url

from scamshare import __version__, db, migrations
from scamshare.cli.common import current
from scamshare.clock import utcnow
from scamshare.models import Counter

DATABASE_MEMBER = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}


def _libpq_url(url: URL) -> str:
    """The database URL as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    """Run a PostgreSQL client tool; fail the command with its own message."""
    if shutil.which(command[0]) is None:
        raise click.ClickException(f"{command[0]} is not installed (PostgreSQL client tools)")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"{command[0]} failed: {done.stderr.strip()}")


def _facts(connection) -> tuple[str | None, int]:
    """Migration revision and node sequence, as a connection's snapshot sees them."""
    sequence = connection.scalar(select(Counter.value).where(Counter.name == "sequence"))
    revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return revision, int(sequence or 0)


def _dump_postgresql(url: URL, copy: Path) -> tuple[str | None, int]:
    """pg_dump inside a snapshot exported by a transaction that also reads the manifest's facts."""
    with db.engine().connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
        facts = _facts(connection)
        _run(
            [
                "pg_dump",
                "--format=custom",
                f"--snapshot={snapshot}",
                "--file",
                str(copy),
                _libpq_url(url),
            ]
        )
    return facts


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Write a consistent backup of this node's database to FILE, while it keeps serving."""
    app = current()
    url = make_url(app.config["DATABASE_URL"])
    engine = url.get_backend_name()
    if engine not in DATABASE_MEMBER:
        raise click.ClickException(f"no backup method for {engine} databases")
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / DATABASE_MEMBER[engine]
        if engine == "sqlite":
            source = sqlite3.connect(url.database)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)  # one step: a single consistent snapshot
            finally:
                target.close()
                source.close()
            copied = db.make_engine(f"sqlite:///{copy}")
            try:
                with copied.connect() as connection:
                    revision, sequence = _facts(connection)
            finally:
                copied.dispose()
        else:
            revision, sequence = _dump_postgresql(url, copy)
        manifest = {
            "engine": engine,
            "revision": revision,
            "sequence": sequence,
            "node_id": app.config["NODE_ID"],
            "taken_at": utcnow().isoformat(),
            "scamshare": __version__,
        }
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(file.name + ".partial")
        with tarfile.open(partial, "w") as archive:
            data = json.dumps(manifest, indent=2).encode()
            entry = tarfile.TarInfo("manifest.json")
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
            archive.add(copy, arcname=copy.name)
        os.replace(partial, file)  # a crash never leaves a truncated FILE behind
    click.echo(
        f"backup of {manifest['node_id']} written to {file}: {engine}, migration "
        f"{manifest['revision']}, sequence {manifest['sequence']}"
    )


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(file: Path) -> None:
    """Restore a backup FILE into this node's database, which must be empty."""
    app = current()
    url = make_url(app.config["DATABASE_URL"])
    engine = url.get_backend_name()
    if not migrations.is_empty(db.engine()):
        raise click.ClickException(
            "the database is not empty: restore only into a new, empty database"
        )
    with tarfile.open(file) as archive, tempfile.TemporaryDirectory() as scratch:
        manifest = json.load(archive.extractfile("manifest.json"))
        if manifest["engine"] != engine:
            raise click.ClickException(
                f"the backup is of a {manifest['engine']} database; this node uses {engine}"
            )
        archive.extract(DATABASE_MEMBER[engine], scratch, filter="data")
        copy = Path(scratch) / DATABASE_MEMBER[engine]
        db.engine().dispose()
        if engine == "sqlite":
            source = sqlite3.connect(copy)
            target = sqlite3.connect(url.database)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            _run(["pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq_url(url), str(copy)])
    click.echo(
        f"restored {manifest['node_id']} at migration {manifest['revision']}, sequence "
        f"{manifest['sequence']} (taken {manifest['taken_at']})"
    )
    if manifest["revision"] != migrations.head_revision():
        click.echo("run `scamshare db upgrade` before serving: the backup is of an older schema")
    click.echo(
        "peers that received changes after this backup are healed by the daily reconciliation; "
        "operators holding a later cursor get 422 cursor_ahead and download the full list again"
    )
