"""Alembic owns the schema, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scamshare import migrations
from scamshare.db import make_engine
from scamshare.models import Base


def test_migrations_build_exactly_the_models_schema(empty_database_url):
    """Upgrading an empty database to head leaves no difference from the models."""
    engine = make_engine(empty_database_url)
    migrations.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_migrations_downgrade_to_base_and_upgrade_again(empty_database_url):
    """Every migration can be undone and redone."""
    engine = make_engine(empty_database_url)
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    migrations.downgrade(engine, "base")
    assert migrations.current_revision(engine) is None
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
    engine.dispose()
