"""Appeals against listings: filed by operators and regulators, resolved by regulators."""

from __future__ import annotations

from flask import current_app

from scamshare import db
from scamshare.api.common import Blueprint, actor
from scamshare.auth import current_caller, requires
from scamshare.clock import utcnow
from scamshare.services import appeals as service
from schemas.appeals import (
    AppealCreateSchema,
    AppealPageSchema,
    AppealQuerySchema,
    AppealResolveSchema,
    AppealSchema,
)

blp = Blueprint("appeals", __name__, url_prefix="/api/v1", description="Appeals against listings")


@blp.route("/appeals", methods=["GET"])
@requires("appeals.read")
@blp.arguments(AppealQuerySchema, location="query")
@blp.response(200, AppealPageSchema)
def list_appeals(query):
    """Page through appeals, newest first: an operator sees its own, a regulator every one."""
    items, next_cursor = service.list_appeals(
        db.session(),
        current_app.extensions["scamshare.policy"],
        current_caller(),
        service.AppealFilter(**query),
        utcnow(),
    )
    return {"items": items, "next": next_cursor}


@blp.route("/appeals", methods=["POST"])
@requires("appeals.file", audit="appeal.file")
@blp.arguments(AppealCreateSchema)
@blp.response(201, AppealSchema)
def file_appeal(body):
    """File an appeal on behalf of a value's holder; the listing becomes disputed."""
    region = body.get("region") or current_caller().country or current_app.config["COUNTRY"]
    session = db.session()
    appeal = service.file(
        session,
        current_app.extensions["scamshare.policy"],
        actor(),
        service.Filing(**{**body, "region": region}),
        utcnow(),
    )
    session.commit()
    return appeal


@blp.route("/appeals/<string:appeal_id>/resolve", methods=["POST"])
@requires("appeals.resolve", audit="appeal.resolve")
@blp.arguments(AppealResolveSchema)
@blp.response(200, AppealSchema)
def resolve_appeal(body, appeal_id: str):
    """Resolve an open appeal: upheld lists the value again, delisted removes it."""
    session = db.session()
    appeal = service.resolve(
        session,
        current_app.extensions["scamshare.policy"],
        actor(),
        appeal_id,
        service.Decision(**body),
        utcnow(),
    )
    session.commit()
    return appeal
