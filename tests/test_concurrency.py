"""Concurrent submissions from separate processes, each with its own database connections.

Several organisations report the same values at the same moment, in different orders. However
the engine interleaves them (PostgreSQL row locks, SQLite's single writer), every value ends as
one indicator whose counts hold every report: no lost update, no duplicate, no deadlock.
"""

from __future__ import annotations

import multiprocessing
import random
from datetime import timedelta

from sqlalchemy import func, select

from scamshare import db
from scamshare.app import create_app
from scamshare.auth import Caller
from scamshare.clock import utcnow
from scamshare.models import Counter, IndicatorEvent, IndicatorOrganisation, Report
from scamshare.services import reports
from tests.conftest import make_credential

PROCESSES = 4
ROUNDS = 3
# Every round brings numbers nobody reported yet (all processes race to create them) and
# sender IDs that every round repeats (all processes race to update them).
FRESH = 150
REPEATED = [f"SCAM{n:02d}" for n in range(10)]


def round_values(round_number: int) -> list[str]:
    """The values every process reports in one round."""
    fresh = [f"+65 81{round_number}{n:05d}" for n in range(FRESH)]
    return fresh + REPEATED


def _report(value: str) -> dict:
    """A report of a value: sender IDs are the values with letters."""
    return {
        "kind": "sender_id" if value.startswith("SCAM") else "phone",
        "value": value,
        "category": "parcel_delivery",
        "channel": "sms",
        "observed_at": (utcnow() - timedelta(hours=1)).isoformat(),
        "evidence_ref": "case-1",
    }


def submit_in_rounds(database_url: str, data_dir: str, caller: Caller, seed: int, barrier) -> None:
    """In a process of its own: submit each round's values, in an order of its own."""
    app = create_app(
        {"DATABASE_URL": database_url, "DATA_DIR": data_dir, "COUNTRY": "SG", "TESTING": True}
    )
    shuffled = random.Random(seed)
    try:
        for round_number in range(ROUNDS):
            order = round_values(round_number)
            shuffled.shuffle(order)
            items = [_report(value) for value in order]
            barrier.wait()  # everyone ready: start the round together
            with db.transaction(app) as session:
                result = reports.submit(
                    session,
                    items,
                    caller,
                    policy=app.extensions["scamshare.policy"],
                    now=utcnow(),
                    atomic=True,
                )
                assert len(result.accepted) == len(items)
    finally:
        app.extensions["scamshare.engine"].dispose()


def all_indicators(client, credential) -> list[dict]:
    """Every indicator, page after page."""
    found, cursor = [], None
    while True:
        query = {"limit": 500, **({"before": cursor} if cursor else {})}
        page = client.get("/api/v1/indicators", query_string=query, headers=credential.headers)
        found.extend(page.json["items"])
        cursor = page.json["next"]
        if cursor is None:
            return found


def test_concurrent_submissions_of_the_same_values_lose_nothing(
    app, client, database_url, tmp_path
):
    """Every report is counted once, in one indicator per value, listed once, in sequence."""
    credentials = [make_credential(app, "operator", f"Operator {n}") for n in range(PROCESSES)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES, timeout=60)
    workers = [
        context.Process(
            target=submit_in_rounds,
            args=(
                database_url,
                str(tmp_path),
                Caller(c.organisation_id, c.name, "operator", "SG", c.key_id),
                seed,
                barrier,
            ),
        )
        for seed, c in enumerate(credentials)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES

    reader = credentials[0]
    indicators = all_indicators(client, reader)
    assert len(indicators) == ROUNDS * FRESH + len(REPEATED)
    assert len({(item["kind"], item["value"]) for item in indicators}) == len(indicators)
    for item in indicators:
        # A fresh number was reported once by each process; a sender ID once a round.
        reports_each = ROUNDS if item["kind"] == "sender_id" else 1
        assert item["report_count"] == PROCESSES * reports_each, item
        assert item["org_count"] == PROCESSES, item
        assert item["category_counts"] == {"parcel_delivery": PROCESSES * reports_each}
        assert item["status"] == "listed", item

    for item in indicators[:: len(indicators) // 20]:
        shown = client.get(f"/api/v1/indicators/{item['id']}", headers=reader.headers).json
        [own] = shown["reporters"]
        assert (own["organisation"], own["report_count"]) == (
            reader.name,
            ROUNDS if item["kind"] == "sender_id" else 1,
        )
        changes = [(e["from_status"], e["to_status"]) for e in shown["history"]]
        assert changes.count(("reported", "listed")) == 1, changes

    with db.transaction(app) as session:
        stored = session.scalar(select(func.count()).select_from(Report))
        shares = session.scalar(select(func.sum(IndicatorOrganisation.report_count)))
        sequences = session.scalars(select(IndicatorEvent.sequence)).all()
        newest = session.scalar(select(Counter.value).where(Counter.name == "sequence"))
    expected = PROCESSES * ROUNDS * (FRESH + len(REPEATED))
    assert stored == shares == expected
    # One node-wide sequence: every change took its own number, none skipped, none reused.
    assert sorted(sequences) == list(range(1, newest + 1))
