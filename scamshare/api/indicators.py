"""Indicators: the filtered list and one indicator with its history."""

from __future__ import annotations

from scamshare import db
from scamshare.api.common import Blueprint
from scamshare.auth import current_caller, requires
from scamshare.services import indicators as service
from schemas.indicators import IndicatorDetailSchema, IndicatorPageSchema, IndicatorQuerySchema

blp = Blueprint("indicators", __name__, url_prefix="/api/v1", description="Indicators")


@blp.route("/indicators")
@requires("indicators.read")
@blp.arguments(IndicatorQuerySchema, location="query")
@blp.response(200, IndicatorPageSchema)
def list_indicators(query):
    """Page through indicators, newest first, filtered by kind, status, category, risk, country."""
    indicators, next_cursor = service.search(db.session(), service.IndicatorFilter(**query))
    return {"items": indicators, "next": next_cursor}


@blp.route("/indicators/<string:indicator_id>")
@requires("indicators.read")
@blp.response(200, IndicatorDetailSchema)
def get_indicator(indicator_id: str):
    """Show one indicator, its history of state changes and the reporters the caller may see."""
    return service.detail(db.session(), indicator_id, current_caller())
