"""Import STIX indicators from a TAXII 2.1 collection as one organisation's reports.

Each page is submitted through the same path as the API (services/reports.py) in its own
transaction, together with the page's X-TAXII-Date-Added-Last: the next run asks for what was
added after it, so an import that stops halfway resumes where its last committed page ended.
"""

from __future__ import annotations

import hashlib
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from scamshare import db
from scamshare import policy as rules
from scamshare.auth import Caller
from scamshare.clock import utcnow
from scamshare.db import insert_for
from scamshare.errors import Invalid
from scamshare.interop import stix, stix_import
from scamshare.interop.taxii import MEDIA_TYPE
from scamshare.models import Counter
from scamshare.services import importer, reports
from scamshare.services import organisations as orgs_service

PAGE = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def state_name(url: str, collection: str) -> str:
    """The counter that remembers how far the import of one collection got."""
    digest = hashlib.sha256(f"{url.rstrip('/')}|{collection}".encode()).hexdigest()
    return "taxii:" + digest[:26]


def resume_point(session: Session, name: str) -> str | None:
    """The added_after of the next run: the last date_added a committed page ended with."""
    micros = session.scalar(select(Counter.value).where(Counter.name == name))
    return None if micros is None else stix.timestamp(_EPOCH + timedelta(microseconds=micros))


def remember(session: Session, name: str, date_added: str) -> None:
    """Store where the last page ended, with the page's reports."""
    moment = datetime.fromisoformat(date_added.replace("Z", "+00:00"))
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    insert = insert_for(session)
    statement = insert(Counter).values(name=name, value=micros)
    session.execute(
        statement.on_conflict_do_update(index_elements=["name"], set_={"value": micros})
    )


@dataclass
class Page:
    """One page of a TAXII collection: its objects and its last date_added."""

    objects: list[dict]
    last_added: str | None


def pages(client: httpx.Client, objects_url: str, added_after: str | None, auth) -> Iterator[Page]:
    """Every page of the collection added after a point, following `next`."""
    params: dict[str, str] = {"limit": str(PAGE)}
    if added_after:
        params["added_after"] = added_after
    while True:
        response = client.get(objects_url, params=params, headers={"Accept": MEDIA_TYPE}, auth=auth)
        if response.status_code != 200:
            raise Invalid(
                f"The TAXII server answered {response.status_code} for {objects_url}: "
                f"{response.text[:300]}",
                code="taxii_failed",
            )
        envelope = response.json()
        yield Page(envelope.get("objects", []), response.headers.get("X-TAXII-Date-Added-Last"))
        if not envelope.get("more") or not envelope.get("next"):
            return
        params = {**params, "next": envelope["next"]}


@dataclass
class Outcome:
    """What an import did: reports accepted, objects skipped (by reason) and rejected."""

    accepted: int = 0
    rejected: int = 0
    skipped: Tally = field(default_factory=Tally)

    def summary(self) -> str:
        """One line for the operator."""
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.skipped.items()))
        skipped = sum(self.skipped.values())
        return (
            f"{self.accepted} reports accepted, {self.rejected} rejected, {skipped} objects "
            f"skipped" + (f" ({reasons})" if reasons else "")
        )


def submit_page(
    session: Session,
    page: Page,
    caller: Caller,
    policy: rules.Policy,
    now: datetime,
    outcome: Outcome,
) -> None:
    """Submit the indicators of one page that map to reports; count the rest by reason."""
    items = []
    for obj in page.objects:
        item, reason = stix_import.report_of(obj, now)
        if item is None:
            outcome.skipped[reason] += 1
        else:
            items.append(item)
    if items:
        result = reports.submit(session, items, caller, policy=policy, now=now, atomic=False)
        outcome.accepted += len(result.accepted)
        outcome.rejected += len(result.rejected)


class Stopped(Exception):
    """An import that stopped on a page: why, and what the committed pages did."""

    def __init__(self, reason: str, outcome: Outcome):
        """Keep the reason and the outcome so far."""
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


def run_import(
    app: Flask, url: str, collection: str, organisation: str, user: str | None
) -> tuple[Caller, Outcome, str | None]:
    """Pull what was added to a collection since the last run, one transaction per page.

    The password is the node setting SCAMSHARE_TAXII_PASSWORD, never a command-line argument.
    Returns the caller the reports were submitted as, the outcome and where the run started.
    """
    with db.transaction(app) as session:
        caller = importer.caller_for(orgs_service.find_organisation(session, organisation))
        name = state_name(url, collection)
        added_after = resume_point(session, name)
    auth = (user, app.config["TAXII_PASSWORD"]) if user else None
    objects_url = f"{url.rstrip('/')}/collections/{collection}/objects/"
    outcome = Outcome()
    timeout = httpx.Timeout(app.config["FEDERATION_READ_TIMEOUT"])
    try:
        with httpx.Client(timeout=timeout) as client:
            for page in pages(client, objects_url, added_after, auth):
                with db.transaction(app) as session:
                    policy = app.extensions["scamshare.policy"]
                    submit_page(session, page, caller, policy, utcnow(), outcome)
                    if page.last_added:
                        remember(session, name, page.last_added)
    except Invalid as error:
        if error.code != "taxii_failed":
            raise
        raise Stopped(error.message, outcome) from None
    except httpx.HTTPError as error:
        raise Stopped(f"The TAXII server could not be read: {error}.", outcome) from None
    return caller, outcome, added_after
