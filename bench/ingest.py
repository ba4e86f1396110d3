"""Benchmark report ingestion through the HTTP API against bare phone-number normalisation.

Run from the repository root:

    python bench/ingest.py [--reports 100000] [--batch 5000] [--clients 2] [--workers 2]

It generates phone reports deterministically from the seed: realistic numbers of all eleven ASEAN
regions (mobile mostly, fixed line and VoIP too) written as people write them (E.164, national,
international, or after the international dialling prefix of the report's region), with 20% of
the reports repeating an earlier number, often in another spelling. It starts a real node on a
fresh database (`scamshare serve`, which creates it and prints the sample keys, then gunicorn
with `--workers` processes as in production; `--workers 0` keeps the waitress process), sends the
reports as JSON batches through POST /api/v1/reports from three organisations in turn and from
`--clients` connections at once, checks that every report was accepted and that each number
became exactly one indicator, and prints reports per second.

On the same inputs, in the same run, it times bare libphonenumber (parse + is_valid_number +
format_number E.164) before and after each engine's run and prints the ratio of ingestion
throughput to the faster of the two, and where the CPU went: per report, in units of one bare
normalisation, the node's processes, the database server's (when it runs on this machine) and
the load generator's (this process), with the bound that puts on the ratio.

SQLite always runs; with SCAMSHARE_BENCH_POSTGRES_URL set (e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test) the PostgreSQL run goes first, on a
database of its own that it creates and drops. The last line is `ratio: X` for SQLite (targets:
at least 0.6 on SQLite, 0.5 on PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import phonenumbers
from machine import CpuUse, describe, parent_of  # bench/ is on sys.path when a script runs
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from scamshare.models import Indicator, Report

ROOT = Path(__file__).resolve().parent.parent

ASEAN = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN")
# A dialling prefix each calling region really uses to reach another country.
DIALLING_PREFIX = {
    "BN": "00", "KH": "001", "ID": "008", "LA": "00", "MY": "00", "MM": "00", "PH": "00",
    "SG": "001", "TH": "001", "TL": "00", "VN": "00",
}  # fmt: skip
# Scam calls and SMS come mostly from mobile numbers; fixed lines and VoIP now and then.
NUMBER_TYPES = (
    (phonenumbers.PhoneNumberType.MOBILE, 8),
    (phonenumbers.PhoneNumberType.FIXED_LINE, 2),
    (phonenumbers.PhoneNumberType.VOIP, 1),
)
CATEGORIES = ("investment", "parcel_delivery", "bank_impersonation", "job", "loan", "romance")
CHANNELS = ("voice", "sms", "ott_message")
REPEAT_SHARE = 0.2
SUBMITTERS = ("operator", "regulator", "law_enforcement")


def templates() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    """Example numbers of every region and scam-relevant type, weighted by how often they occur."""
    found = []
    for region in ASEAN:
        for number_type, weight in NUMBER_TYPES:
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                found.extend([(region, example)] * weight)
    return found


def spell(number: phonenumbers.PhoneNumber, region: str, generator: random.Random) -> str:
    """Write a number the way a person or a system might: E.164, national or international."""
    style = generator.randrange(5)
    if style == 0:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if style in (1, 2):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if style == 3:
        return international
    return f"{DIALLING_PREFIX[region]} {international[1:]}"


def generate(count: int, seed: int) -> tuple[list[dict], int]:
    """Return `count` phone reports and how many distinct numbers they hold."""
    generator = random.Random(seed)
    examples = templates()
    distinct: list[tuple[str, phonenumbers.PhoneNumber]] = []
    seen: set[str] = set()
    unique_target = count - int(count * REPEAT_SHARE)
    while len(distinct) < unique_target:
        region, example = generator.choice(examples)
        national = str(example.national_number)
        varied = national[:-5] + f"{generator.randrange(100_000):05d}"
        number = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=int(varied)
        )
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 in seen or not phonenumbers.is_valid_number(number):
            continue
        seen.add(e164)
        distinct.append((region, number))
    picks = list(distinct) + [generator.choice(distinct) for _ in range(count - unique_target)]
    generator.shuffle(picks)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    reports = []
    for region, number in picks:
        reports.append(
            {
                "kind": "phone",
                "value": spell(number, region, generator),
                "region": region,
                "category": generator.choice(CATEGORIES),
                "channel": generator.choice(CHANNELS),
                "observed_at": (base - timedelta(minutes=generator.randrange(12_000))).isoformat(),
                "evidence_ref": f"case-{generator.randrange(10**8):08d}",
            }
        )
    return reports, len(distinct)


def bare_rate(reports: list[dict], rounds: int = 3) -> float:
    """Bare libphonenumber parse + is_valid_number + format E.164 over the inputs; best rate."""
    inputs = [(report["value"], report["region"]) for report in reports]
    parse = phonenumbers.parse
    is_valid_number = phonenumbers.is_valid_number
    format_number = phonenumbers.format_number
    e164 = phonenumbers.PhoneNumberFormat.E164
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for value, region in inputs:
            number = parse(value, region)
            if is_valid_number(number):
                format_number(number, e164)
        best = min(best, time.perf_counter() - started)
    return len(inputs) / best


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Node:
    """A ScamShare node on a fresh database, with the API keys it printed on first start.

    `scamshare serve` creates, migrates and seeds the database and prints the sample keys; with
    `workers` > 0 it is then replaced by gunicorn with that many worker processes on the same
    database, as a production node runs (the README's deployment section).
    """

    def __init__(self, data_dir: Path, database_url: str | None, workers: int):
        """Start the server and wait until it answers."""
        self.env = {
            **os.environ,
            "SCAMSHARE_DATA_DIR": str(data_dir),
            "SCAMSHARE_COUNTRY": "SG",
            "SCAMSHARE_LOG_REQUESTS": "false",
        }
        self.env.pop("SCAMSHARE_DATABASE_URL", None)
        if database_url:
            self.env["SCAMSHARE_DATABASE_URL"] = database_url
        self._start([sys.executable, "-m", "scamshare", "serve", "--port", "{port}"], True)
        if workers > 0:
            self.stop()
            command = [sys.executable, "-m", "gunicorn", "--workers", str(workers)]
            command += ["--bind", "127.0.0.1:{port}", "--timeout", "600", "wsgi:app"]
            self._start(command, False)

    def _start(self, command: list[str], read_keys: bool) -> None:
        """Start one server process on a free port and wait until it is ready."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [part.format(port=self.port) for part in command],
            env=self.env,
            stdout=subprocess.PIPE if read_keys else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        if read_keys:
            lines: list[str] = []
            while not any("API docs" in line for line in lines):
                line = self.process.stdout.readline()
                if not line:
                    raise RuntimeError(f"scamshare serve exited early: {''.join(lines)}")
                lines.append(line)
            self.keys = dict(re.findall(r"^\s+(\w+)\s+.*?(ss\.\S+)$", "".join(lines), re.M))
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the node did not become ready")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def ingest(node: Node, bodies: list[bytes], clients: int) -> float:
    """Send every batch (from `clients` connections at once); return the wall time taken."""
    headers = [
        {"Authorization": f"Bearer {node.keys[role]}", "Content-Type": "application/json"}
        for role in SUBMITTERS
    ]

    def send(numbered: tuple[int, bytes]) -> int:
        """POST one batch and return how many reports were accepted."""
        position, body = numbered
        with httpx.Client(base_url=node.base, timeout=600) as client:
            response = client.post(
                "/api/v1/reports", content=body, headers=headers[position % len(headers)]
            )
        if response.status_code != 200:
            raise RuntimeError(f"batch {position}: {response.status_code} {response.text[:500]}")
        return response.json()["accepted"]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        accepted = sum(pool.map(send, enumerate(bodies)))
    elapsed = time.perf_counter() - started
    expected = sum(len(json.loads(body)["reports"]) for body in bodies)
    if accepted != expected:
        raise RuntimeError(f"{accepted} of {expected} reports accepted")
    return elapsed


def check(database_url: str, reports: int, distinct: int) -> None:
    """Check the database holds every report and one indicator per distinct number."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(Report))
        indicators = connection.scalar(select(func.count()).select_from(Indicator))
    engine.dispose()
    if (stored, indicators) != (reports, distinct):
        raise RuntimeError(
            f"expected {reports} reports and {distinct} indicators, found {stored} and {indicators}"
        )


def postgres_server(database_url: str | None) -> int | None:
    """The PostgreSQL server's main process id if it runs on this machine, else None."""
    if database_url is None:
        return None
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or url.host not in (None, "localhost", "127.0.0.1"):
        return None
    engine = create_engine(database_url)
    with engine.connect() as connection:
        backend = connection.scalar(text("SELECT pg_backend_pid()"))
    engine.dispose()
    try:
        if not Path(f"/proc/{backend}/comm").read_text().startswith("postgres"):
            return None
    except OSError:
        return None
    return parent_of(backend)


def run(
    engine_name: str,
    database_url: str | None,
    bodies: list[bytes],
    clients: int,
    workers: int,
    distinct: int,
) -> tuple[float, CpuUse]:
    """Ingest on one engine in a fresh node; return the elapsed time and the CPU it took."""
    with tempfile.TemporaryDirectory(prefix=f"scamshare-bench-{engine_name}-") as data_dir:
        node = Node(Path(data_dir), database_url, workers)
        trees = {"node": node.process.pid, "database server": postgres_server(database_url)}
        try:
            with CpuUse(trees, own="load generator") as cpu:
                elapsed = ingest(node, bodies, clients)
        finally:
            node.stop()
        reports = sum(len(json.loads(body)["reports"]) for body in bodies)
        check(database_url or f"sqlite:///{Path(data_dir) / 'scamshare.db'}", reports, distinct)
    return elapsed, cpu


def cpu_line(engine_name: str, cpu: CpuUse, reports: int, bare: float) -> str:
    """Where the CPU went, per report in units of one bare normalisation, and what that bounds.

    The ratio is at most the cores over the units of CPU a report takes in all: with every core
    busy, that many units per report is what the cores give.
    """
    spent = {name: sec * bare / reports for name, sec in cpu.seconds.items() if sec is not None}
    parts = ", ".join(f"{name} {units:.2f}" for name, units in spent.items())
    line = f"{engine_name}: CPU per report in units of one bare normalisation: {parts}"
    cores = os.cpu_count() or 1
    if cpu.busy is not None:
        line += f"; {cores} cores {cpu.busy:.0%} busy"
    return line + f"; so a ratio of at most {cores / sum(spent.values()):.2f} with every core busy"


def batch_bodies(reports: list[dict], batch: int) -> list[bytes]:
    """The reports as the JSON bodies of POST /api/v1/reports, `batch` reports each."""
    return [
        json.dumps({"reports": reports[start : start + batch]}).encode()
        for start in range(0, len(reports), batch)
    ]


def engines() -> list[tuple[str, str | None]]:
    """The engines to measure with their admin URL: PostgreSQL first if
    SCAMSHARE_BENCH_POSTGRES_URL is set, then SQLite (no URL: a file of the run's own)."""
    found: list[tuple[str, str | None]] = []
    postgres_admin = os.environ.get("SCAMSHARE_BENCH_POSTGRES_URL")
    if postgres_admin:
        found.append(("postgresql", postgres_admin))
    found.append(("sqlite", None))
    return found


def postgres_database(admin_url: str, name: str, create: bool) -> str:
    """Create (or drop) a database of the benchmark's own; return its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    """Generate the reports, ingest them on each engine, and print the rates and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=2, help="concurrent HTTP connections")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="gunicorn worker processes (0: the embedded single-process `scamshare serve`)",
    )
    parser.add_argument("--seed", type=int, default=20260123)
    arguments = parser.parse_args()

    reports, distinct = generate(arguments.reports, arguments.seed)
    bodies = batch_bodies(reports, arguments.batch)
    print(f"machine: {describe()}, phonenumbers {phonenumbers.__version__}")
    print(
        f"reports: {len(reports)} phone reports of {distinct} numbers in {len(bodies)} batches "
        f"of {arguments.batch}, {arguments.clients} client(s), "
        f"{arguments.workers or 'no'} gunicorn worker(s), seed {arguments.seed}"
    )
    bare = bare_rate(reports)
    print(f"bare parse+is_valid_number+format_number: {bare:,.0f} numbers/s")

    for engine_name, admin_url in engines():
        database_url = None
        name = f"scamshare_bench_{os.getpid()}"
        if admin_url:
            database_url = postgres_database(admin_url, name, create=True)
        try:
            elapsed, cpu = run(
                engine_name, database_url, bodies, arguments.clients, arguments.workers, distinct
            )
        finally:
            if admin_url:
                postgres_database(admin_url, name, create=False)
        rate = len(reports) / elapsed
        print(f"{engine_name}: {len(reports)} reports in {elapsed:.1f} s: {rate:,.0f} reports/s")
        # Timed again after the run: on a shared machine a neighbour's burst slows one of the
        # two measures, and the faster one is the truer (and the stricter) yardstick.
        after = bare_rate(reports)
        print(f"bare normalisation after the {engine_name} run: {after:,.0f} numbers/s")
        yardstick = max(bare, after)
        print(cpu_line(engine_name, cpu, len(reports), yardstick))
        print(f"{engine_name} ratio to bare normalisation: {rate / yardstick:.3f}")
        bare = after
    print(f"ratio: {rate / yardstick:.3f}")


if __name__ == "__main__":
    main()
