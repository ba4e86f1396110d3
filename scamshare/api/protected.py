"""Protected values: the node's never-list, managed by its regulators."""

from __future__ import annotations

from flask import current_app

from scamshare import db
from scamshare.api.common import Blueprint, actor
from scamshare.auth import requires
from scamshare.clock import utcnow
from scamshare.services import protected as service
from schemas.protected import (
    ProtectedChangeSchema,
    ProtectedCreateSchema,
    ProtectedPageSchema,
    ProtectedQuerySchema,
)

blp = Blueprint(
    "protected",
    __name__,
    url_prefix="/api/v1",
    description="Protected values: emergency and short numbers, hotlines, official names",
)


@blp.route("/protected", methods=["GET"])
@requires("protected.read")
@blp.arguments(ProtectedQuerySchema, location="query")
@blp.response(200, ProtectedPageSchema)
def list_protected(query):
    """Page through the protected values in the order they were added."""
    items, next_cursor = service.list_values(db.session(), **query)
    return {"items": items, "next": next_cursor}


@blp.route("/protected", methods=["POST"])
@requires("protected.manage", audit="protected.add")
@blp.arguments(ProtectedCreateSchema)
@blp.response(201, ProtectedChangeSchema)
def add_protected(body):
    """Protect a value; its existing indicators become protected at once."""
    region = body.get("region") or current_app.config["COUNTRY"]
    session = db.session()
    added = service.add(
        session,
        current_app.extensions["scamshare.policy"],
        actor(),
        service.Entry(**{**body, "region": region}),
        utcnow(),
    )
    session.commit()
    return added


@blp.route("/protected/<string:protected_id>", methods=["DELETE"])
@requires("protected.manage", audit="protected.remove")
@blp.response(200, ProtectedChangeSchema)
def remove_protected(protected_id: str):
    """Take a value off the protected list; its indicators are settled again."""
    session = db.session()
    removed = service.remove(
        session, current_app.extensions["scamshare.policy"], actor(), protected_id, utcnow()
    )
    session.commit()
    return removed
