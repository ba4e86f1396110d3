"""Small helpers every view shares."""

from __future__ import annotations

from flask import g

from scamshare.services.audit import Actor


def actor() -> Actor:
    """Return the audit actor of the authenticated caller."""
    caller = g.caller
    return Actor(caller.organisation_id, caller.organisation_name, caller.key_id)
