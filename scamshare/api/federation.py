"""Federation endpoints: this node's identity, signed batches from peers, and the peer registry."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request

from scamshare import db
from scamshare.api.common import Blueprint, actor
from scamshare.auth import requires
from scamshare.clock import utcnow
from scamshare.errors import DomainError
from scamshare.federation import identity, receive, reconcile, rotation
from scamshare.services import peers as service
from schemas.federation import (
    WIRE_VERSION,
    BatchResultSchema,
    NodeInfoSchema,
    PeerCreateSchema,
    PeerSchema,
)

blp = Blueprint("federation", __name__, url_prefix="/api/v1/federation", description="Federation")

_signed = {
    "security": [],
    "parameters": [
        {
            "name": "X-ScamShare-Node",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
        },
        {
            "name": "X-ScamShare-Timestamp",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Unix seconds; must be within ±5 minutes of the receiver's clock",
        },
        {
            "name": "X-ScamShare-Signature",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Ed25519 over `<timestamp>\\n<exact body>`, URL-safe base64",
        },
    ],
}


class NotInitialised(DomainError):
    """The node has no federation key yet."""

    status = 409
    code = "node_not_initialised"


def node_identity() -> identity.NodeIdentity:
    """This node's identity, loaded once per app and again when `node rotate-key` replaced it."""
    path = identity.key_path(current_app.config["DATA_DIR"])
    stamp = path.stat().st_mtime_ns if path.exists() else None
    cached, seen = current_app.extensions.get("scamshare.identity", (None, None))
    if cached is None or seen != stamp:
        try:
            cached = identity.load(current_app.config["DATA_DIR"], current_app.config["NODE_KEY"])
        except identity.IdentityError as error:
            raise NotInitialised(str(error)) from None
        current_app.extensions["scamshare.identity"] = (cached, stamp)
    return cached


@blp.route("/node")
@requires("node.read")
@blp.response(200, NodeInfoSchema)
def node_info():
    """Return this node's id, country, public key and wire-format version."""
    return {
        "node_id": current_app.config["NODE_ID"],
        "country": current_app.config["COUNTRY"],
        "public_key": node_identity().public_key,
        "wire_version": WIRE_VERSION,
    }


@blp.route("/batches", methods=["POST"])
@blp.doc(
    **_signed,
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}},
    },
)
@blp.response(200, BatchResultSchema)
def receive_batch():
    """Apply a peer's signed batch of its own-origin contributions (signature, not API key)."""
    session = db.session()
    result = receive.receive(
        session,
        current_app.extensions["scamshare.policy"],
        request.headers,
        request.get_data(cache=True),
        utcnow(),
    )
    session.commit()
    return result


@blp.route("/key-rotation", methods=["POST"])
@blp.doc(**_signed)
@blp.response(200)
def key_rotation():
    """Take a peer's new public key, announced in a message signed with its current key."""
    session = db.session()
    overlap = timedelta(seconds=current_app.config["KEY_ROTATION_OVERLAP_SECONDS"])
    body = request.get_data(cache=True)
    result = rotation.accept(session, request.headers, body, utcnow(), overlap)
    session.commit()
    return result


@blp.route("/digest")
@blp.doc(**_signed)
@blp.response(200)
def digest():
    """Return the per-bucket digest of what this node holds from the signing peer's origin."""
    session = db.session()
    peer = receive.authenticate(session, request.headers, b"", utcnow())
    return {"origin": peer.node_id, "buckets": reconcile.held_digest(session, peer.node_id)}


@blp.route("/peers", methods=["GET"])
@requires("peers.read")
@blp.response(200, PeerSchema(many=True))
def list_peers():
    """List peers with sync health: last success, last error, failures and lag."""
    session = db.session()
    return [_with_lag(session, peer) for peer in service.list_peers(session)]


@blp.route("/peers", methods=["POST"])
@requires("peers.manage", audit="peer.add")
@blp.arguments(PeerCreateSchema)
@blp.response(201, PeerSchema)
def add_peer(body):
    """Register a peer node with its public key and the local policy for its listings."""
    session = db.session()
    peer = service.add_peer(
        session, actor(), service.Registration(**body), current_app.extensions["scamshare.policy"]
    )
    session.commit()
    return _with_lag(session, peer)


@blp.route("/peers/<string:node_id>", methods=["DELETE"])
@requires("peers.manage", audit="peer.remove")
@blp.response(204)
def remove_peer(node_id: str):
    """Forget a peer."""
    session = db.session()
    service.remove_peer(session, actor(), node_id, current_app.extensions["scamshare.policy"])
    session.commit()


def _with_lag(session, peer) -> dict:
    """A peer's fields plus how far behind it is, for the peer schema to dump."""
    fields = [
        "node_id",
        "country",
        "url",
        "public_key",
        "policy",
        "cursor",
        "last_success_at",
        "last_error",
        "last_error_at",
        "consecutive_failures",
        "next_attempt_at",
    ]
    return {name: getattr(peer, name) for name in fields} | {"lag": service.lag(session, peer)}
