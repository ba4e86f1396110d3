"""The node's one scheduler: APScheduler jobs that run only while this process holds the lease.

Several scheduler processes may be started (by mistake, or for fail-over); each job run first
takes or renews the database lease, so exactly one of them works at a time and another takes
over within one lease period when it dies. Each job run is one transaction.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from scamshare import db, metrics
from scamshare.clock import utcnow
from scamshare.federation.identity import load
from scamshare.federation.push import Pusher, http_client
from scamshare.models import Lease
from scamshare.services import audit, taxii_import
from scamshare.services.expiry import expire_due
from scamshare.services.peers import list_peers

LEASE_NAME = "scheduler"
log = logging.getLogger("scamshare.scheduler")


@dataclass(frozen=True)
class Job:
    """A periodic task, its interval, and why the node needs it."""

    name: str
    run: Callable[[Session, Flask, datetime], dict]
    seconds: int
    why: str


def _expire(session: Session, app: Flask, now: datetime) -> dict:
    """End the listings whose last corroborating report is older than their kind's TTL."""
    actor = audit.Actor(organisation_name="scheduler")
    return {"expired": expire_due(session, app.extensions["scamshare.policy"], now, actor)}


def _federate(method: str) -> Callable[[Session, Flask, datetime], dict]:
    """A job that runs one federation round (push or reconcile) against every due peer."""

    def run(session: Session, app: Flask, now: datetime) -> dict:
        """Run the round with this node's identity; each peer's outcome is audited apart."""
        node = load(app.config["DATA_DIR"], app.config["NODE_KEY"])
        with http_client(app.config) as client:
            pusher = Pusher(app, node, client)
            if method == "push":
                reports = pusher.push_all()
            else:
                with db.transaction(app) as peers_session:
                    names = [peer.node_id for peer in list_peers(peers_session)]
                reports = [pusher.reconcile_peer(name) for name in names]
        return {
            "peers": len(reports),
            "sent": sum(r.sent for r in reports),
            "applied": sum(r.applied for r in reports),
            "rejected": sum(r.rejected for r in reports),
            "failed": sorted(r.peer for r in reports if r.error),
        }

    return run


def _taxii_import(session: Session, app: Flask, now: datetime) -> dict:
    """Pull the configured TAXII collection's new indicators as reports (own transactions)."""
    config = app.config
    _, outcome, _ = taxii_import.run_import(
        app,
        config["TAXII_IMPORT_URL"],
        config["TAXII_IMPORT_COLLECTION"],
        config["TAXII_IMPORT_ORG"],
        config["TAXII_IMPORT_USER"] or None,
    )
    return {"accepted": outcome.accepted, "rejected": outcome.rejected, **outcome.skipped}


def node_jobs(app: Flask) -> list[Job]:
    """Every job of this node, each with its reason."""
    jobs = [
        Job(
            "expire",
            _expire,
            app.config["EXPIRE_INTERVAL_SECONDS"],
            "a listing must lapse when its evidence grows old, even if nobody touches it",
        ),
        Job(
            "push",
            _federate("push"),
            app.config["PUSH_INTERVAL_SECONDS"],
            "peers must learn this node's listings and removals within minutes, not days",
        ),
        Job(
            "reconcile",
            _federate("reconcile"),
            app.config["RECONCILE_INTERVAL_SECONDS"],
            "cursors can drift (a restored backup, a lost batch): compare digests, resend drift",
        ),
    ]
    if app.config["TAXII_IMPORT_URL"]:
        jobs.append(
            Job(
                "taxii_import",
                _taxii_import,
                app.config["TAXII_IMPORT_INTERVAL_SECONDS"],
                "a CERT's new indicators should reach operators without anyone running a command",
            )
        )
    return jobs


def holder_id() -> str:
    """Name this process uniquely among every scheduler of the node."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseKeeper:
    """Takes and renews the scheduler lease for one process."""

    def __init__(self, app: Flask, holder: str, clock: Callable[[], datetime] = utcnow):
        """Remember the app, this process's holder name and the clock."""
        self.app = app
        self.holder = holder
        self.clock = clock
        self.seconds = app.config["SCHEDULER_LEASE_SECONDS"]

    def hold(self) -> bool:
        """Take the lease if it is free or expired, or renew it if it is ours; say if we hold it."""
        now = self.clock()
        with db.transaction(self.app) as session:
            taken = session.execute(
                update(Lease)
                .where(
                    Lease.name == LEASE_NAME,
                    or_(
                        Lease.holder == self.holder,
                        Lease.holder.is_(None),
                        Lease.expires_at < now,
                    ),
                )
                .values(
                    holder=self.holder,
                    acquired_at=now,
                    expires_at=now + timedelta(seconds=self.seconds),
                )
            )
            return taken.rowcount == 1

    def release(self) -> None:
        """Give the lease up so that a standby scheduler takes over at once."""
        with db.transaction(self.app) as session:
            session.execute(
                update(Lease)
                .where(Lease.name == LEASE_NAME, Lease.holder == self.holder)
                .values(holder=None, expires_at=None)
            )


def run_job(app: Flask, job: Job, keeper: LeaseKeeper) -> dict | None:
    """Run one job in one transaction if this process holds the lease; audit how it went."""
    if not keeper.hold():
        log.debug("not the lease holder; skipping", extra={"fields": {"job": job.name}})
        return None
    actor = audit.Actor(organisation_name=f"scheduler:{keeper.holder}")
    now = keeper.clock()
    started = time.perf_counter()
    try:
        with db.transaction(app) as session:
            result = job.run(session, app, now)
            audit.record(session, actor, f"job.{job.name}", details=result)
    except Exception as error:  # a failed run must be logged and audited, then retried later
        metrics.observe_job(job.name, "error", time.perf_counter() - started)
        log.exception("job failed", extra={"fields": {"job": job.name}})
        with db.transaction(app) as session:
            audit.record(
                session, actor, f"job.{job.name}", outcome="error", details={"error": str(error)}
            )
        return None
    metrics.observe_job(job.name, "ok", time.perf_counter() - started)
    log.info("job done", extra={"fields": {"job": job.name, **result}})
    return result


def build(app: Flask, keeper: LeaseKeeper, *, background: bool):
    """Build an APScheduler scheduler with every node job (blocking, or in a background thread)."""
    scheduler_class = BackgroundScheduler if background else BlockingScheduler
    scheduler = scheduler_class(timezone=UTC)
    for job in node_jobs(app):
        scheduler.add_job(
            run_job,
            "interval",
            args=(app, job, keeper),
            seconds=job.seconds,
            id=job.name,
            name=job.why,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
    # Renew well inside the lease period, so a healthy holder never loses it between jobs.
    scheduler.add_job(
        keeper.hold,
        "interval",
        seconds=max(1, keeper.seconds // 3),
        id="lease",
        name="keep the scheduler lease",
        max_instances=1,
        coalesce=True,
    )
    return scheduler
