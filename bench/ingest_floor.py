"""The floor under bench/ingest.py: normalising the reports and writing their rows, nothing else.

Run from the repository root:

    python bench/ingest_floor.py [--reports 100000] [--batch 5000]

On the same generated reports as bench/ingest.py (same seed, same batches), in one process and
with no HTTP, no schema validation, no aggregation and no lifecycle rules, it does only what any
ingestion must do: decode each batch's JSON body, normalise every number with bare
libphonenumber (parse + is_valid_number + format E.164), and in one transaction per batch write
the rows ScamShare writes, through the same driver path (`db.Raw`, executemany on SQLite, COPY
on PostgreSQL): the batch's new indicators (`ON CONFLICT DO NOTHING`), the ids of those that
already existed, one row per report, the corroboration upsert per (indicator, organisation), and
the existing indicators' counts. It prints the CPU time per report of each step in units of one
bare normalisation, and the floor's throughput and its ratio to bare normalisation.

Two worker processes on two cores can at best double the floor's ratio, and only if nothing else
runs on them; ScamShare's own work (validation, summing, lifecycle, HTTP) and the load generator
come on top. SQLite always runs; with SCAMSHARE_BENCH_POSTGRES_URL set, PostgreSQL too, on a
database of its own that it creates and drops (the server's CPU time, on the same two cores, is
not in the process's own CPU time: compare wall times there).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import phonenumbers
from ingest import bare_rate, generate, postgres_database  # bench/ is on sys.path
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


def floor(database_url: str, bodies: list[bytes]) -> tuple[dict[str, float], float, tuple]:
    """Store every batch the bare way; return CPU seconds per step, the wall time, and what
    the database then holds: reports, indicators and the sum of their report counts."""
    engine = db.make_engine(database_url)
    migrations.upgrade(engine)
    parse = phonenumbers.parse
    is_valid_number = phonenumbers.is_valid_number
    format_number = phonenumbers.format_number
    e164 = phonenumbers.PhoneNumberFormat.E164
    spent = dict.fromkeys(STEPS, 0.0)
    with Session(engine) as session:
        session.add(Organisation(name="Floor operator", role="operator", country="SG"))
        session.commit()
        organisation = session.scalar(select(Organisation.id))
    gc.disable()  # as the service does for a batch (scamshare.gcpause)
    started = time.perf_counter()
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
    elapsed = time.perf_counter() - started
    gc.enable()
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
    bodies = [
        json.dumps({"reports": reports[start : start + arguments.batch]}).encode()
        for start in range(0, len(reports), arguments.batch)
    ]
    count = len(reports)
    bare = bare_rate(reports)
    print(f"reports: {count} phone reports of {distinct} numbers in {len(bodies)} batches")
    print(f"bare parse+is_valid_number+format_number: {bare:,.0f} numbers/s")
    engines = []
    postgres_admin = os.environ.get("SCAMSHARE_BENCH_POSTGRES_URL")
    if postgres_admin:
        engines.append(("postgresql", postgres_admin))
    engines.append(("sqlite", None))
    for engine_name, admin_url in engines:
        name = f"scamshare_floor_{os.getpid()}"
        with tempfile.TemporaryDirectory(prefix="scamshare-floor-") as data_dir:
            if admin_url:
                database_url = postgres_database(admin_url, name, create=True)
            else:
                database_url = f"sqlite:///{Path(data_dir) / 'scamshare.db'}"
            try:
                spent, elapsed, stored = floor(database_url, bodies)
            finally:
                if admin_url:
                    postgres_database(admin_url, name, create=False)
        if stored != (count, distinct, count):
            raise RuntimeError(f"expected {count} reports and {distinct} indicators: {stored}")
        units = ", ".join(f"{step} {seconds * bare / count:.2f}" for step, seconds in spent.items())
        print(
            f"{engine_name}: CPU per report in units of one bare normalisation: "
            f"{sum(spent.values()) * bare / count:.2f} ({units})"
        )
        rate = count / elapsed
        print(f"{engine_name} floor: {rate:,.0f} reports/s, one process")
        print(f"{engine_name} floor ratio to bare normalisation: {rate / bare:.3f}")


if __name__ == "__main__":
    main()
