"""The console's blueprint, who is signed in, and the role matrix applied to pages and forms."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from scamshare import db, errors
from scamshare.auth import ROLE_MATRIX, check_role
from scamshare.models import User
from scamshare.services import accounts

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()
# Forms post these; the API's content-type check lets a view take what it declares.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
LIMITER = "scamshare.console.limiter"


def signed_in_user() -> User | None:
    """The account of this request's session cookie, if it is still valid."""
    if "user" in g:
        return g.user
    user = None
    user_id, generation = session.get("uid"), session.get("gen")
    if isinstance(user_id, int) and isinstance(generation, int):
        found = db.session().get(User, user_id)
        if (
            found is not None
            and found.disabled_at is None
            and found.session_generation == generation
        ):
            user = found
    g.user = user
    return user


def may(permission: str) -> bool:
    """Whether the signed-in account's role holds a permission (for templates and views)."""
    caller = g.get("caller")
    return caller is not None and caller.role in ROLE_MATRIX[permission]


def page(permission: str | None = None, audit: str | None = None) -> Callable:
    """Decorate a console view: signed in, the role matrix, the audit action of a form."""
    if permission is not None and permission not in ROLE_MATRIX:
        raise KeyError(f"unknown permission {permission!r}")

    def decorator(view: Callable) -> Callable:
        """Wrap one view."""

        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            """Send a stranger to sign in; refuse a role the matrix does not allow."""
            user = signed_in_user()
            if user is None:
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            g.caller = accounts.caller_of(user)
            # As in the API: a refused or failed action is written to the audit log.
            g.audit_action = audit
            if permission is not None:
                check_role(g.caller, permission)
            return view(*args, **kwargs)

        wrapper.accepts = FORM_TYPES  # type: ignore[attr-defined]
        wrapper.console_permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorator


def login_limiter() -> tuple[MovingWindowRateLimiter, object]:
    """This app's limiter of failed sign-ins per client address, and its limit."""
    found = current_app.extensions.get(LIMITER)
    if found is None:
        found = (
            MovingWindowRateLimiter(MemoryStorage()),
            parse(current_app.config["CONSOLE_LOGIN_LIMIT"]),
        )
        current_app.extensions[LIMITER] = found
    return found


def load(schema: Schema, source: MultiDict, location: str = "form") -> dict:
    """Load a form (or query) with the API's own schema: blank fields are absent, errors 422."""
    names = {field.data_key or name for name, field in schema.fields.items()}
    data = {name: value for name, value in source.items() if value != "" and name in names}
    try:
        return schema.load(data)
    except ValidationError as error:
        entries = errors.field_errors(error.messages, location)
        message = "; ".join(f"{entry['field']}: {entry['message']}" for entry in entries)
        raise errors.Invalid(message, errors=entries) from None
