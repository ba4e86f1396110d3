"""The pages of those who run the node: federation, statistics, audit, organisations and keys."""

from __future__ import annotations

from flask import Response, current_app, g, render_template, request

from scamshare import db
from scamshare.auth import forget
from scamshare.clock import utcnow
from scamshare.config import MEMBER_STATES
from scamshare.console import charts
from scamshare.console.access import bp, load, page
from scamshare.console.pages import done, peer_health
from scamshare.errors import DomainError, NotFound
from scamshare.federation import identity
from scamshare.federation.push import Pusher, http_client
from scamshare.models import ROLES
from scamshare.services import accounts
from scamshare.services import audit as audit_service
from scamshare.services import organisations as orgs_service
from scamshare.services import peers as peers_service
from scamshare.services import stats as stats_service
from schemas.audit import AuditQuerySchema
from schemas.organisations import OrganisationCreateSchema
from schemas.stats import METRICS, StatsQuerySchema


@bp.route("/federation")
@page("peers.read")
def federation():
    """Every peer on a map of the member states and in a table, with its sync health."""
    session = db.session()
    rows = [
        (peer, peers_service.lag(session, peer), peer_health(peer))
        for peer in peers_service.list_peers(session)
    ]
    own = current_app.config["COUNTRY"]
    health = {peer.country: state for peer, _, state in rows}
    return render_template(
        "console/federation.html",
        rows=rows,
        own=own,
        node_id=current_app.config["NODE_ID"],
        map=charts.member_map(own, health),
    )


@bp.route("/federation/<string:node_id>/sync", methods=["POST"])
@page("peers.manage", audit="peer.sync")
def sync_now(node_id: str):
    """Push to one peer now, whatever its back-off, and say what happened."""
    app = current_app._get_current_object()
    session = db.session()
    if node_id not in {peer.node_id for peer in peers_service.list_peers(session)}:
        raise NotFound(f"No peer {node_id!r} on this node.")
    actor = accounts.actor_of(g.user)
    db.close_session()  # the push writes in transactions of its own; hold no lock meanwhile
    try:
        node = identity.load(app.config["DATA_DIR"], app.config["NODE_KEY"])
    except identity.IdentityError as error:
        raise DomainError(str(error), code="node_not_initialised") from None
    pusher = Pusher(app, node, http_client(app.config))
    try:
        report = pusher.push_peer(node_id, force=True)
    finally:
        pusher.client.close()
    with db.transaction(app) as writer:
        audit_service.record(
            writer,
            actor,
            "peer.sync",
            target=f"peer:{node_id}",
            outcome="error" if report.error else "ok",
            details=report.to_dict(),
        )
    if report.error:
        return done(f"Sync with {node_id} failed: {report.error}", "console.federation")
    return done(
        f"Synced {node_id}: sent {report.sent}, applied {report.applied}, cursor {report.cursor}.",
        "console.federation",
    )


def _summary():
    """The statistics of the period the query string names (30 days to today by default)."""
    query = load(StatsQuerySchema(), request.args, "query")
    query.pop("format")
    return stats_service.summarise(db.session(), today=utcnow().date(), **query)


@bp.route("/stats")
@page("stats.read")
def stats():
    """GET /api/v1/stats as charts: per day, per kind and per category, with its CSV."""
    summary = _summary()
    by_kind = stats_service.totals_by(summary, "kind")
    by_category = stats_service.totals_by(summary, "category")
    series = {metric: metric.replace("_", " ") for metric in METRICS}
    return render_template(
        "console/stats.html",
        summary=summary,
        per_day=charts.lines(stats_service.daily_totals(summary), series, "Per day"),
        kind_charts={
            metric: charts.bars(by_kind.get(metric, {}), f"{metric} per kind") for metric in METRICS
        },
        category_charts={
            metric: charts.bars(by_category.get(metric, {}), f"{metric} per category")
            for metric in METRICS
        },
        args=request.args,
    )


@bp.route("/stats.csv")
@page("stats.read")
def stats_csv():
    """The same CSV as GET /api/v1/stats?format=csv."""
    summary = _summary()
    filename = f"scamshare-stats-{summary['start']}-{summary['end']}.csv"
    return Response(
        stats_service.to_csv(summary),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/audit")
@page("audit.read")
def audit():
    """The audit log, newest first, filtered by action, organisation, outcome and time."""
    query = load(AuditQuerySchema(), request.args, "query")
    entries, next_cursor = audit_service.search(
        db.session(), audit_service.AuditFilter(**{**query, "limit": query.get("limit", 100)})
    )
    return render_template(
        "console/audit.html", entries=entries, next_cursor=next_cursor, args=request.args
    )


def _organisations_page(issued=None, status: int = 200):
    """Organisations, their keys and their accounts (a new key's secret shown this once)."""
    session = db.session()
    page_html = render_template(
        "console/organisations.html",
        organisations=orgs_service.list_organisations(session),
        keys=orgs_service.list_keys(session),
        users=accounts.list_users(session),
        issued=issued,
        roles=ROLES,
        countries=MEMBER_STATES,
    )
    return page_html, status


@bp.route("/organisations")
@page("orgs.manage")
def organisations():
    """Organisations, keys and accounts."""
    return _organisations_page()


@bp.route("/organisations", methods=["POST"])
@page("orgs.manage", audit="org.create")
def create_organisation():
    """Create an organisation (regulators: of the roles they manage, in their own country)."""
    body = load(OrganisationCreateSchema(), request.form)
    session = db.session()
    org = orgs_service.create_organisation(
        session, accounts.actor_of(g.user), **body, manager=g.caller
    )
    session.commit()
    return done(f"Organisation {org.name} created.", "console.organisations")


@bp.route("/keys", methods=["POST"])
@page("orgs.manage", audit="key.create")
def create_key():
    """Issue an API key; its secret is on this answer only, never again."""
    session = db.session()
    org = orgs_service.find_organisation(session, request.form.get("organisation", ""))
    issued = orgs_service.create_key(session, accounts.actor_of(g.user), org, manager=g.caller)
    session.commit()
    return _organisations_page(
        issued={"key_id": issued.record.key_id, "key": issued.key, "org": org.name}, status=201
    )


@bp.route("/keys/<string:key_id>/revoke", methods=["POST"])
@page("orgs.manage", audit="key.revoke")
def revoke_key(key_id: str):
    """Revoke an API key at once."""
    session = db.session()
    orgs_service.revoke_key(session, accounts.actor_of(g.user), key_id, manager=g.caller)
    session.commit()
    forget(key_id)
    return done(f"Key {key_id} revoked.", "console.organisations")


@bp.route("/accounts", methods=["POST"])
@page("orgs.manage", audit="account.create")
def create_account():
    """Create a console account of an organisation the signed-in account manages."""
    session = db.session()
    org = orgs_service.find_organisation(session, request.form.get("organisation", ""))
    user = accounts.create_user(
        session,
        accounts.actor_of(g.user),
        org,
        request.form.get("username", ""),
        request.form.get("password", ""),
        manager=g.caller,
    )
    session.commit()
    return done(f"Account {user.username} of {org.name} created.", "console.organisations")


@bp.route("/accounts/<string:username>/disable", methods=["POST"])
@page("orgs.manage", audit="account.disable")
def disable_account(username: str):
    """Disable a console account: it signs in no more, its sessions end."""
    session = db.session()
    accounts.disable_user(session, accounts.actor_of(g.user), username, manager=g.caller)
    session.commit()
    return done(f"Account {username} disabled.", "console.organisations")
