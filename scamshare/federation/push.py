"""Pushing this node's own-origin contributions to every peer, each from its own cursor.

Each peer is pushed in its own thread, so a down or slow peer never delays the others. A failed
attempt is retried a few times with exponential backoff and jitter; a peer that still fails is
left until its next attempt time, and catches up from its cursor when it is back.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from flask import Flask
from sqlalchemy import select

from scamshare import db, metrics
from scamshare.clock import utcnow
from scamshare.federation import reconcile, signing
from scamshare.federation.identity import NodeIdentity
from scamshare.federation.outgoing import build_batch, envelope, wire_contribution
from scamshare.models import Peer
from scamshare.services import audit

log = logging.getLogger("scamshare.federation")


@dataclass
class PushReport:
    """What one push run did for one peer."""

    peer: str
    sent: int = 0
    applied: int = 0
    ignored: int = 0
    rejected: int = 0
    batches: int = 0
    cursor: int = 0
    error: str | None = None
    reasons: list[str] = field(default_factory=list)
    skipped: bool = False

    def count(self, batch: dict, answer: dict) -> None:
        """Add one delivered batch and the receiver's answer to the totals."""
        self.batches += 1
        self.sent += len(batch["contributions"])
        self.applied += answer.get("applied", 0)
        self.ignored += answer.get("ignored", 0)
        self.rejected += len(answer.get("rejected", []))
        self.reasons.extend(r.get("reason", "") for r in answer.get("rejected", []))

    def to_dict(self) -> dict:
        """Render for the audit log and the CLI."""
        return {
            "peer": self.peer,
            "sent": self.sent,
            "applied": self.applied,
            "ignored": self.ignored,
            "rejected": self.rejected,
            "batches": self.batches,
            "cursor": self.cursor,
            "error": self.error,
            "reasons": self.reasons[:20],
            "skipped": self.skipped,
        }


def backoff(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: a random wait up to base * 2^failures, capped."""
    return rng.uniform(0, min(cap, base * (2 ** max(0, failures - 1))))


@dataclass
class Pusher:
    """Pushes to peers; the HTTP client, clock, sleep and randomness are injectable."""

    app: Flask
    identity: NodeIdentity
    client: httpx.Client
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    @property
    def config(self) -> dict:
        """The app configuration."""
        return self.app.config

    def send(self, peer: Peer, batch: dict) -> dict:
        """POST one batch, retrying transient failures; return the receiver's answer."""
        body = json.dumps(batch, separators=(",", ":")).encode()
        attempts = self.config["FEDERATION_ATTEMPTS"]
        for attempt in range(1, attempts + 1):
            headers = signing.sign_headers(
                self.identity, self.config["NODE_ID"], body, self.clock()
            )
            try:
                response = self.client.post(
                    f"{peer.url}/api/v1/federation/batches", content=body, headers=headers
                )
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error or 'no answer'}"
            else:
                if response.status_code == 200:
                    return response.json()
                answer = _json(response)
                if response.status_code == 409 and answer.get("code") == "replayed_batch":
                    # Applied by an earlier attempt whose answer was lost: the cursor stands.
                    return {
                        "applied": 0,
                        "ignored": len(batch["contributions"]),
                        "rejected": [],
                        "highest_sequence": answer.get("highest_sequence", batch["sequence_to"]),
                    }
                problem = (
                    f"HTTP {response.status_code} {answer.get('code', '')}: "
                    f"{answer.get('detail', response.text[:200])}"
                )
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    raise PushFailed(problem)  # retrying the same batch cannot help
            if attempt < attempts:
                self.sleep(
                    backoff(attempt, self.config["FEDERATION_RETRY_BASE_SECONDS"], 30, self.rng)
                )
        raise PushFailed(problem)

    def push_peer(self, node_id: str, *, force: bool = False) -> PushReport:
        """Push everything the peer has not acknowledged, batch by batch, and record the health."""
        report = PushReport(peer=node_id)
        now = self.clock()
        with db.snapshot(self.app) as session:
            peer = session.scalars(select(Peer).where(Peer.node_id == node_id)).one()
            session.expunge(peer)
        if not force and peer.next_attempt_at is not None and peer.next_attempt_at > now:
            report.skipped = True
            report.error = f"backing off until {peer.next_attempt_at.isoformat()}"
            report.cursor = peer.cursor
            return report
        cursor = peer.cursor
        try:
            while True:
                with db.snapshot(self.app) as session:
                    batch = build_batch(
                        session,
                        self.config["NODE_ID"],
                        self.config["COUNTRY"],
                        cursor,
                        self.config["FEDERATION_BATCH_SIZE"],
                        self.clock(),
                    )
                if batch is None:
                    break
                answer = self.send(peer, batch)
                report.count(batch, answer)
                cursor = max(cursor, int(answer.get("highest_sequence", batch["sequence_to"])))
                self._record(node_id, cursor=cursor)
        except PushFailed as error:
            report.error = str(error)
        report.cursor = cursor
        self._record(node_id, cursor=cursor, report=report)
        return report

    def _record(self, node_id: str, *, cursor: int, report: PushReport | None = None) -> None:
        """Save the peer's cursor, and at the end of a run its health and an audit entry."""
        now = self.clock()
        with db.transaction(self.app) as session:
            peer = session.scalars(select(Peer).where(Peer.node_id == node_id)).one()
            peer.cursor = max(peer.cursor, cursor)
            if report is None:
                return
            metrics.count_push(
                node_id, report.sent, report.applied, report.ignored, report.rejected
            )
            if report.error is None:
                peer.last_success_at = now
                peer.consecutive_failures = 0
                peer.next_attempt_at = None
            else:
                peer.last_error = report.error
                peer.last_error_at = now
                peer.consecutive_failures += 1
                wait = backoff(
                    peer.consecutive_failures,
                    self.config["FEDERATION_BACKOFF_SECONDS"],
                    3600,
                    self.rng,
                )
                peer.next_attempt_at = now + timedelta(seconds=wait)
            audit.record(
                session,
                audit.Actor(organisation_name="federation"),
                "federation.push",
                target=f"peer:{node_id}",
                outcome="ok" if report.error is None else "error",
                details=report.to_dict(),
            )

    def reconcile_peer(self, node_id: str) -> PushReport:
        """Compare digests of this origin's contributions with the peer's and resend drift."""
        report = PushReport(peer=node_id)
        with db.snapshot(self.app) as session:
            peer = session.scalars(select(Peer).where(Peer.node_id == node_id)).one()
            session.expunge(peer)
            mine = reconcile.own_digest(session)
        try:
            headers = signing.sign_headers(self.identity, self.config["NODE_ID"], b"", self.clock())
            try:
                response = self.client.get(f"{peer.url}/api/v1/federation/digest", headers=headers)
            except httpx.TransportError as error:
                raise PushFailed(f"{type(error).__name__}: {error or 'no answer'}") from None
            if response.status_code != 200:
                raise PushFailed(f"HTTP {response.status_code}: {response.text[:200]}")
            buckets = reconcile.differing(mine, response.json()["buckets"])
            report.reasons = [f"bucket {b} differs" for b in buckets]
            with db.snapshot(self.app) as session:
                stale = reconcile.indicators_in(session, buckets)
                contributions = [
                    wire_contribution(i, self.config["NODE_ID"], self.config["COUNTRY"])
                    for i in stale
                ]
            size = self.config["FEDERATION_BATCH_SIZE"]
            for start in range(0, len(contributions), size):
                part = contributions[start : start + size]
                batch = envelope(
                    self.config["NODE_ID"],
                    part,
                    part[0]["origin_version"],
                    part[-1]["origin_version"],
                    self.clock(),
                )
                answer = self.send(peer, batch)
                report.count(batch, answer)
        except PushFailed as error:
            report.error = str(error)
        # What a reconciliation resends counts as sent (and applied) like a push's batches: when
        # it delivers a listing first, the push after it finds the peer already holding it.
        metrics.count_push(node_id, report.sent, report.applied, report.ignored, report.rejected)
        with db.transaction(self.app) as session:
            audit.record(
                session,
                audit.Actor(organisation_name="federation"),
                "federation.reconcile",
                target=f"peer:{node_id}",
                outcome="ok" if report.error is None else "error",
                details=report.to_dict(),
            )
        return report

    def push_all(self, only: str | None = None, *, force: bool = False) -> list[PushReport]:
        """Push to every peer (or one) concurrently; one peer's trouble never holds the rest."""
        with db.snapshot(self.app) as session:
            names = [p.node_id for p in session.scalars(select(Peer).order_by(Peer.node_id))]
        if only is not None:
            if only not in names:
                raise LookupError(f"no peer {only!r} is registered")
            names = [only]
        if not names:
            return []
        with ThreadPoolExecutor(max_workers=min(len(names), 16)) as pool:
            return list(pool.map(lambda name: self.push_peer(name, force=force), names))


class PushFailed(Exception):
    """A batch could not be delivered; the message says why."""


def _json(response: httpx.Response) -> dict:
    """The response's JSON object, or an empty dict."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def http_client(config: dict) -> httpx.Client:
    """An HTTP client with connect and read timeouts, so a slow peer cannot hang a push."""
    return httpx.Client(
        timeout=httpx.Timeout(
            connect=config["FEDERATION_CONNECT_TIMEOUT"],
            read=config["FEDERATION_READ_TIMEOUT"],
            write=config["FEDERATION_READ_TIMEOUT"],
            pool=config["FEDERATION_CONNECT_TIMEOUT"],
        )
    )
