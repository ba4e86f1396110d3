"""The one dashboard figure kept for a moment: what operators receive, per kind.

Counting it reads one index entry per listing, about 90 ms at a million listings on SQLite
(bench/console.py), on every dashboard load of every person. Each process keeps the count for
SCAMSHARE_CONSOLE_COUNTS_SECONDS (30 by default; 0 counts on every load), and the dashboard
says when it was counted. Everything else on the dashboard is read fresh on every load.
"""

from __future__ import annotations

import time
from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from scamshare.clock import utcnow
from scamshare.services import stats

_KEY = "scamshare.console.listed"


def listed_per_kind(session: Session) -> tuple[dict[str, int], datetime]:
    """Listings per kind and when they were counted (now, or at most the configured age ago)."""
    kept = current_app.extensions.get(_KEY)
    age = current_app.config["CONSOLE_COUNTS_SECONDS"]
    if kept is not None and time.monotonic() - kept[0] < age:
        return kept[1], kept[2]
    counts, counted_at = stats.listed_per_kind(session), utcnow()
    current_app.extensions[_KEY] = (time.monotonic(), counts, counted_at)
    return counts, counted_at
