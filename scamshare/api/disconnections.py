"""Disconnection notices from operators: recycled numbers must not inherit a listing."""

from __future__ import annotations

from flask import current_app

from scamshare import db
from scamshare.api.common import Blueprint, actor
from scamshare.auth import current_caller, requires
from scamshare.clock import utcnow
from scamshare.services import disconnections as service
from schemas.disconnections import DisconnectionOutcomeSchema, DisconnectionRequestSchema

blp = Blueprint(
    "disconnections", __name__, url_prefix="/api/v1", description="Disconnection notices"
)


@blp.route("/disconnections", methods=["POST"])
@requires("disconnections.submit", audit="disconnections.submit")
@blp.arguments(DisconnectionRequestSchema)
@blp.response(200, DisconnectionOutcomeSchema)
def submit_disconnections(body):
    """Post one notice or a batch; each ends the listings of its number reported before it."""
    session = db.session()
    outcome = service.record(
        session,
        current_app.extensions["scamshare.policy"],
        actor(),
        body,
        region=current_caller().country or current_app.config["COUNTRY"],
        now=utcnow(),
    )
    session.commit()
    return outcome
