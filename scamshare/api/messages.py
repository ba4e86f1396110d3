"""Checking an SMS against the node's indicators."""

from __future__ import annotations

from flask import current_app

from scamshare import db
from scamshare.api.common import Blueprint
from scamshare.auth import current_caller, requires
from scamshare.services import messages as service
from schemas.messages import MessageCheckSchema, MessageVerdictSchema

blp = Blueprint("messages", __name__, url_prefix="/api/v1", description="Message checks")


@blp.route("/messages/check", methods=["POST"])
@requires("messages.check")
@blp.arguments(MessageCheckSchema)
@blp.response(200, MessageVerdictSchema)
def check_message(body):
    """Check one SMS (with its sender ID or number): block, warn or allow, and every match."""
    caller = current_caller()
    # A reader, not the request's writer: a check changes nothing and must not queue on SQLite.
    with db.reader() as session:
        return service.check(
            session,
            body["text"],
            sender=body.get("sender"),
            number=body.get("number"),
            region=caller.country,
            country=current_app.config["COUNTRY"],
        )
