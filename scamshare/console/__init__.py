"""The web console: server-rendered pages for the people who run a node.

The same services and the same role matrix as the API (scamshare/api), signed in with an
account (services.accounts) instead of a key. Pages need no script; every asset is served
from this package, and every page carries a Content-Security-Policy that allows nothing else.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from scamshare import errors, text
from scamshare.console import access, admin, pages, signin
from scamshare.console.access import bp

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def _secret_key(app: Flask) -> str:
    """SECRET_KEY, or one made once and kept in DATA_DIR (so that every worker shares it)."""
    if app.config["SECRET_KEY"]:
        return app.config["SECRET_KEY"]
    path = Path(app.config["DATA_DIR"]) / "console_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def init_app(app: Flask) -> None:
    """Register the console: sessions, CSRF tokens, its pages and its error pages."""
    app.config.update(
        SECRET_KEY=_secret_key(app),
        SESSION_COOKIE_NAME="scamshare_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(app.config["HTTPS"]),
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["CONSOLE_SESSION_MINUTES"]),
        SESSION_REFRESH_EACH_REQUEST=False,  # a session ends a fixed time after sign-in
        # Tokens are checked on every console POST (below), never on the API's key-signed calls.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session
        WTF_CSRF_SSL_STRICT=bool(app.config["HTTPS"]),
    )
    access.csrf.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(may=access.may)


@bp.before_request
def _check_form():
    """Refuse any console POST without this session's CSRF token, or with unstorable text."""
    access.csrf.protect()
    for name, value in request.form.items(multi=True):
        text.check(value, name, "form")


@bp.errorhandler(text.Refused)
def _refused(error: text.Refused):
    """Text the node cannot store (a NUL character): 422 naming the field."""
    return _page_error(422, f"{error.field}: {error.message}")


@bp.after_request
def _headers(response):
    """Console pages load nothing from elsewhere and are never cached."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.errorhandler(errors.DomainError)
def _domain_error(error: errors.DomainError):
    """A refused action or a page a role may not see, as a page."""
    template = "console/forbidden.html" if error.status == 403 else "console/error.html"
    return render_template(template, error=error, status=error.status), error.status


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    """A form without a valid token: nothing was done."""
    message = f"The form was refused: {error.description} Reload the page and try again."
    return _page_error(400, message)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    """Any other HTTP error of a console page, as a page."""
    return _page_error(error.code or 500, error.description or error.name)


def _page_error(status: int, message: str):
    """Render an error page with a status."""
    failure = errors.DomainError(message, code="error")
    g.setdefault("caller", None)
    return render_template("console/error.html", error=failure, status=status), status


__all__ = ["admin", "init_app", "pages", "signin"]
