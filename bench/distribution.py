"""Benchmark operator distribution: blocklist downloads, deltas and lookups on 1,000,000 indicators.

One script (about 600 lines) because each engine's run loads, serves and measures the same
way, and the baselines it compares with (the database's own dump, bare Flask) sit beside it.

    python bench/distribution.py [--rows 1000000] [--seconds 10] [--only sqlite|postgresql]

On SQLite, and on PostgreSQL too when SCAMSHARE_BENCH_POSTGRES_URL names a server database it may
create databases from (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test). Generation time
is excluded. Measures, per engine:

- a full CSV download through the HTTP server (gunicorn, one worker) against the database's own
  dump of the same rows in the same run (`sqlite3 -csv`, `psql` `COPY ... TO STDOUT`): the ratio;
- the serving process's peak memory (VmHWM) after a 100,000-row and a 1,000,000-row download;
- lookups per second and p50/p99 latency with 2 gunicorn workers, against a bare Flask JSON
  endpoint served the same way, the two alternating, the best of two runs each: the ratio;
- the time to serve a delta of 10,000 changes after a cursor.

Needs gunicorn (`pip install -e '.[bench]'`), curl, and the sqlite3 shell (`apt-get install -y
sqlite3`) or psql. The last line printed is `ratio: X`, the worst download ratio.

One script on purpose (about 600 lines): generator, servers, clients and checks of one run
read top to bottom, and anyone can run it without the rest of bench/.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import quote

from flask import Flask, jsonify, request
from machine import children, describe  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
bare_app = Flask("bare")  # the yardstick for lookups: a Flask JSON endpoint and nothing else


@bare_app.get("/api/v1/lookup")
def bare_lookup():
    """Answer like a lookup without doing one."""
    return jsonify({"value": request.args.get("value", ""), "status": "unknown"})


# --- realistic data -----------------------------------------------------------------------------

# (calling code, leading digits, digits after them) of mobile numbers in each member state.
MOBILE_PLANS = {
    "SG": ("65", ["8", "9"], 7),
    "MY": ("60", ["11", "12", "13", "14", "16", "17", "18", "19"], 7),
    "TH": ("66", ["6", "8", "9"], 8),
    "PH": ("63", ["905", "917", "918", "920", "927", "947", "966", "995"], 7),
    "ID": ("62", ["811", "812", "813", "821", "822", "852", "857", "878"], 8),
    "VN": ("84", ["32", "33", "35", "70", "77", "86", "90", "96", "97", "98"], 7),
    "KH": ("855", ["12", "17", "77", "92", "96"], 6),
    "LA": ("856", ["2020", "2022", "2055", "2077"], 6),
    "MM": ("95", ["925", "926", "943", "976", "979"], 7),
    "BN": ("673", ["71", "72", "81", "87", "89"], 5),
    "TL": ("670", ["73", "74", "77", "78"], 6),
}
NODE_COUNTRY = "SG"  # the node the benchmark serves (its own origin in every line)
COUNTRY_WEIGHTS = {"SG": 30, "MY": 15, "TH": 12, "PH": 12, "ID": 12, "VN": 10}
WORDS = [
    "pay",
    "parcel",
    "post",
    "track",
    "secure",
    "verify",
    "account",
    "bank",
    "refund",
    "claim",
    "prize",
    "bonus",
    "gift",
    "loan",
    "fast",
    "easy",
    "invest",
    "crypto",
    "gold",
    "trade",
    "cash",
    "win",
    "lucky",
    "promo",
    "deliver",
    "customs",
    "tax",
    "fine",
    "update",
    "login",
]
TLDS = ["com", "net", "xyz", "top", "shop", "info", "online", "site", "vip", "asia", "co", "cc"]
SENDER_STEMS = ["PARCEL", "BANK", "POST", "DHL", "LAZ", "SHOP", "PAY", "GOV", "TAX", "PROMO"]
CATEGORIES = ["investment", "parcel_delivery", "bank_impersonation", "job", "loan", "phishing_link"]
RISKS = ["low", "medium", "high", "very_high"]
TTL = {"phone": 60, "url": 14, "sender_id": 90}
BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base36(number: int) -> str:
    """A number in base 36."""
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = BASE36[rest] + digits
        if not number:
            return digits


def phone(index: int, rng: random.Random) -> tuple[str, str]:
    """A unique, plausible mobile number of a member state, and its region."""
    others = [cc for cc in MOBILE_PLANS if cc not in COUNTRY_WEIGHTS]
    countries = list(COUNTRY_WEIGHTS) + others
    weights = list(COUNTRY_WEIGHTS.values()) + [2] * len(others)
    region = rng.choices(countries, weights)[0]
    code, leads, width = MOBILE_PLANS[region]
    lead = leads[index % len(leads)]
    # Multiplying by a number coprime to 10 spreads consecutive indexes over the whole range.
    subscriber = (index // len(leads) * 7919) % 10**width
    return f"+{code}{lead}{subscriber:0{width}d}", region


def url(index: int, rng: random.Random) -> str:
    """A unique, plausible scam link, in canonical form (without its scheme)."""
    host = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}{_base36(index).lower()}.{rng.choice(TLDS)}"
    return f"{host}/{rng.choice(WORDS)}/{_base36(rng.getrandbits(24)).lower()}"


def sender_id(index: int, rng: random.Random) -> str:
    """A unique alphanumeric sender ID (at most 11 characters)."""
    return (rng.choice(SENDER_STEMS)[:5] + _base36(index))[:11]


def indicator_rows(
    start: int, count: int, now: datetime, seen: set[str] | None = None, seed: int = 7
) -> list[dict]:
    """Listed indicators number start..start+count-1, with their sequence equal to the number.

    `seen` holds the numbers generated so far: small numbering plans (Brunei's seven digits)
    run out, and a number drawn twice becomes a URL instead.
    """
    from types import SimpleNamespace

    from scamshare.indicators import render, rules

    rng = random.Random(seed + start)
    seen = set() if seen is None else seen
    rows = []
    for number in range(start, start + count):
        draw = rng.random()
        facts: dict = {"listable": True}
        value, region = phone(number, rng)
        if draw < 0.7 and value not in seen:
            kind = "phone"
            seen.add(value)
            facts["region"] = region
        elif draw < 0.9:  # a URL, also in place of a number drawn twice
            kind, value = "url", url(number, rng)
        else:
            kind, value = "sender_id", sender_id(number, rng)
        first = now - timedelta(days=rng.uniform(1, 50), seconds=rng.randrange(86400))
        last = min(now, first + timedelta(days=rng.uniform(0, 10)))
        categories = rng.sample(CATEGORIES, rng.choice([1, 1, 2]))
        rows.append(
            {
                "kind": kind,
                "value": value,
                "status": "disputed" if rng.random() < 0.03 else "listed",
                "risk": rng.choices(RISKS, [5, 20, 60, 15])[0],
                "report_count": rng.randint(1, 9),
                "org_count": rng.randint(1, 4),
                "country_count": 1,
                "verified_count": 1,
                "spoofed_count": 0,
                "category_counts": {name: rng.randint(1, 5) for name in categories},
                "categories": ";".join(sorted(categories)),
                "channel_counts": {"sms": 1},
                "first_reported_at": first,
                "last_reported_at": last,
                "last_verified_at": last,
                "listed_at": last,
                "expires_at": last + timedelta(days=TTL[kind]),
                "sequence": number,
                "exported": True,  # every row is listed or disputed, so operators receive it
                "facts": facts,
                "created_at": first,
                "updated_at": last,
            }
        )
        row = rows[-1]  # the merged view and lines that lifecycle.stamp stores with a listing
        view = rules.merged_view(
            SimpleNamespace(**row, removal_reason=None, foreign=[]), NODE_COUNTRY, {}
        )
        row.update(render.stored(view))
    return rows


def generate(engine, start: int, count: int, seen: set[str]) -> None:
    """Insert indicators start..start+count-1 and move the node sequence to the last of them."""
    from sqlalchemy import insert, update

    from scamshare.models import Counter, Indicator

    now = datetime.now(UTC)
    chunk = 20_000
    for offset in range(0, count, chunk):
        rows = indicator_rows(start + offset, min(chunk, count - offset), now, seen)
        with engine.begin() as connection:
            connection.execute(insert(Indicator.__table__), rows)
    with engine.begin() as connection:
        connection.execute(
            update(Counter).where(Counter.name == "sequence").values(value=start + count - 1)
        )


# --- servers and clients ------------------------------------------------------------------------


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A gunicorn server in its own process group, stopped on exit."""

    def __init__(self, target: str, workers: int, environment: dict, chdir: Path):
        """Start gunicorn and wait until it answers."""
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "900",
            "--backlog",
            "2048",
            "--chdir",
            str(chdir),
            target,
        ]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **environment, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"gunicorn {target} did not start")
        time.sleep(1.5)  # let every worker boot, not only the first

    def workers(self) -> list[int]:
        """The worker processes' ids."""
        return children(self.process.pid)

    def peak_memory_mb(self) -> float:
        """The largest peak resident memory (VmHWM) among the workers, in MB."""
        peaks = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return max(peaks)

    def stop(self) -> None:
        """Stop gunicorn and its workers."""
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def timed_curl(url: str, headers: dict[str, str]) -> tuple[float, int, int]:
    """Download a URL with curl to nowhere; return seconds, bytes and HTTP status."""
    command = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    started = time.perf_counter()
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    elapsed = time.perf_counter() - started
    status, size = output.split()
    return elapsed, int(size), int(status)


def timed_dump(command: list[str]) -> float:
    """Run the database's own CSV dump to nowhere; return seconds."""
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _client(port: int, paths: list[str], headers: dict, seconds: float, queue) -> None:
    """Send requests one after another until time is up; report latencies in seconds."""
    latencies = []
    errors = 0
    warmup_end = time.monotonic() + 1.0
    end = warmup_end + seconds
    index = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        path = paths[index % len(paths)]
        index += 1
        started = time.perf_counter()
        connection = HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except OSError:  # counted, so that one refused connection does not hang the run
            status = 0
        finally:
            connection.close()
        if now >= warmup_end:
            latencies.append(time.perf_counter() - started)
            errors += status != 200
    queue.put((latencies, errors))


def load(port: int, paths: list[str], headers: dict, seconds: float, clients: int) -> dict:
    """Drive a server with concurrent clients; return requests per second and latencies."""
    queue = multiprocessing.Queue()
    processes = []
    for number in range(clients):
        mine = paths[number::clients]
        process = multiprocessing.Process(
            target=_client, args=(port, mine, headers, seconds, queue)
        )
        process.start()
        processes.append(process)
    latencies, errors = [], 0
    for _ in processes:
        found, failed = queue.get()
        latencies.extend(found)
        errors += failed
    for process in processes:
        process.join()
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "errors": errors,
    }


# --- one engine ---------------------------------------------------------------------------------

LOOKUP_ROUNDS = 2  # alternating lookup runs per side, the best of each counted
SELECT = (
    "SELECT kind, value, status, risk, category_counts, first_reported_at, last_reported_at, "
    "expires_at FROM indicators WHERE status IN ('listed', 'disputed')"
)


def issue_key(engine_url: str) -> str:
    """Create an operator organisation with a key; return the key."""
    from scamshare.app import create_app
    from scamshare.db import transaction
    from scamshare.services import audit
    from scamshare.services import organisations as orgs

    app = create_app({"DATABASE_URL": engine_url, "COUNTRY": "SG", "LOG_REQUESTS": False})
    with transaction(app) as session:
        org = orgs.create_organisation(
            session, audit.NODE, name="Bench operator", role="operator", country="SG"
        )
        key = orgs.create_key(session, audit.NODE, org).key
    app.extensions["scamshare.engine"].dispose()
    return key


def lookup_values(rows: int, count: int = 60_000) -> list[str]:
    """Half listed numbers, half numbers the node never saw; all valid, so every answer is 200.

    About 80,000 distinct values, more than a run asks for: no value is asked twice, as a call
    firewall asks about one caller after another, so no cache of the server's is flattered.
    """
    from scamshare.normalise import NormalisationError, normalise

    now = datetime.now(UTC)
    known = [r["value"] for r in indicator_rows(1, count, now) if r["kind"] == "phone"]
    unknown = [r["value"] for r in indicator_rows(rows + 1, count, now) if r["kind"] == "phone"]
    values = []
    for value in (v for pair in zip(known, unknown, strict=False) for v in pair):
        try:
            normalise("phone", value, "SG")
        except NormalisationError:
            continue
        values.append(value)
    return values


def run_engine(name: str, url: str, dump: list[str], rows: int, small: int, seconds: float):
    """Run every measure on one database; return the figures."""
    from scamshare import migrations
    from scamshare.db import make_engine

    engine = make_engine(url)
    migrations.upgrade(engine)
    key = issue_key(url)
    headers = {"Authorization": f"Bearer {key}"}
    environment = {
        "SCAMSHARE_DATABASE_URL": url,
        "SCAMSHARE_COUNTRY": "SG",
        "SCAMSHARE_LOG_REQUESTS": "false",
        "SCAMSHARE_DATA_DIR": tempfile.mkdtemp(prefix="scamshare-bench-"),
    }
    figures: dict = {"engine": name, "rows": rows}
    started = time.perf_counter()
    seen: set[str] = set()
    generate(engine, 1, small, seen)
    print(f"[{name}] generated {small:,} indicators in {time.perf_counter() - started:.0f} s")

    server = Server("wsgi:app", 1, environment, ROOT)
    try:
        blocklist = f"http://127.0.0.1:{server.port}/api/v1/blocklist?format=csv"
        small_time, _, status = timed_curl(blocklist, headers)
        assert status == 200, status
        figures["small_download_s"] = small_time
        figures["peak_mb_small"] = server.peak_memory_mb()
        started = time.perf_counter()
        generate(engine, small + 1, rows - small, seen)
        print(f"[{name}] generated {rows - small:,} more in {time.perf_counter() - started:.0f} s")
        if engine.dialect.name == "sqlite":
            with engine.begin() as connection:  # what a node's periodic ANALYZE would have done
                connection.exec_driver_sql("ANALYZE")
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE indicators")
        http_times, dump_times = [], []
        for _ in range(2):  # alternate, so that neither side alone enjoys a warm cache
            dump_times.append(timed_dump(dump))
            elapsed, size, status = timed_curl(blocklist, headers)
            assert status == 200, status
            http_times.append(elapsed)
        figures["download_bytes"] = size
        figures["download_s"] = min(http_times)
        figures["dump_s"] = min(dump_times)
        figures["download_ratio"] = figures["download_s"] / figures["dump_s"]
        figures["peak_mb_full"] = server.peak_memory_mb()
        figures["peak_growth_mb"] = figures["peak_mb_full"] - figures["peak_mb_small"]
        since = rows - 10_000
        delta_times = []
        for _ in range(3):
            elapsed, size, status = timed_curl(f"{blocklist}&since={since}", headers)
            assert status == 200, status
            delta_times.append(elapsed)
        figures["delta_10k_s"] = min(delta_times)
        figures["delta_10k_bytes"] = size
    finally:
        server.stop()

    values = lookup_values(rows)
    paths = [f"/api/v1/lookup?value={quote(value)}" for value in values]
    clients = 4
    bare = Server("distribution:bare_app", 2, environment, ROOT / "bench")
    try:
        node = Server("wsgi:app", 2, environment, ROOT)
        try:
            # Alternate, and keep each side's best round: on a shared machine another job's
            # burst during one run would otherwise decide the ratio.
            runs: dict[str, list[dict]] = {"bare": [], "lookup": []}
            for _ in range(LOOKUP_ROUNDS):
                runs["bare"].append(load(bare.port, paths, {}, seconds, clients))
                runs["lookup"].append(load(node.port, paths, headers, seconds, clients))
        finally:
            node.stop()
    finally:
        bare.stop()
    for side, found in runs.items():
        figures[side] = max(found, key=lambda run: run["rps"])
    figures["lookup_ratio"] = figures["lookup"]["rps"] / figures["bare"]["rps"]
    engine.dispose()
    return figures


def report(figures: dict) -> None:
    """Print one engine's figures."""
    name = figures["engine"]
    print(
        f"[{name}] full CSV download of {figures['rows']:,} rows "
        f"({figures['download_bytes'] / 1e6:.0f} MB): {figures['download_s']:.2f} s through HTTP "
        f"vs {figures['dump_s']:.2f} s database dump: ratio {figures['download_ratio']:.2f} "
        f"(target <= 2.0)"
    )
    print(
        f"[{name}] serving process peak memory: {figures['peak_mb_small']:.0f} MB after "
        f"{figures['rows'] // 10:,} rows, {figures['peak_mb_full']:.0f} MB after "
        f"{figures['rows']:,}: +{figures['peak_growth_mb']:.1f} MB (target < 50)"
    )
    lookup, bare = figures["lookup"], figures["bare"]
    print(
        f"[{name}] lookups: {lookup['rps']:.0f}/s p50 {lookup['p50_ms']:.1f} ms p99 "
        f"{lookup['p99_ms']:.1f} ms ({lookup['errors']} errors); bare Flask: {bare['rps']:.0f}/s "
        f"p50 {bare['p50_ms']:.1f} ms p99 {bare['p99_ms']:.1f} ms: ratio "
        f"{figures['lookup_ratio']:.2f} (target >= 0.6)"
    )
    print(
        f"[{name}] delta of 10,000 changes: {figures['delta_10k_s'] * 1000:.0f} ms (target < 500)"
    )


def main() -> None:
    """Run the benchmark on SQLite, then PostgreSQL when configured."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per lookup run")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--only", choices=("sqlite", "postgresql"), help="measure one engine, not every one set"
    )
    arguments = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    missing = [tool for tool in ("curl", "sqlite3") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (apt-get install -y {' '.join(missing)})")
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        raise SystemExit("gunicorn is missing: pip install -e '.[bench]'") from None
    print(f"machine: {describe()}")
    rows, small = arguments.rows, arguments.rows // 10
    results = []
    if arguments.only != "postgresql":
        with tempfile.TemporaryDirectory(prefix="scamshare-bench-") as directory:
            path = Path(directory) / "bench.db"
            results.append(
                run_engine(
                    "sqlite",
                    f"sqlite:///{path}",
                    ["sqlite3", "-csv", str(path), SELECT],
                    rows,
                    small,
                    arguments.seconds,
                )
            )
            report(results[-1])
    postgres = os.environ.get("SCAMSHARE_BENCH_POSTGRES_URL")
    if postgres and arguments.only != "sqlite":
        results.append(run_postgres(postgres, rows, small, arguments.seconds))
        report(results[-1])
    elif arguments.only != "sqlite":
        print("PostgreSQL: skipped (set SCAMSHARE_BENCH_POSTGRES_URL to run it)")
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2, default=str))
    print(f"ratio: {max(figures['download_ratio'] for figures in results):.2f}")


def run_postgres(admin_url: str, rows: int, small: int, seconds: float) -> dict:
    """Run the measures on a fresh PostgreSQL database, dropped afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    if shutil.which("psql") is None:
        raise SystemExit("missing: psql (apt-get install -y postgresql-client)")
    name = f"scamshare_bench_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = ["psql", "-X", "-q", libpq, "-c", f"COPY ({SELECT}) TO STDOUT WITH CSV"]
    try:
        return run_engine(
            "postgresql", url.render_as_string(hide_password=False), dump, rows, small, seconds
        )
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
