"""Benchmark the console on 1,000,000 indicators: the pages an analyst opens most.

    python bench/console.py [--rows 1000000] [--requests 100] [--database PATH]

Loads the indicators of bench/distribution.py (a tenth of them reported but not listed, for the
review queue), 100,000 reports and 100,000 listings spread over the last 30 days, then serves
the node on loopback (a werkzeug server thread) and, under one signed-in client, times the
dashboard, a search by value (another spelling of a stored number), an indicator page and the
review queue. Prints the median and 95th percentile of each against a bare baseline measured
in the same run (GET /healthz through the same server and client: the cost of any request),
and last `p95_ms: X`, the worst 95th percentile of the four. Target: under 300 ms on SQLite.

With --database PATH the loaded database is kept there and reused by the next run.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from distribution import indicator_rows  # bench/ is on sys.path when a script runs
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark password 1"
REPORTS = 100_000
EVENTS = 100_000
CHUNK = 20_000


def load(url: str, rows: int) -> list[tuple[int, str]]:
    """Migrate and fill the database; return some (id, value) of stored phone indicators."""
    from sqlalchemy import func, insert, select, update

    from scamshare import migrations
    from scamshare.db import make_engine
    from scamshare.models import Counter, Indicator, IndicatorEvent, Organisation, Report

    engine = make_engine(url)
    migrations.upgrade(engine)
    with engine.connect() as connection:
        present = connection.scalar(select(func.count()).select_from(Indicator))
    if present < rows:
        now = datetime.now(UTC)
        seen: set[str] = set()
        started = time.monotonic()
        with engine.begin() as connection:
            orgs = [
                connection.execute(
                    insert(Organisation)
                    .values(
                        name=f"Bench operator {n}", role="operator", country="SG", created_at=now
                    )
                    .returning(Organisation.id)
                ).scalar_one()
                for n in range(5)
            ]
        for offset in range(0, rows, CHUNK):
            part = indicator_rows(offset + 1, min(CHUNK, rows - offset), now, seen)
            for index, row in enumerate(part):
                if index % 10 == 0:  # reported, not yet listed: the review queue's share
                    row.update(
                        status="reported",
                        shown_status="reported",
                        exported=False,
                        csv_line=None,
                        json_item=None,
                        listed_at=None,
                    )
            with engine.begin() as connection:
                connection.execute(insert(Indicator.__table__), part)
            print(f"  {offset + len(part):,} indicators", end="\r", file=sys.stderr)
        rng = random.Random(11)
        for offset in range(0, REPORTS, CHUNK):
            reports = []
            for number in range(offset, offset + CHUNK):
                at = now - timedelta(days=rng.uniform(0, 30))
                reports.append(
                    {
                        "indicator_id": rng.randint(1, rows),
                        "organisation_id": rng.choice(orgs),
                        "kind": "phone",
                        "submitted_value": f"+65 8{number:07d}",
                        "category": "investment",
                        "channel": "sms",
                        "observed_at": at,
                        "received_at": at,
                        "evidence_ref": f"case-{number}",
                        "region": "SG",
                    }
                )
            events = [
                {
                    "indicator_id": rng.randint(1, rows),
                    "sequence": rows + number,
                    "at": now - timedelta(days=rng.uniform(0, 30)),
                    "from_status": "reported",
                    "to_status": rng.choice(["listed", "listed", "expired", "delisted"]),
                    "risk": "high",
                    "reason": "bench",
                }
                for number in range(offset, offset + CHUNK)
            ]
            with engine.begin() as connection:
                connection.execute(insert(Report.__table__), reports)
                connection.execute(insert(IndicatorEvent.__table__), events)
        with engine.begin() as connection:
            connection.execute(
                update(Counter).where(Counter.name == "sequence").values(value=rows + EVENTS)
            )
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("ANALYZE")
        print(f"loaded {rows:,} indicators in {time.monotonic() - started:.0f} s", file=sys.stderr)
    with engine.connect() as connection:
        sample = connection.execute(
            select(Indicator.id, Indicator.value)
            .where(Indicator.kind == "phone", Indicator.value.like("+65%"))
            .limit(2000)
        ).all()
    engine.dispose()
    return [(int(i), v) for i, v in sample]


def serve(url: str, data_dir: str):
    """The node's app on a loopback server thread, with one regulator account."""
    import logging

    from werkzeug.serving import make_server

    from scamshare.app import create_app
    from scamshare.db import transaction
    from scamshare.errors import NotFound
    from scamshare.services import accounts, audit
    from scamshare.services import organisations as orgs

    app = create_app({"DATABASE_URL": url, "DATA_DIR": data_dir, "LOG_REQUESTS": False})
    with transaction(app) as session:
        try:
            regulator = orgs.find_organisation(session, "Bench regulator")
        except NotFound:
            regulator = orgs.create_organisation(
                session, audit.NODE, name="Bench regulator", role="regulator", country="SG"
            )
        try:
            accounts.find_user(session, "bench")
        except NotFound:
            accounts.create_user(session, audit.NODE, regulator, "bench", PASSWORD)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return app, server


def signed_in(base: str) -> httpx.Client:
    """One client signed in to the console as the bench regulator."""
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/console/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = client.post(
        "/console/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 303, answer.text[:300]
    return client


def spelled(value: str) -> str:
    """Another spelling of a Singapore number: national, spaced."""
    national = value.removeprefix("+65")
    return f"{national[:4]} {national[4:]}"


def timed(client: httpx.Client, paths: list[str]) -> list[float]:
    """Milliseconds of each GET, after one warm-up request."""
    client.get(paths[0])
    times = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return times


def p95(times: list[float]) -> float:
    """The 95th percentile."""
    return statistics.quantiles(times, n=20)[-1]


def main() -> None:
    """Load, serve, time the four pages and the baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100, help="per page")
    parser.add_argument("--database", help="keep (and reuse) the SQLite database here")
    arguments = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory(prefix="scamshare-console-bench-") as directory:
        path = Path(arguments.database or Path(directory) / "bench.db").resolve()
        url = f"sqlite:///{path}"
        sample = load(url, arguments.rows)
        app, server = serve(url, directory)
        base = f"http://127.0.0.1:{server.server_port}"
        client = signed_in(base)
        rng = random.Random(5)
        n = arguments.requests
        picks = [rng.choice(sample) for _ in range(n)]
        runs = {
            "baseline (GET /healthz)": ["/healthz"] * n,
            "dashboard": ["/console/"] * n,
            "search by value": [f"/console/indicators?q={spelled(v)}" for _, v in picks],
            "indicator page": [f"/console/indicators/{i}" for i, _ in picks],
            "review queue": ["/console/review"] * n,
        }
        figures = {name: timed(client, paths) for name, paths in runs.items()}
        # The same dashboard with its one kept figure (console/figures.py) counted every time.
        app.config["CONSOLE_COUNTS_SECONDS"] = 0
        fresh = timed(client, ["/console/"] * n)
        client.close()
        server.shutdown()
        app.extensions["scamshare.engine"].dispose()
    base_median = statistics.median(figures.pop("baseline (GET /healthz)"))
    print(f"{arguments.rows:,} indicators, SQLite, {n} requests per page, one client")
    print(f"baseline GET /healthz: median {base_median:.1f} ms")
    worst = 0.0
    for name, times in figures.items():
        median, high = statistics.median(times), p95(times)
        worst = max(worst, high)
        print(
            f"{name:16s} median {median:7.1f} ms  p95 {high:7.1f} ms  "
            f"(median {median / base_median:.0f}x the baseline)"
        )
    print(
        f"dashboard, listings per kind counted on every load (SCAMSHARE_CONSOLE_COUNTS_SECONDS=0): "
        f"median {statistics.median(fresh):.1f} ms  p95 {p95(fresh):.1f} ms"
    )
    print(f"p95_ms: {worst:.1f}")


if __name__ == "__main__":
    main()
