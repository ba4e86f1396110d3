"""Alembic owns the schema: the same migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from scamshare.config import DEFAULTS
from scamshare.policy import Policy

HERE = Path(__file__).parent


def alembic_config(
    engine: Engine, country: str = DEFAULTS["COUNTRY"], policy: Policy | None = None
) -> Config:
    """Return an Alembic configuration bound to an engine, with no alembic.ini needed.

    The node's country is this node's own origin in the download lines a migration renders; its
    policy, the rules a migration that changes indicators applies (else read from the
    environment as the app would).
    """
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    config.attributes["country"] = country
    config.attributes["policy"] = policy
    return config


@functools.cache
def head_revision() -> str:
    """Return the newest migration's revision id."""
    return ScriptDirectory(str(HERE)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """Return the database's migration revision (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_empty(engine: Engine) -> bool:
    """Say whether the database has no ScamShare schema yet."""
    with engine.connect() as connection:
        return not inspect(connection).has_table("alembic_version")


def upgrade(
    engine: Engine,
    revision: str = "head",
    country: str = DEFAULTS["COUNTRY"],
    policy: Policy | None = None,
) -> None:
    """Apply migrations up to a revision, for a node of this country (and policy)."""
    command.upgrade(alembic_config(engine, country, policy), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to a revision."""
    command.downgrade(alembic_config(engine), revision)
