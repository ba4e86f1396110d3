"""Liveness and readiness probes."""

from __future__ import annotations

from scamshare import migrations
from scamshare.app import create_app


def test_healthz_needs_no_key(client):
    """The liveness probe answers without a key."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_ok_at_the_newest_migration(client):
    """A migrated database is ready."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["migration"] == migrations.head_revision()


def test_readyz_is_503_when_migrations_are_behind(empty_database_url, tmp_path):
    """An unmigrated database is not ready, and says why."""
    app = create_app({"DATABASE_URL": empty_database_url, "DATA_DIR": str(tmp_path)})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["migration"] is None
    assert response.json["expected_migration"] == migrations.head_revision()
    app.extensions["scamshare.engine"].dispose()


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path):
    """A database that refuses connections makes the node unready, not broken."""
    app = create_app(
        {
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
            "DATA_DIR": str(tmp_path),
        }
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"
    assert response.json["detail"]
    app.extensions["scamshare.engine"].dispose()
