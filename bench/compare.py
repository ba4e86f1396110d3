"""Compare this tree with the previous main: ingest, downloads, lookups and federation, alternating.

Run from the repository root:

    python bench/compare.py [--base REF] [--rounds 3] [--reports 20000] [--rows 50000]
                            [--lookups 3000] [--indicators 5000]
                            [--only ingest,download,lookup,federation]

`--base REF` names the previous main, the tree to compare against: `origin/main` when that ref
exists, else `main` (on main itself, name the commit before the change, e.g. `--base HEAD~3`).
The script checks REF out into a temporary git worktree (removed at the end, also on Ctrl-C)
and measures it and this working tree with the same interpreter and the same installed
dependencies, each tree first on PYTHONPATH and the server's working directory (it prints the
files each tree imports to prove it). It reaches the nodes only through what outlives a rewrite
of their insides: the `scamshare` command (serve, node init, peers add, sync), gunicorn's
`wsgi:app`, the HTTP API, and the request log a node writes to stderr.

Each benchmark runs `--rounds` times per tree on a fresh database, the trees alternating (old
then new, then new then old, ...) on the same seeded inputs:

- ingest: `--reports` phone reports of all eleven ASEAN regions (bench/ingest.py's generator),
  POST /api/v1/reports in batches of 5,000 from two clients; reports per second;
- download: `--rows` numbers listed by verified regulator reports (the load's rate is a figure
  too), then the full CSV and JSON blocklists and, after `--changes` more listings, the CSV
  delta since the full list's cursor; the best of a few downloads each, in seconds;
- lookup (same nodes): `--lookups` sequential GET lookups from one client, half of listed
  numbers and half of unknown ones (p50 latency; lookups per second, the median of the rates
  of blocks of 100), and POST lookups of 1,000 values (the best time);
- federation: two nodes per tree, each with its `node init` key, registered with each other by
  `peers add`; node B gets `--indicators` listed numbers through reports, then `scamshare sync`
  on B pushes them to A: contributions applied per second on A (from A's request log) and the
  sync's wall time.

Ratios are new/old of each figure, the median over the rounds of each round's ratio. For rates
(reports/s, lookups/s, contributions/s) higher is better and a ratio of at least 0.90 passes;
for times (downloads, latency, sync) lower is better and a ratio of at most 1.10 passes. SQLite
always runs; with SCAMSHARE_BENCH_POSTGRES_URL set, PostgreSQL runs first, on databases the
script creates and drops. The last line is `worst: ...`, the figure nearest its bound; the
exit status is 1 when any figure misses its bound.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar
from urllib.parse import quote

import ingest  # bench/ is on sys.path when a script runs
import phonenumbers
from machine import describe

ROOT = Path(__file__).resolve().parent.parent
BATCH = 5000
CLIENTS = 2
WORKERS = 2
LOOKUP_BATCH = 1000
BENCHMARKS = ("ingest", "download", "lookup", "federation")
T = TypeVar("T")


@dataclass(frozen=True)
class Figure:
    """One measured quantity: its name, unit, and whether a higher value is the better one."""

    name: str
    unit: str
    higher_is_better: bool

    @property
    def bound(self) -> float:
        """The ratio new/old this figure must reach (rates) or stay under (times)."""
        return 0.9 if self.higher_is_better else 1.1

    def passes(self, ratio: float) -> bool:
        """Whether a ratio new/old is within the bound."""
        return ratio >= self.bound if self.higher_is_better else ratio <= self.bound

    def margin(self, ratio: float) -> float:
        """How far a ratio is inside its bound (below 1: outside); the worst is the smallest."""
        return ratio / self.bound if self.higher_is_better else self.bound / ratio


INGEST = Figure("ingest", "reports/s", True)
LOAD = Figure("load listed", "reports/s", True)
FULL_CSV = Figure("full csv", "s", False)
FULL_JSON = Figure("full json", "s", False)
DELTA = Figure("delta csv", "s", False)
LOOKUP_P50 = Figure("lookup p50", "ms", False)
LOOKUP_RATE = Figure("lookups", "lookups/s", True)
LOOKUP_POST = Figure("batch lookup", "s", False)
APPLIED = Figure("federation applied on A", "contributions/s", True)
SYNC = Figure("federation sync", "s", False)


@dataclass
class Inputs:
    """The seeded inputs every run of either tree gets."""

    ingest_bodies: list[bytes]
    listed_bodies: list[bytes]
    change_bodies: list[bytes]
    federation_bodies: list[bytes]
    listed: int
    lookups: list[str]
    batch_lookup: list[str]
    changes: int
    indicators: int

    @classmethod
    def build(cls, arguments: argparse.Namespace) -> Inputs:
        """Generate the reports and the values to look up."""
        ingest_reports, _ = ingest.generate(arguments.reports, arguments.seed)
        rows, changes, half = arguments.rows, arguments.changes, arguments.lookups // 2
        unknown_count = half + LOOKUP_BATCH // 2
        wanted = max(rows, arguments.indicators) + changes + unknown_count
        pool = distinct(wanted, arguments.seed + 1)
        reports = [report for report, _ in pool]
        listed = [e164 for _, e164 in pool[:rows]]
        # Numbers never reported: after the listings and the delta's.
        unknown = [e164 for _, e164 in pool[rows + changes :]]
        return cls(
            ingest_bodies=ingest.batch_bodies(ingest_reports, BATCH),
            listed_bodies=ingest.batch_bodies(reports[:rows], BATCH),
            change_bodies=ingest.batch_bodies(reports[rows : rows + changes], BATCH),
            federation_bodies=ingest.batch_bodies(reports[: arguments.indicators], BATCH),
            listed=rows,
            lookups=interleave(listed[:half], unknown[:half]),
            batch_lookup=interleave(listed[-LOOKUP_BATCH // 2 :], unknown[half:unknown_count]),
            changes=changes,
            indicators=arguments.indicators,
        )


def interleave(listed: list[str], unknown: list[str]) -> list[str]:
    """Listed and unknown values in turn, starting with a listed one."""
    return [value for pair in zip(listed, unknown, strict=True) for value in pair]


def distinct(count: int, seed: int) -> list[tuple[dict, str]]:
    """`count` verified phone reports of as many different numbers, each with its E.164 form."""
    reports, numbers = ingest.generate(count * 5 // 4 + 100, seed)
    seen: set[str] = set()
    unique = []
    for report in reports:
        parsed = phonenumbers.parse(report["value"], report["region"])
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if e164 not in seen:
            seen.add(e164)
            unique.append(({**report, "verified": True}, e164))
    if len(unique) < count:
        raise RuntimeError(f"only {len(unique)} of {numbers} numbers are distinct")
    return unique[:count]


class Node:
    """One node of one tree on a fresh database, reached only through its command and HTTP.

    `scamshare serve` creates the database and prints the sample keys on first start; it is then
    stopped, so that commands can set the node up, and `start` serves it with gunicorn.
    """

    def __init__(self, tree: Path, data_dir: Path, database_url: str | None, **config: str):
        """Create the node's database and read the keys `serve` prints."""
        self.tree, self.data_dir = tree, data_dir
        data_dir.mkdir(parents=True)
        self.env = tree_env(tree)
        self.env.update({"SCAMSHARE_DATA_DIR": str(data_dir), "SCAMSHARE_LOG_REQUESTS": "false"})
        self.env.update({f"SCAMSHARE_{key.upper()}": value for key, value in config.items()})
        self.env.pop("SCAMSHARE_DATABASE_URL", None)
        if database_url:
            self.env["SCAMSHARE_DATABASE_URL"] = database_url
        self.port = ingest.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        serve = self._popen(["-m", "scamshare", "serve", "--port", str(self.port)], True)
        lines: list[str] = []
        while not any("API docs" in line for line in lines):
            line = serve.stdout.readline()
            if not line:
                raise RuntimeError(f"scamshare serve exited early: {''.join(lines)}")
            lines.append(line)
        self.process = serve
        self.stop()
        self.keys = dict(re.findall(r"^\s+(\w+)\s+.*?(ss\.\S+)$", "".join(lines), re.M))

    def _popen(self, arguments: list[str], read_stdout: bool) -> subprocess.Popen:
        """Run this interpreter in the tree with the node's environment."""
        log = (self.data_dir / "server.log").open("a")
        try:
            return subprocess.Popen(
                [sys.executable, *arguments],
                env=self.env,
                cwd=self.tree,
                stdout=subprocess.PIPE if read_stdout else subprocess.DEVNULL,
                stderr=log,
                text=True,
            )
        finally:
            log.close()

    def cli(self, *arguments: str) -> str:
        """Run one `scamshare` command against this node; return what it printed."""
        done = subprocess.run(
            [sys.executable, "-m", "scamshare", *arguments],
            env=self.env,
            cwd=self.tree,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scamshare {' '.join(arguments)}: {done.stdout}{done.stderr}")
        return done.stdout

    def start(self, log_requests: bool = False) -> None:
        """Serve the node with gunicorn's workers, as in production, and wait until it is ready."""
        self.env["SCAMSHARE_LOG_REQUESTS"] = str(log_requests).lower()
        command = ["-m", "gunicorn", "--workers", str(WORKERS), "--timeout", "600"]
        self.process = self._popen(
            [*command, "--bind", f"127.0.0.1:{self.port}", "wsgi:app"], False
        )
        deadline = time.monotonic() + 60
        while get(self.port, "/readyz", {})[1] != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.data_dir / "server.log").read_text()[-2000:]
                raise RuntimeError(f"the node did not become ready: {log}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server if it runs."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def seconds_in(self, path: str) -> float:
        """The time the node spent answering 200 to requests of one path, from its request log."""
        total = 0.0
        for line in (self.data_dir / "server.log").read_text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("path") == path and record.get("status") == 200:
                    total += record["duration_ms"] / 1000
        return total

    def as_regulator(self) -> SimpleNamespace:
        """The node as bench/ingest.py's sender sees it, every batch sent with the regulator key:
        verified reports are for regulators and law enforcement only."""
        return SimpleNamespace(
            base=self.base, keys=dict.fromkeys(ingest.SUBMITTERS, self.keys["regulator"])
        )


def tree_env(tree: Path) -> dict[str, str]:
    """The environment that makes this interpreter import scamshare and schemas from `tree`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    return env


def imported_files(tree: Path) -> list[str]:
    """The files the tree's processes import scamshare, schemas and wsgi from; checked."""
    probe = (
        "import importlib.util as u\n"
        "for name in ('scamshare', 'schemas', 'wsgi'): print(u.find_spec(name).origin)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=tree_env(tree), cwd=tree, capture_output=True, text=True
    )
    files = done.stdout.split()
    if done.returncode != 0 or not all(Path(name).is_relative_to(tree) for name in files):
        raise RuntimeError(f"{tree} does not import its own code: {done.stdout}{done.stderr}")
    return files


def get(port: int, path: str, headers: dict[str, str]) -> tuple[float, int, bytes, dict]:
    """GET a path; return the seconds to the body's last byte, the status, body and headers."""
    connection = HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    except OSError:
        return time.perf_counter() - started, 0, b"", {}
    finally:
        connection.close()
    return time.perf_counter() - started, response.status, body, dict(response.getheaders())


def post(port: int, path: str, headers: dict[str, str], body: bytes) -> tuple[float, bytes]:
    """POST a JSON body; return the seconds to the answer's last byte and the answer, checked."""
    connection = HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    try:
        connection.request("POST", path, body, {**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"POST {path}: {response.status} {answer[:300]!r}")
    return time.perf_counter() - started, answer


def download(node: Node, path: str) -> tuple[float, bytes, dict]:
    """Download a path with the operator key; return the time, the body and the headers."""
    seconds, status, body, headers = get(node.port, path, operator(node))
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    return seconds, body, headers


def check_rows(what: str, got: int, expected: int) -> None:
    """Fail loudly when a download does not hold the listings it should."""
    if got != expected:
        raise RuntimeError(f"{what}: {got} listings, expected {expected}")


def csv_rows(body: bytes) -> int:
    """Listings in a CSV download: its lines but the header."""
    return len(body.decode().splitlines()) - 1


class Run:
    """What one benchmark run gets: the tree, a scratch directory, the engine and the inputs."""

    counter = itertools.count(1)

    def __init__(self, tree: Path, work: Path, postgres_admin: str | None, inputs: Inputs):
        """Give the run a directory of its own."""
        self.tree, self.inputs, self.postgres_admin = tree, inputs, postgres_admin
        self.number = next(Run.counter)
        self.work = work / f"run-{self.number}"

    def node(self, stack: contextlib.ExitStack, name: str, **config: str) -> Node:
        """A node on a fresh database (SQLite file, or a PostgreSQL database dropped after)."""
        url = None
        if self.postgres_admin:
            database = f"scamshare_compare_{os.getpid()}_{self.number}_{name}"
            url = ingest.postgres_database(self.postgres_admin, database, create=True)
            stack.callback(ingest.postgres_database, self.postgres_admin, database, create=False)
        node = Node(self.tree, self.work / name, url, **config)
        stack.callback(node.stop)
        return node


Figures = dict[Figure, float]
Runner = Callable[[list[tuple[str, Run]], set[str]], dict[str, Figures]]


def one_after_another(measure: Callable[[Run], Figures]) -> Runner:
    """A stage that measures the trees one after the other, in the round's order."""

    def runner(runs: list[tuple[str, Run]], _only: set[str]) -> dict[str, Figures]:
        """Measure each tree in turn."""
        return {name: measure(run) for name, run in runs}

    return runner


def run_ingest(run: Run) -> Figures:
    """Ingest the reports from two clients in turn through the three submitting organisations."""
    with contextlib.ExitStack() as stack:
        node = run.node(stack, "node")
        node.start()
        seconds = ingest.ingest(node, run.inputs.ingest_bodies, CLIENTS)
    reports = sum(len(json.loads(body)["reports"]) for body in run.inputs.ingest_bodies)
    return {INGEST: reports / seconds}


def in_turn(
    nodes: dict[str, Node], times: int, measure: Callable[[str, Node, int], T]
) -> dict[str, list[T]]:
    """Measure every node `times` times, taking them in turn, the first one alternating, so that
    a change in the machine's load between measurements weighs on both trees alike."""
    taken: dict[str, list[T]] = {name: [] for name in nodes}
    for time_index in range(times):
        order = list(nodes.items())
        for name, node in order if time_index % 2 == 0 else reversed(order):
            taken[name].append(measure(name, node, time_index))
    return taken


def run_distribution(runs: list[tuple[str, Run]], only: set[str]) -> dict[str, Figures]:
    """List the rows on one node per tree, then time downloads and lookups on both in turn."""
    inputs = runs[0][1].inputs
    figures: dict[str, Figures] = {name: {} for name, _ in runs}
    with contextlib.ExitStack() as stack:
        nodes = {}
        for name, run in runs:
            nodes[name] = node = run.node(stack, "node")
            node.start()
            seconds = ingest.ingest(node.as_regulator(), inputs.listed_bodies, CLIENTS)
            figures[name][LOAD] = inputs.listed / seconds
        parts = [downloads] if "download" in only else []
        parts += [lookups] if "lookup" in only else []
        for part in parts:
            for name, measured in part(nodes, inputs).items():
                figures[name].update(measured)
    return figures


def operator(node: Node) -> dict[str, str]:
    """The headers of a request made with the node's operator key."""
    return {"Authorization": f"Bearer {node.keys['operator']}"}


def downloads(nodes: dict[str, Node], inputs: Inputs) -> dict[str, Figures]:
    """Time the full CSV and JSON lists, then a CSV delta after more listings; the best of each."""
    path = "/api/v1/blocklist?format="
    cursors: dict[str, str] = {}

    def full_csv(name: str, node: Node, _index: int) -> float:
        """One full CSV download, checked; it also gives the delta's cursor."""
        seconds, body, headers = download(node, path + "csv")
        check_rows("full csv", csv_rows(body), inputs.listed)
        cursors[name] = headers["X-ScamShare-Cursor"]
        return seconds

    def full_json(_name: str, node: Node, _index: int) -> float:
        """One full JSON download, checked."""
        seconds, body, _ = download(node, path + "json")
        check_rows("full json", len(json.loads(body)["items"]), inputs.listed)
        return seconds

    def delta(name: str, node: Node, _index: int) -> float:
        """One CSV delta since the full list's cursor, checked."""
        seconds, body, _ = download(node, f"{path}csv&since={cursors[name]}")
        check_rows("delta csv", csv_rows(body), inputs.changes)
        return seconds

    csv_times = in_turn(nodes, 4, full_csv)
    json_times = in_turn(nodes, 4, full_json)
    for node in nodes.values():
        ingest.ingest(node.as_regulator(), inputs.change_bodies, CLIENTS)
    delta_times = in_turn(nodes, 6, delta)
    return {
        name: {
            FULL_CSV: min(csv_times[name]),
            FULL_JSON: min(json_times[name]),
            DELTA: min(delta_times[name]),
        }
        for name in nodes
    }


def lookups(nodes: dict[str, Node], inputs: Inputs) -> dict[str, Figures]:
    """GET lookups of listed and unknown numbers one at a time, in blocks of 100 taken by the
    trees in turn, then POST lookups of 1,000 values (the best time)."""
    values = inputs.lookups
    for node in nodes.values():  # warm both workers up; not timed
        for value in values[:100]:
            get(node.port, f"/api/v1/lookup?value={quote(value)}", operator(node))

    def block(_name: str, node: Node, index: int) -> list[tuple[float, bytes]]:
        """Look one block of 100 values up, a request each."""
        answers = []
        for value in values[index * 100 : index * 100 + 100]:
            seconds, status, body, _ = get(
                node.port, f"/api/v1/lookup?value={quote(value)}", operator(node)
            )
            if status != 200:
                raise RuntimeError(f"lookup {value}: {status} {body[:300]!r}")
            answers.append((seconds, body))
        return answers

    blocks = in_turn(nodes, -(-len(values) // 100), block)
    batch = inputs.batch_lookup
    body = json.dumps({"values": [{"value": value} for value in batch]}).encode()

    def batch_lookup(_name: str, node: Node, _index: int) -> float:
        """One POST lookup of the batch, checked."""
        seconds, answer = post(node.port, "/api/v1/lookup", operator(node), body)
        listed = sum(item["status"] == "listed" for item in json.loads(answer)["items"])
        check_rows("batch lookup", listed, len(batch) // 2)
        return seconds

    batch_times = in_turn(nodes, 6, batch_lookup)
    figures = {}
    for name, taken in blocks.items():
        answers = list(itertools.chain.from_iterable(taken))
        statuses = [json.loads(answer)["status"] for _, answer in answers]
        if statuses != ["listed", "unknown"] * (len(values) // 2):
            raise RuntimeError(f"{statuses.count('listed')} of {len(values)} lookups: listed")
        latencies = [seconds for seconds, _ in answers]
        # A rate per block and their median: a neighbour's burst on a shared machine stalls
        # a few requests, which would move a plain mean more than any change of the code.
        rates = [len(part) / sum(seconds for seconds, _ in part) for part in taken]
        figures[name] = {
            LOOKUP_P50: statistics.median(latencies) * 1000,
            LOOKUP_RATE: statistics.median(rates),
            LOOKUP_POST: min(batch_times[name]),
        }
    return figures


def run_federation(run: Run) -> Figures:
    """Node B lists the numbers and pushes them to node A with `scamshare sync`."""
    inputs = run.inputs
    with contextlib.ExitStack() as stack:
        receiver = run.node(stack, "a", country="MY", node_id="bench-a")
        sender = run.node(stack, "b", country="SG", node_id="bench-b")
        sender.env["SCAMSHARE_FEDERATION_READ_TIMEOUT"] = "600"
        keys = [node.cli("node", "init").split()[-1] for node in (receiver, sender)]
        for node, peer, key in ((receiver, sender, keys[1]), (sender, receiver, keys[0])):
            node.cli(
                "peers", "add",
                "--node-id", peer.env["SCAMSHARE_NODE_ID"],
                "--country", peer.env["SCAMSHARE_COUNTRY"],
                "--url", peer.base,
                "--public-key", key,
            )  # fmt: skip
        receiver.start(log_requests=True)
        sender.start()
        ingest.ingest(sender.as_regulator(), inputs.federation_bodies, CLIENTS)
        sender.stop()  # the sync command reads the database; the server would only compete
        started = time.perf_counter()
        printed = sender.cli("sync")
        sync_seconds = time.perf_counter() - started
        applied = re.search(r"^bench-a: .*?applied (\d+)", printed, re.M)
        if applied is None or int(applied.group(1)) != inputs.indicators:
            raise RuntimeError(f"sync applied other than {inputs.indicators}: {printed}")
        receiving = receiver.seconds_in("/api/v1/federation/batches")
    return {APPLIED: inputs.indicators / receiving, SYNC: sync_seconds}


RUNNERS: dict[str, Runner] = {
    "ingest": one_after_another(run_ingest),
    "download": run_distribution,
    "federation": one_after_another(run_federation),
}


def stages(only: set[str]) -> list[str]:
    """The stages to run, in order: downloads and lookups share one stage and its node."""
    wanted = only | ({"download"} if "lookup" in only else set())
    return [stage for stage in ("ingest", "download", "federation") if stage in wanted]


def round_order(round_index: int) -> tuple[str, str]:
    """The trees in the order a round takes them: old then new, then new then old, and so on."""
    return ("old", "new") if round_index % 2 == 0 else ("new", "old")


def git(*arguments: str) -> str:
    """Run git in this repository; return its output."""
    done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(arguments)}: {done.stderr.strip()}")
    return done.stdout.strip()


def default_base() -> str:
    """`origin/main` when that ref exists, else `main`."""
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "origin/main"], cwd=ROOT, capture_output=True
    )
    return "origin/main" if found.returncode == 0 else "main"


@contextlib.contextmanager
def worktree(ref: str, work: Path) -> Iterator[Path]:
    """Check `ref` out into a detached worktree under `work`; remove it when done."""
    path = work / "base"
    git("worktree", "add", "--detach", "--quiet", str(path), ref)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT)


def describe_tree(tree: Path) -> str:
    """The tree's commit, with a mark when it has changes not committed."""
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], cwd=tree, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=tree, capture_output=True)
    return commit + (" (with changes not committed)" if dirty.stdout.strip() else "")


@dataclass
class Results:
    """Each figure's values per engine and tree, one per round, in round order."""

    values: dict[tuple[str, Figure], dict[str, list[float]]] = field(default_factory=dict)

    def add(self, engine: str, tree: str, figures: dict[Figure, float]) -> None:
        """Keep one run's figures."""
        for figure, value in figures.items():
            self.values.setdefault((engine, figure), {"old": [], "new": []})[tree].append(value)

    def ratio(self, key: tuple[str, Figure]) -> float:
        """The median over the rounds of each round's new/old."""
        per_tree = self.values[key]
        return statistics.median(
            new / old for new, old in zip(per_tree["new"], per_tree["old"], strict=True)
        )


def show(value: float, figure: Figure) -> str:
    """A figure's value with as many digits as it deserves."""
    if figure.unit == "s":
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def report(results: Results) -> bool:
    """Print the table, one line per figure, and the worst; return whether every figure passes."""
    print()
    print(f"{'engine':<11} {'figure':<24} {'unit':<16} {'old':>9} {'new':>9} {'new/old':>8}  good")
    worst: tuple[float, str] | None = None
    passed = True
    for (engine, figure), per_tree in results.values.items():
        ratio = results.ratio((engine, figure))
        sign = ">=" if figure.higher_is_better else "<="
        verdict = "ok" if figure.passes(ratio) else "SLOWER"
        passed = passed and figure.passes(ratio)
        old, new = statistics.median(per_tree["old"]), statistics.median(per_tree["new"])
        print(
            f"{engine:<11} {figure.name:<24} {figure.unit:<16} {show(old, figure):>9} "
            f"{show(new, figure):>9} {ratio:>8.3f}  {sign} {figure.bound:.2f} {verdict}"
        )
        line = f"{engine} {figure.name} {ratio:.3f} ({sign} {figure.bound:.2f}, {verdict})"
        if worst is None or figure.margin(ratio) < worst[0]:
            worst = (figure.margin(ratio), line)
    print()
    for (engine, figure), _ in results.values.items():
        direction = "rate, higher is better" if figure.higher_is_better else "time, lower is better"
        print(f"ratio {engine} {figure.name}: {results.ratio((engine, figure)):.3f} ({direction})")
    if worst is not None:
        print(f"worst: {worst[1]}")
    return passed


def arguments() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=None, help="the previous main (default: origin/main)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reports", type=int, default=20_000, help="ingest reports")
    parser.add_argument("--rows", type=int, default=50_000, help="listings to download")
    parser.add_argument("--changes", type=int, default=1_000, help="listings in the delta")
    parser.add_argument("--lookups", type=int, default=3_000, help="sequential GET lookups")
    parser.add_argument("--indicators", type=int, default=5_000, help="federated listings")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--seed", type=int, default=20260123)
    parsed = parser.parse_args()
    parsed.only = set(filter(None, parsed.only.split(",")))
    if not parsed.only or parsed.only - set(BENCHMARKS):
        parser.error(f"--only takes a comma-separated subset of {','.join(BENCHMARKS)}")
    if parsed.rows < LOOKUP_BATCH or parsed.lookups < 2 or parsed.rounds < 1:
        parser.error(f"--rows must be at least {LOOKUP_BATCH}, --lookups 2, --rounds 1")
    return parsed


def main() -> None:
    """Check the previous main out, run every benchmark on both trees in turn, print the ratios."""
    options = arguments()
    # A plain `kill` must remove the worktree and stop the nodes as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = options.base or default_base()
    work = Path(tempfile.mkdtemp(prefix="scamshare-compare-"))
    started = time.monotonic()
    try:
        with worktree(base, work) as old_tree:
            trees = {"old": old_tree, "new": ROOT}
            print(f"machine: {describe()}")
            for name, tree in trees.items():
                print(f"{name}: {describe_tree(tree)} at {tree}")
                print(f"{name} imports: {', '.join(imported_files(tree))}")
            if git("rev-parse", base) == git("rev-parse", "HEAD"):
                print(f"note: {base} is this commit: the ratios show the measurement's noise")
            inputs = Inputs.build(options)
            results = Results()
            for (engine, admin), stage in itertools.product(ingest.engines(), stages(options.only)):
                for round_index in range(options.rounds):
                    runs = [
                        (name, Run(trees[name], work, admin, inputs))
                        for name in round_order(round_index)
                    ]
                    for name, figures in RUNNERS[stage](runs, options.only).items():
                        results.add(engine, name, figures)
                        shown = ", ".join(
                            f"{figure.name} {show(value, figure)} {figure.unit}"
                            for figure, value in figures.items()
                        )
                        print(
                            f"[{time.monotonic() - started:4.0f} s] {engine} {stage} "
                            f"round {round_index + 1}/{options.rounds} {name}: {shown}",
                            flush=True,
                        )
            passed = report(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
