"""The analysts' pages: dashboard, search, indicators, review queue, appeals, protected values."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import current_app, flash, g, redirect, render_template, request, url_for

from scamshare import db
from scamshare.clock import utcnow
from scamshare.console import charts, figures
from scamshare.console.access import bp, load, may, page
from scamshare.indicators import rules
from scamshare.models import CATEGORIES, KINDS, RISKS, STATUSES
from scamshare.services import appeals as appeals_service
from scamshare.services import indicators as indicators_service
from scamshare.services import peers as peers_service
from scamshare.services import protected as protected_service
from scamshare.services import reports as reports_service
from scamshare.services import stats as stats_service
from scamshare.services.accounts import actor_of
from schemas.appeals import AppealCreateSchema, AppealQuerySchema, AppealResolveSchema
from schemas.indicators import IndicatorQuerySchema
from schemas.protected import PROTECTED_CATEGORIES, PROTECTED_KINDS, ProtectedCreateSchema

CHART_SERIES = {
    "reports_received": "reports",
    "indicators_listed": "listings",
    "indicators_expired": "expiries",
    "indicators_delisted": "delistings",
}


def _policy():
    """The node's listing policy."""
    return current_app.extensions["scamshare.policy"]


def done(message: str, endpoint: str, **values):
    """After a form: say what happened and show the page again (303, so a reload posts nothing)."""
    flash(message)
    return redirect(url_for(endpoint, **values), code=303)


def peer_health(peer) -> str:
    """A peer's sync health in one word: ok, failing or never (synced)."""
    if peer.consecutive_failures:
        return "failing"
    return "ok" if peer.last_success_at else "never"


@bp.route("/")
@page("node.read")
def dashboard():
    """Today's and this week's reports, listings per kind, 30 days of changes, appeals, peers."""
    session = db.session()
    now = utcnow()
    today = datetime.combine(now.date(), time(), tzinfo=UTC)
    context: dict = {"now": now}
    if may("stats.read"):
        context["reports_today"] = stats_service.reports_received(session, today)
        context["reports_week"] = stats_service.reports_received(
            session, today - timedelta(days=now.weekday())
        )
        context["chart"] = charts.lines(
            stats_service.daily(session, today=now.date()),
            CHART_SERIES,
            "Changes per day over 30 days",
        )
    if may("stats.read") or may("indicators.read"):
        context["listed"], context["counted_at"] = figures.listed_per_kind(session)
    if may("appeals.read"):
        context["overdue"], _ = appeals_service.list_appeals(
            session,
            _policy(),
            g.caller,
            appeals_service.AppealFilter(overdue=True, limit=20),
            now,
        )
    if may("peers.read"):
        context["peers"] = [
            (peer, peers_service.lag(session, peer), peer_health(peer))
            for peer in peers_service.list_peers(session)
        ]
    return render_template("console/dashboard.html", **context)


@bp.route("/indicators")
@page("indicators.read")
def search():
    """Find an indicator by any spelling of its value, or list them by kind, status and more."""
    session = db.session()
    q = request.args.get("q", "").strip()
    found = None
    if q:
        kind = request.args.get("kind") or None
        found = indicators_service.find_by_value(
            session,
            q,
            kind if kind in KINDS else None,
            g.caller.country or current_app.config["COUNTRY"],
        )
    query = load(IndicatorQuerySchema(), request.args, "query")
    listed, next_cursor = indicators_service.search(
        session, indicators_service.IndicatorFilter(**{**query, "limit": 50})
    )
    return render_template(
        "console/search.html",
        q=q,
        found=found,
        items=listed,
        next_cursor=next_cursor,
        args=request.args,
        kinds=KINDS,
        statuses=STATUSES,
        categories=CATEGORIES,
        risks=RISKS,
    )


@bp.route("/indicators/<string:indicator_id>")
@page("indicators.read")
def indicator(indicator_id: str):
    """One indicator: its facts, its history as a timeline, its origins and its reporters."""
    session = db.session()
    detail = indicators_service.detail(session, indicator_id, g.caller)
    record = indicators_service.get(session, indicator_id)
    view = rules.merged_view(
        record, current_app.config["COUNTRY"], peers_service.cached_policies(session)
    )
    reports = None
    if g.caller.role in indicators_service.SEES_REPORTERS:
        reports = indicators_service.reports_behind(session, [record.id], 20)[record.id]
    return render_template(
        "console/indicator.html",
        item=detail,
        origins=[origin.to_dict() for origin in view.origins],
        reports=reports,
    )


@bp.route("/review")
@page("indicators.review")
def review():
    """Reported but not listed, most organisations and most recent first, with their reports."""
    session = db.session()
    kind = request.args.get("kind") if request.args.get("kind") in KINDS else None
    queue = indicators_service.review_queue(session, kind=kind)
    behind = indicators_service.reports_behind(session, [item.id for item in queue], 3)
    return render_template(
        "console/review.html", queue=queue, behind=behind, kinds=KINDS, kind=kind
    )


@bp.route("/review/<string:indicator_id>/verify", methods=["POST"])
@page("indicators.review", audit="reports.submit")
def verify(indicator_id: str):
    """Verify and list: a verified report of this organisation, as POST /api/v1/reports makes."""
    session = db.session()
    record = indicators_service.get(session, indicator_id)
    evidence = (
        request.form.get("evidence_ref", "").strip() or f"console review by {g.user.username}"
    )
    item = indicators_service.verification_report(session, record, evidence)
    result = reports_service.submit(
        session, [item], g.caller, policy=_policy(), now=utcnow(), atomic=True
    )
    session.commit()
    status = result.accepted[0]["indicator"]["status"] if result.accepted else record.status
    return done(f"Verified {record.kind} {record.value}: now {status}.", "console.review")


@bp.route("/review/<string:indicator_id>/dismiss", methods=["POST"])
@page("indicators.review", audit="indicator.dismiss")
def dismiss(indicator_id: str):
    """Dismiss: the value is delisted instead of listed (a verified report lists it again)."""
    session = db.session()
    record = indicators_service.dismiss(
        session,
        _policy(),
        actor_of(g.user),
        indicator_id,
        request.form.get("note", "")[:150],
        utcnow(),
    )
    session.commit()
    return done(f"Dismissed {record.kind} {record.value}.", "console.review")


@bp.route("/appeals")
@page("appeals.read")
def appeals():
    """Appeals: an operator's own, every one for a regulator; the filing form for filers."""
    query = load(AppealQuerySchema(), request.args, "query")
    items, next_cursor = appeals_service.list_appeals(
        db.session(),
        _policy(),
        g.caller,
        appeals_service.AppealFilter(**{**query, "limit": 50}),
        utcnow(),
    )
    return render_template(
        "console/appeals.html",
        items=items,
        next_cursor=next_cursor,
        args=request.args,
        kinds=KINDS,
    )


@bp.route("/appeals", methods=["POST"])
@page("appeals.file", audit="appeal.file")
def file_appeal():
    """File an appeal for a value's holder; the listing becomes disputed."""
    body = load(AppealCreateSchema(), request.form)
    region = body.get("region") or g.caller.country or current_app.config["COUNTRY"]
    session = db.session()
    appeal = appeals_service.file(
        session,
        _policy(),
        actor_of(g.user),
        appeals_service.Filing(**{**body, "region": region}),
        utcnow(),
    )
    session.commit()
    return done(f"Appeal {appeal['id']} filed.", "console.appeals")


@bp.route("/appeals/<string:appeal_id>/resolve", methods=["POST"])
@page("appeals.resolve", audit="appeal.resolve")
def resolve_appeal(appeal_id: str):
    """Resolve an open appeal: upheld lists the value again, delisted removes it."""
    body = load(AppealResolveSchema(), request.form)
    session = db.session()
    appeal = appeals_service.resolve(
        session, _policy(), actor_of(g.user), appeal_id, appeals_service.Decision(**body), utcnow()
    )
    session.commit()
    return done(f"Appeal {appeal['id']} resolved: {appeal['status']}.", "console.appeals")


@bp.route("/protected")
@page("protected.read")
def protected():
    """The protected values, what each protects and how often scammers impersonated it."""
    after = request.args.get("after", "")
    items, next_cursor = protected_service.list_values(
        db.session(), after=int(after) if after.isdigit() and len(after) < 18 else None
    )
    return render_template(
        "console/protected.html",
        items=items,
        next_cursor=next_cursor,
        kinds=PROTECTED_KINDS,
        categories=PROTECTED_CATEGORIES,
    )


@bp.route("/protected", methods=["POST"])
@page("protected.manage", audit="protected.add")
def add_protected():
    """Protect a value; its indicators become protected at once."""
    body = load(ProtectedCreateSchema(), request.form)
    region = body.get("region") or current_app.config["COUNTRY"]
    session = db.session()
    added = protected_service.add(
        session,
        _policy(),
        actor_of(g.user),
        protected_service.Entry(**{**body, "region": region}),
        utcnow(),
    )
    session.commit()
    return done(
        f"Protected {added['kind']} {added['value']} "
        f"({added['indicators_changed']} indicators changed).",
        "console.protected",
    )


@bp.route("/protected/<string:protected_id>/remove", methods=["POST"])
@page("protected.manage", audit="protected.remove")
def remove_protected(protected_id: str):
    """Take a value off the protected list; its indicators are settled again."""
    session = db.session()
    removed = protected_service.remove(session, _policy(), actor_of(g.user), protected_id, utcnow())
    session.commit()
    return done(
        f"{removed['kind']} {removed['value']} is no longer protected.", "console.protected"
    )
