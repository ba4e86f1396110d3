"""Looking values up: one in the query string, or up to 1,000 in one request."""

from __future__ import annotations

from flask import current_app, jsonify
from flask_smorest import Blueprint

from scamshare import db
from scamshare.auth import Caller, current_caller, requires
from scamshare.clock import utcnow
from scamshare.services import lookup as service
from schemas.lookup import (
    LookupBatchResultSchema,
    LookupBatchSchema,
    LookupQuerySchema,
    LookupResultSchema,
)

blp = Blueprint("lookup", __name__, url_prefix="/api/v1", description="Lookups")
TALLY = "scamshare.lookup_tally"
# Schema instances: given a class, webargs would build an instance on every request.
_QUERY = LookupQuerySchema()
_BATCH = LookupBatchSchema()


def _count(caller: Caller, values: int) -> None:
    """Count a lookup; write the counts out when the flush interval has passed."""
    app = current_app._get_current_object()
    tally = app.extensions.get(TALLY)
    if tally is None:
        interval = app.config.get("LOOKUP_COUNT_SECONDS", 60)
        tally = app.extensions.setdefault(TALLY, service.Tally.start(interval))
    if tally.add(caller.organisation_id, caller.organisation_name, values):
        with db.transaction(app) as session:
            service.flush_counts(session, tally.drain(), utcnow())


@blp.route("/lookup")
@requires("lookup")
@blp.arguments(_QUERY, location="query")
@blp.response(200, LookupResultSchema)
def lookup_one(query):
    """Look one value up: its status (`unknown` if never seen), risk, counts and origins."""
    caller = current_caller()
    with db.single_read() as connection:
        result = service.lookup(
            connection,
            query["value"],
            query.get("kind"),
            caller.country,
            current_app.config["COUNTRY"],
        )
    _count(caller, 1)
    # A response flask-smorest passes through: dumping through LookupResultSchema cost a fifth
    # of a lookup, and the result already holds exactly the schema's fields.
    return jsonify(service.dumped(result))


@blp.route("/lookup", methods=["POST"])
@requires("lookup")
@blp.arguments(_BATCH)
@blp.response(200, LookupBatchResultSchema)
def lookup_batch(body):
    """Look up to 1,000 values up at once; the answers keep the order of the values."""
    caller = current_caller()
    # A reader, not the request's writer: on SQLite a writer would take the write lock.
    with db.reader() as session:
        items = service.lookup_many(
            session, body["values"], caller.country, current_app.config["COUNTRY"]
        )
    _count(caller, len(items))
    return {"items": items}
