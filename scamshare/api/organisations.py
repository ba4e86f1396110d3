"""Organisations and their API keys, managed by regulators and admins."""

from __future__ import annotations

from scamshare import db
from scamshare.api.common import Blueprint, actor
from scamshare.auth import current_caller, forget, requires
from scamshare.services import organisations as service
from schemas.organisations import (
    IssuedKeySchema,
    KeyCreateSchema,
    KeySchema,
    OrganisationCreateSchema,
    OrganisationSchema,
)

blp = Blueprint(
    "organisations", __name__, url_prefix="/api/v1", description="Organisations and API keys"
)


@blp.route("/organisations", methods=["GET"])
@requires("orgs.manage")
@blp.response(200, OrganisationSchema(many=True))
def list_organisations():
    """List every organisation of this node."""
    return service.list_organisations(db.session())


@blp.route("/organisations", methods=["POST"])
@requires("orgs.manage", audit="org.create")
@blp.arguments(OrganisationCreateSchema)
@blp.response(201, OrganisationSchema)
def create_organisation(body):
    """Create an organisation (regulators: of the roles they manage, in their own country)."""
    session = db.session()
    organisation = service.create_organisation(session, actor(), **body, manager=current_caller())
    session.commit()
    return organisation


@blp.route("/keys", methods=["GET"])
@requires("orgs.manage")
@blp.response(200, KeySchema(many=True))
def list_keys():
    """List every API key (never their secrets)."""
    return service.list_keys(db.session())


@blp.route("/keys", methods=["POST"])
@requires("orgs.manage", audit="key.create")
@blp.arguments(KeyCreateSchema)
@blp.response(201, IssuedKeySchema)
def create_key(body):
    """Issue an API key for an organisation the caller manages; its secret is shown once."""
    session = db.session()
    organisation = service.find_organisation(session, body["organisation"])
    issued = service.create_key(session, actor(), organisation, manager=current_caller())
    session.commit()
    return {
        "key_id": issued.record.key_id,
        "organisation": organisation.name,
        "created_at": issued.record.created_at,
        "key": issued.key,
    }


@blp.route("/keys/<string:key_id>", methods=["DELETE"])
@requires("orgs.manage", audit="key.revoke")
@blp.response(200, KeySchema)
def revoke_key(key_id: str):
    """Revoke an API key of an organisation the caller manages, at once."""
    session = db.session()
    record = service.revoke_key(session, actor(), key_id, manager=current_caller())
    session.commit()
    forget(key_id)
    return record
