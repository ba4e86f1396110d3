"""The audit log, for regulators and admins."""

from __future__ import annotations

from scamshare import db
from scamshare.api.common import Blueprint
from scamshare.auth import requires
from scamshare.services import audit as service
from schemas.audit import AuditPageSchema, AuditQuerySchema

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit log")


@blp.route("/audit")
@requires("audit.read")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditPageSchema)
def audit_log(query):
    """Page through the audit log, newest first, with filters."""
    entries, next_cursor = service.search(db.session(), service.AuditFilter(**query))
    return {"items": entries, "next": next_cursor}
