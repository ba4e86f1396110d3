"""Signing in and out of the console."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, redirect, render_template, request, session, url_for

from scamshare import db
from scamshare.console.access import FORM_TYPES, bp, login_limiter, page, signed_in_user
from scamshare.errors import Unauthorised
from scamshare.services import accounts


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this node, never another site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/console"):
            return target
    return url_for("console.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; check a username and password; limit repeated failures."""
    g.caller = None
    if request.method == "GET":
        if signed_in_user() is not None:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("console/login.html", next=request.args.get("next", ""))
    limiter, limit = login_limiter()
    address = request.remote_addr or "unknown"
    if not limiter.test(limit, "console-login", address):
        return render_template(
            "console/login.html",
            next=request.form.get("next", ""),
            error=f"Too many failed sign-ins from this address (limit: {limit}). Wait and try "
            "again.",
        ), 429
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    db_session = db.session()
    try:
        user = accounts.sign_in(db_session, username, password)
    except Unauthorised as error:
        db_session.commit()  # the refused attempt stays in the audit log
        limiter.hit(limit, "console-login", address)
        return render_template(
            "console/login.html", next=request.form.get("next", ""), error=error.message
        ), 401
    db_session.commit()
    session.clear()  # nothing of a session from before sign-in survives it
    session.permanent = True
    session["uid"] = user.id
    session["gen"] = user.session_generation
    return redirect(_safe_next(request.form.get("next")), code=303)


login.accepts = FORM_TYPES  # type: ignore[attr-defined]


@bp.route("/logout", methods=["POST"])
@page()
def logout():
    """Sign out: this account's session cookies stop working, on this browser and any other."""
    db_session = db.session()
    accounts.sign_out(db_session, g.user)
    db_session.commit()
    session.clear()
    return redirect(url_for("console.login"), code=303)
