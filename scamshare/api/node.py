"""The node's identity."""

from __future__ import annotations

from flask import current_app

from scamshare import __version__
from scamshare.api.common import Blueprint
from scamshare.auth import requires
from schemas.node import NodeSchema

blp = Blueprint("node", __name__, url_prefix="/api/v1", description="This node")


@blp.route("/node")
@requires("node.read")
@blp.response(200, NodeSchema)
def node():
    """Return this node's id and member-state country."""
    config = current_app.config
    return {
        "node_id": config["NODE_ID"],
        "country": config["COUNTRY"],
        "version": __version__,
        "api_version": "v1",
    }
