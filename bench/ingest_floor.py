"""The floor under bench/ingest.py: normalising the reports and writing their rows, nothing else.

Run from the repository root:

    python bench/ingest_floor.py [--reports 100000] [--batch 5000]

On the same generated reports as bench/ingest.py (same seed, same batches), with no HTTP, no
schema validation, no aggregation and no lifecycle rules, it does only what any ingestion must
do: decode each batch's JSON body, normalise every number with bare libphonenumber (parse +
is_valid_number + format E.164), and in one transaction per batch write the rows ScamShare
writes, through the same driver path (`db.Raw`: executemany on SQLite, COPY on PostgreSQL, value
lists as one array there): the batch's new indicators (`ON CONFLICT DO NOTHING`), the ids of
those that already existed, one row per report, the corroboration upsert per (indicator,
organisation), and the existing indicators' counts. It checks the database then holds every
report and one indicator per number with the right count.

It runs once in one process, then from two processes at once on a fresh database (batches dealt
in turn, as bench/ingest.py's two gunicorn workers get them; writers take SQLite's lock at their
first statement, as the service's do), and prints for each the CPU time per report of each step
in units of one bare normalisation (summed over the processes, and on PostgreSQL the server's
own CPU on the same cores, when it runs on this machine) and the throughput and its ratio to
bare normalisation. What the two processes reach is the most that bench/ingest.py's two workers
could reach on this machine if ScamShare's own work, HTTP and the load generator cost nothing.

SQLite always runs; with SCAMSHARE_BENCH_POSTGRES_URL set, PostgreSQL too, on databases of its own
that it creates and drops.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import phonenumbers
from ingest import (  # bench/ is on sys.path
    bare_rate,
    batch_bodies,
    engines,
    generate,
    postgres_database,
    postgres_server,
)
from machine import CpuUse, describe
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scamshare import db, migrations
from scamshare.models import Indicator, IndicatorOrganisation, Organisation, Report

# The NOT NULL columns of a new indicator, and its report times.
INDICATOR_COLUMNS = (
    "kind", "value", "status", "risk", "report_count", "spoofed_count", "verified_count",
    "org_count", "country_count", "category_counts", "channel_counts", "first_reported_at",
    "last_reported_at", "sequence", "facts", "created_at", "updated_at", "origin_version",
    "foreign", "exported",
)  # fmt: skip
REPORT_COLUMNS = (
    "indicator_id", "organisation_id", "kind", "submitted_value", "category", "channel",
    "observed_at", "received_at", "evidence_ref", "region", "verified", "spoofed_caller_id",
)  # fmt: skip
CORROBORATION_COLUMNS = (
    "indicator_id", "organisation_id", "country", "report_count", "first_at", "last_at",
)  # fmt: skip
STEPS = ("decode", "normalise", "write", "commit")


def prepare(database_url: str) -> int:
    """Create the schema and the one reporting organisation; return its id."""
    engine = db.make_engine(database_url)
    migrations.upgrade(engine)
    with Session(engine) as session:
        organisation = Organisation(name="Floor operator", role="operator", country="SG")
        session.add(organisation)
        session.commit()
        organisation_id = organisation.id
    engine.dispose()
    return organisation_id


def store(database_url: str, bodies: list[bytes], organisation: int) -> dict[str, float]:
    """Store these batches the bare way; return the CPU seconds of each step."""
    # Writers take SQLite's lock at their first statement, as the service's write sessions do.
    engine = db.make_engine(database_url).execution_options(sqlite_begin="IMMEDIATE")
    parse = phonenumbers.parse
    is_valid_number = phonenumbers.is_valid_number
    format_number = phonenumbers.format_number
    e164 = phonenumbers.PhoneNumberFormat.E164
    spent = dict.fromkeys(STEPS, 0.0)
    gc.disable()  # as the service does for a batch (scamshare.gcpause)
    for body in bodies:
        mark = time.process_time()
        items = json.loads(body)["reports"]
        spent["decode"] += time.process_time() - mark

        mark = time.process_time()
        values = []
        for item in items:
            number = parse(item["value"], item["region"])
            values.append(format_number(number, e164) if is_valid_number(number) else None)
        spent["normalise"] += time.process_time() - mark

        mark = time.process_time()
        session = Session(engine)
        raw = db.Raw(session)
        now = datetime.now(UTC)
        when = raw.when(now)
        facts = raw.json_text({"region": "SG", "number_type": "mobile", "listable": True})
        counts = raw.json_text({"investment": 1})
        reported = Counter(values)
        distinct = sorted(reported)
        rows = [
            ("phone", value, "reported", "low", reported[value], 0, 0, 1, 1, counts, counts, when,
             when, 0, facts, when, when, 0, raw.json_text([]), False)
            for value in distinct
        ]  # fmt: skip
        ids = {
            value: id_
            for id_, _, value in raw.insert_new(Indicator.__table__, INDICATOR_COLUMNS, rows)
        }
        raw.analyse_once("indicators")  # as the service does: a fresh table's first statistics
        existing = [value for value in distinct if value not in ids]
        for start in range(0, len(existing), raw.chunk):
            condition, parameters = raw.one_of("value", existing[start : start + raw.chunk])
            ids.update(
                (value, id_)
                for id_, value in raw.all(
                    f"SELECT id, value FROM indicators WHERE kind = 'phone' AND {condition}",
                    parameters,
                )
            )
        raw.insert(
            Report.__table__,
            REPORT_COLUMNS,
            [
                (ids[value], organisation, "phone", item["value"], item["category"],
                 item["channel"], raw.when(datetime.fromisoformat(item["observed_at"])), when,
                 item["evidence_ref"], item["region"], False, False)
                for item, value in zip(items, values, strict=True)
            ],
        )  # fmt: skip
        raw.insert(
            IndicatorOrganisation.__table__,
            CORROBORATION_COLUMNS,
            [(ids[value], organisation, "SG", reported[value], when, when) for value in distinct],
            "ON CONFLICT (indicator_id, organisation_id) DO UPDATE SET "
            "report_count = indicator_organisations.report_count + excluded.report_count",
        )
        raw.many(
            "UPDATE indicators SET report_count = report_count + ?, updated_at = ? WHERE id = ?",
            [(reported[value], when, ids[value]) for value in existing],
        )
        spent["write"] += time.process_time() - mark

        mark = time.process_time()
        session.commit()
        session.close()
        spent["commit"] += time.process_time() - mark
    gc.enable()
    engine.engine.dispose()
    return spent


def run(database_url: str, bodies: list[bytes], processes: int) -> tuple[dict, float, tuple]:
    """Store every batch from `processes` processes at once (batches dealt in turn).

    Returns the CPU seconds per step summed over the processes (with the database server's, if
    it is a server on this machine), the wall time, and what the database then holds: reports,
    indicators and the sum of their report counts.
    """
    organisation = prepare(database_url)
    server = postgres_server(database_url)
    started = time.perf_counter()
    with CpuUse({"database server": server}) as cpu:
        if processes == 1:
            spent = store(database_url, bodies, organisation)
        else:
            with ProcessPoolExecutor(processes) as pool:
                shares = [bodies[start::processes] for start in range(processes)]
                results = list(
                    pool.map(store, [database_url] * processes, shares, [organisation] * processes)
                )
            spent = {step: sum(result[step] for result in results) for step in STEPS}
    elapsed = time.perf_counter() - started
    if cpu.seconds["database server"] is not None:
        spent["database server"] = cpu.seconds["database server"]
    engine = db.make_engine(database_url)
    with Session(engine) as session:
        stored = (
            session.scalar(select(func.count()).select_from(Report)),
            session.scalar(select(func.count()).select_from(Indicator)),
            session.scalar(select(func.sum(Indicator.report_count))),
        )
    engine.dispose()
    return spent, elapsed, stored


def main() -> None:
    """Generate the reports, store them the bare way on each engine, print the floor."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=20260123)
    arguments = parser.parse_args()
    reports, distinct = generate(arguments.reports, arguments.seed)
    bodies = batch_bodies(reports, arguments.batch)
    count = len(reports)
    bare = bare_rate(reports)
    print(f"machine: {describe()}, phonenumbers {phonenumbers.__version__}")
    print(f"reports: {count} phone reports of {distinct} numbers in {len(bodies)} batches")
    print(f"bare parse+is_valid_number+format_number: {bare:,.0f} numbers/s")
    for engine_name, admin_url in engines():
        for processes in (1, 2):
            name = f"scamshare_floor_{os.getpid()}_{processes}"
            with tempfile.TemporaryDirectory(prefix="scamshare-floor-") as data_dir:
                if admin_url:
                    database_url = postgres_database(admin_url, name, create=True)
                else:
                    database_url = f"sqlite:///{Path(data_dir) / 'scamshare.db'}"
                try:
                    spent, elapsed, stored = run(database_url, bodies, processes)
                finally:
                    if admin_url:
                        postgres_database(admin_url, name, create=False)
            if stored != (count, distinct, count):
                raise RuntimeError(f"expected {count} reports and {distinct} indicators: {stored}")
            label = f"{engine_name}, {processes} process{'es' if processes > 1 else ''}"
            units = ", ".join(f"{step} {sec * bare / count:.2f}" for step, sec in spent.items())
            print(
                f"{label}: CPU per report in units of one bare normalisation: "
                f"{sum(spent.values()) * bare / count:.2f} ({units})"
            )
            rate = count / elapsed
            print(
                f"{label}: floor {rate:,.0f} reports/s, "
                f"ratio to bare normalisation {rate / bare:.3f}"
            )


if __name__ == "__main__":
    main()
