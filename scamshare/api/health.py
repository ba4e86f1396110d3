"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from scamshare import db, migrations
from scamshare.api.common import Blueprint
from schemas.node import HealthSchema

blp = Blueprint("health", __name__, url_prefix="/", description="Health probes (no key needed)")


@blp.route("/healthz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz():
    """Say that the process is alive."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="Not ready")
def readyz():
    """Say whether the database answers and its schema is at the newest migration."""
    expected = migrations.head_revision()
    try:
        current = migrations.current_revision(db.engine())
    except SQLAlchemyError as error:
        detail = str(error.__cause__ or error).splitlines()[0]
        return {"status": "unavailable", "database": "unreachable", "detail": detail}, 503
    body = {
        "database": "ok",
        "migration": current,
        "expected_migration": expected,
    }
    if current != expected:
        body.update(status="unavailable", detail="the database is not at the newest migration")
        return body, 503
    return {"status": "ok", **body}
