"""Small helpers every view shares."""

from __future__ import annotations

from flask import g

from scamshare.services.audit import Actor


def accepts(*mimetypes: str):
    """Declare the request body types a view takes (JSON when a view declares none)."""

    def decorator(view):
        """Mark the view."""
        view.accepts = mimetypes
        return view

    return decorator


def actor() -> Actor:
    """Return the audit actor of the authenticated caller."""
    caller = g.caller
    return Actor(caller.organisation_id, caller.organisation_name, caller.key_id)
