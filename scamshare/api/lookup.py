"""Looking values up: one in the query string, or up to 1,000 in one request."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, jsonify, request
from flask_smorest import Blueprint

from scamshare import db
from scamshare.auth import Caller, current_caller, requires
from scamshare.clock import utcnow
from scamshare.services import lookup as service
from scamshare.services import peers
from schemas.lookup import (
    LookupBatchResultSchema,
    LookupBatchSchema,
    LookupQuerySchema,
    LookupResultSchema,
)
from schemas.reports import KINDS

blp = Blueprint("lookup", __name__, url_prefix="/api/v1", description="Lookups")
TALLY = "scamshare.lookup_tally"
# Schema instances: given a class, webargs would build an instance on every request.
_QUERY = LookupQuerySchema()
_BATCH = LookupBatchSchema()
_QUERY_NAMES = frozenset(_QUERY.fields)
_MAX_VALUE_LENGTH = 5000  # LookupQuerySchema's validate.Length(min=1, max=5000) of `value`


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


def _plain_query() -> dict | None:
    """The query string as LookupQuerySchema loads it, when it certainly passes; else None."""
    args = request.args
    if not args.keys() <= _QUERY_NAMES:
        return None
    values, kinds = args.getlist("value"), args.getlist("kind")
    if len(values) != 1 or len(kinds) > 1 or not 1 <= len(values[0]) <= _MAX_VALUE_LENGTH:
        return None
    if not kinds:
        return {"value": values[0]}
    if kinds[0] not in KINDS:
        return None
    return {"value": values[0], "kind": kinds[0]}


def _query_arguments(view: Callable) -> Callable:
    """Document and parse the query like blp.arguments, without webargs for a plain query.

    Parsing through webargs and marshmallow cost a fifth of a lookup. A query of one valid
    `value` and at most one known `kind` is read directly; anything else (unknown or repeated
    arguments, an invalid value) still goes through them, so answers and errors are theirs.
    """
    parsing = blp.arguments(_QUERY, location="query")(view)

    @functools.wraps(parsing)
    def wrapper(*args, **kwargs):
        """Read a plain query directly; hand any other to webargs."""
        query = _plain_query()
        if query is None:
            return parsing(*args, **kwargs)
        return view(*args, query, **kwargs)

    return wrapper


@blp.route("/lookup")
@requires("lookup")
@_query_arguments
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
            peers.cached_policies,
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
