"""Looking values up: one in the query string, or up to 1,000 in one request."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, jsonify, request
from marshmallow import ValidationError

from scamshare import db
from scamshare.api.common import Blueprint
from scamshare.auth import Caller, current_caller, requires
from scamshare.clock import utcnow
from scamshare.db import fast
from scamshare.fastload import compile_loader
from scamshare.services import lookup as service
from scamshare.services import peers
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


_load_query = compile_loader(_QUERY)


def _plain_query() -> dict | None:
    """The query string as LookupQuerySchema loads it when it certainly passes; else None."""
    args = request.args.to_dict(flat=False)
    if any(len(values) != 1 for values in args.values()):
        return None  # repeated arguments: webargs decides
    try:
        return _load_query({name: values[0] for name, values in args.items()})
    except ValidationError:
        return None


def _query_arguments(view: Callable) -> Callable:
    """Document and parse the query like blp.arguments, without webargs for a plain query.

    Parsing through webargs and marshmallow cost a fifth of a lookup. A query of single
    arguments is loaded by the schema compiled with scamshare.fastload; anything else (repeated
    or invalid arguments) still goes through webargs, so answers and errors are theirs.
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
    with fast.single_read() as connection:
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
