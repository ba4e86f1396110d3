"""Node statistics for regulators and admins, as JSON or CSV."""

from __future__ import annotations

from flask import Response

from scamshare import db
from scamshare.api.common import Blueprint
from scamshare.auth import requires
from scamshare.clock import utcnow
from scamshare.services import stats as service
from schemas.stats import StatsQuerySchema, StatsSchema

blp = Blueprint("stats", __name__, url_prefix="/api/v1", description="Statistics")

_csv_doc = {
    200: {
        "content": {
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "Header day,metric,kind,category,count; one row per group",
                }
            }
        }
    }
}


@blp.route("/stats")
@requires("stats.read")
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, StatsSchema)
@blp.doc(responses=_csv_doc)
def node_stats(query):
    """Count reports received, listings, expiries, delistings and appeals per UTC day."""
    output = query.pop("format")
    summary = service.summarise(db.session(), today=utcnow().date(), **query)
    if output == "csv":
        filename = f"scamshare-stats-{summary['start']}-{summary['end']}.csv"
        return Response(
            service.to_csv(summary),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return summary
