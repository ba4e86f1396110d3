"""The nodes and measurements of bench/compare.py: one node per tree, reached from outside only.

A tree's node runs this interpreter with the tree first on PYTHONPATH and as the working
directory, and is driven only through what outlives a rewrite of its insides: the `scamshare`
command (serve, node init, peers add, sync), gunicorn's `wsgi:app`, the HTTP API and the JSON
request log on stderr. Both trees' nodes run side by side and take each measurement in turn, so
that a neighbour's load on a shared machine weighs on both alike.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import ingest  # bench/ is on sys.path when a script runs
import phonenumbers
from machine import process_cpu

BATCH = 5000
CLIENTS = 2
WORKERS = 2
LOOKUP_BATCH = 1000
LOOKUP_BLOCK = 100
SYNCS = 3
WARM_UP = 200
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


# Each figure's samples: the i-th of one tree was taken right before or after the other's.
Samples = dict[Figure, list[float]]
# Each wall-clock figure has a CPU twin: the CPU the node (or the sync command) spent on the same
# work, which a neighbour's load on a shared machine barely moves.
INGEST = Figure("ingest", "reports/s", True)
INGEST_CPU = Figure("ingest, node CPU", "µs/report", False)
LOAD = Figure("load listed", "reports/s", True)
LOAD_CPU = Figure("load listed, node CPU", "µs/report", False)
FULL_CSV = Figure("full csv", "s", False)
FULL_CSV_CPU = Figure("full csv, node CPU", "ms", False)
FULL_JSON = Figure("full json", "s", False)
FULL_JSON_CPU = Figure("full json, node CPU", "ms", False)
DELTA = Figure("delta csv", "s", False)
DELTA_CPU = Figure("delta csv, node CPU", "ms", False)
LOOKUP_P50 = Figure("lookup p50", "ms", False)
LOOKUP_RATE = Figure("lookups", "lookups/s", True)
LOOKUP_CPU = Figure("lookups, node CPU", "µs/lookup", False)
LOOKUP_POST = Figure("batch lookup", "s", False)
LOOKUP_POST_CPU = Figure("batch lookup, node CPU", "ms", False)
APPLIED = Figure("federation applied on A", "contributions/s", True)
APPLIED_CPU = Figure("federation A CPU", "µs/contribution", False)
SYNC = Figure("federation sync", "s", False)
SYNC_CPU = Figure("federation sync CPU", "s", False)


@dataclass(frozen=True)
class Batch:
    """One POST /api/v1/reports body, the role whose key sends it, and its number of reports."""

    role: str
    body: bytes
    reports: int


def batches(reports: list[dict], roles: tuple[str, ...]) -> list[Batch]:
    """The reports in bodies of 5,000, sent by the roles in turn."""
    bodies = ingest.batch_bodies(reports, BATCH)
    return [
        Batch(roles[index % len(roles)], body, len(reports[index * BATCH : (index + 1) * BATCH]))
        for index, body in enumerate(bodies)
    ]


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


@dataclass
class Inputs:
    """The seeded inputs both trees get."""

    ingest: list[Batch]
    listed: list[Batch]
    changes: list[Batch]
    federation: list[list[Batch]]  # a warm-up part, then the timed ones
    listed_count: int
    change_count: int
    lookups: list[str]
    batch_lookup: list[str]

    @classmethod
    def build(cls, rows: int, changes: int, lookups: int, indicators: int, **sizes: int) -> Inputs:
        """Generate the reports (bench/ingest.py's generator) and the values to look up."""
        ingest_reports, _ = ingest.generate(sizes["reports"], sizes["seed"])
        half = lookups // 2
        unknown_count = half + LOOKUP_BATCH // 2
        pool = distinct(
            max(rows, indicators + WARM_UP) + changes + unknown_count, sizes["seed"] + 1
        )
        verified = [report for report, _ in pool]
        listed = [e164 for _, e164 in pool[:rows]]
        unknown = [e164 for _, e164 in pool[rows + changes :]]  # numbers nobody reported
        step = -(-indicators // SYNCS)
        federated = verified[WARM_UP : WARM_UP + indicators]
        return cls(
            ingest=batches(ingest_reports, ingest.SUBMITTERS),
            listed=batches(verified[:rows], ("regulator",)),
            changes=batches(verified[rows : rows + changes], ("regulator",)),
            federation=[
                batches(part, ("regulator",))
                for part in [verified[:WARM_UP]]
                + [federated[start : start + step] for start in range(0, indicators, step)]
            ],
            listed_count=rows,
            change_count=changes,
            lookups=interleave(listed[:half], unknown[:half]),
            batch_lookup=interleave(listed[-LOOKUP_BATCH // 2 :], unknown[half:unknown_count]),
        )


def tree_env(tree: Path) -> dict[str, str]:
    """The environment that makes this interpreter import scamshare and schemas from `tree`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    return env


def prepare(tree: Path) -> list[str]:
    """Compile a tree's modules and return the files its processes import scamshare, schemas and
    wsgi from, checked to lie in the tree.

    Compiled up front, neither tree compiles its sources again at each of the many process
    starts (the environment may forbid writing bytecode), and both start alike.
    """
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "scamshare", "schemas", "wsgi.py"],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    if compiled.returncode != 0:
        raise RuntimeError(f"{tree} does not compile: {compiled.stdout}{compiled.stderr}")
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


class Node:
    """One node of one tree on a fresh database.

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
                serve.wait()
                log = (data_dir / "server.log").read_text()[-2000:]
                raise RuntimeError(f"scamshare serve exited early: {''.join(lines)}{log}")
            lines.append(line)
        self.process = serve
        self.stop()
        self.keys = dict(re.findall(r"^\s+(\w+)\s+.*?(ss\.\S+)$", "".join(lines), re.M))

    def _popen(self, arguments: list[str], read_stdout: bool) -> subprocess.Popen:
        """Run this interpreter in the tree with the node's environment, stderr to its log."""
        with (self.data_dir / "server.log").open("a") as log:
            return subprocess.Popen(
                [sys.executable, *arguments],
                env=self.env,
                cwd=self.tree,
                stdout=subprocess.PIPE if read_stdout else subprocess.DEVNULL,
                stderr=log,
                text=True,
            )

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

    def start(self, workers: int = WORKERS) -> None:
        """Serve the node with gunicorn's workers, as in production, and wait until it is ready."""
        command = ["-m", "gunicorn", "--workers", str(workers), "--timeout", "600"]
        command += ["--bind", f"127.0.0.1:{self.port}", "wsgi:app"]
        self.process = self._popen(command, False)
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

    def cpu(self) -> float | None:
        """CPU seconds the server (gunicorn and its workers) has run so far, or None."""
        return None if self.process is None else process_cpu(self.process.pid)

    def headers(self, role: str) -> dict[str, str]:
        """The headers of a request made with the key of the node's sample `role` organisation."""
        return {"Authorization": f"Bearer {self.keys[role]}"}


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


class Meter:
    """The wall time of what runs inside it, and the CPU seconds a node spent meanwhile."""

    def __init__(self, node: Node):
        """Measure this node's CPU."""
        self.node = node

    def __enter__(self) -> Meter:
        """Take the first reading."""
        self._cpu = self.node.cpu()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_exc) -> None:
        """Take the second reading and keep the differences."""
        self.wall = time.perf_counter() - self._started
        cpu = self.node.cpu()
        self.cpu = None if cpu is None or self._cpu is None else cpu - self._cpu

    def cpu_sample(self, figure: Figure, scale: float) -> dict[Figure, float]:
        """The node's CPU seconds times `scale` as a sample of `figure`; nothing if unknown."""
        return {} if self.cpu is None else {figure: self.cpu * scale}


def submit(node: Node, step: list[Batch]) -> None:
    """POST report batches at once, a connection each; check every report was accepted."""

    def send(batch: Batch) -> int:
        """POST one batch and return how many reports were accepted."""
        _, answer = post(node.port, "/api/v1/reports", node.headers(batch.role), batch.body)
        return json.loads(answer)["accepted"]

    with ThreadPoolExecutor(len(step)) as pool:
        accepted = sum(pool.map(send, step))
    if accepted != sum(batch.reports for batch in step):
        raise RuntimeError(f"{accepted} of {sum(batch.reports for batch in step)} accepted")


def in_turn(
    nodes: dict[str, Node], times: int, measure: Callable[[str, Node, int], T]
) -> dict[str, list[T]]:
    """Measure every node `times` times, taking them in turn, the first one alternating, so that
    a change in the machine's load between measurements weighs on both trees alike."""
    taken: dict[str, list[T]] = {name: [] for name in nodes}
    for index in range(times):
        order = list(nodes.items())
        for name, node in order if index % 2 == 0 else reversed(order):
            taken[name].append(measure(name, node, index))
    return taken


def collect(taken: dict[str, list[dict[Figure, float]]]) -> dict[str, Samples]:
    """Per tree, each figure's samples in the order they were taken."""
    collected: dict[str, Samples] = {}
    for tree, samples in taken.items():
        collected[tree] = {}
        for sample in samples:
            for figure, value in sample.items():
                collected[tree].setdefault(figure, []).append(value)
    return collected


def submit_in_turn(
    nodes: dict[str, Node], work: list[Batch], rate: Figure, cpu: Figure
) -> dict[str, Samples]:
    """Send the batches to every node, two clients at once, the trees taking each pair in turn;
    the reports per second of each pair and the node's CPU per report."""
    steps = [work[start : start + CLIENTS] for start in range(0, len(work), CLIENTS)]

    def pair(_name: str, node: Node, index: int) -> dict[Figure, float]:
        """Send one pair of batches."""
        reports = sum(batch.reports for batch in steps[index])
        with Meter(node) as meter:
            submit(node, steps[index])
        return {rate: reports / meter.wall} | meter.cpu_sample(cpu, 1e6 / reports)

    return collect(in_turn(nodes, len(steps), pair))


class Run:
    """One round of one stage: a node (or a few) per tree on fresh databases, stopped and dropped
    when the round ends."""

    counter = itertools.count(1)

    def __init__(self, trees: dict[str, Path], work: Path, postgres_admin: str | None):
        """Remember the trees in the round's order, and where the round's files go."""
        self.trees, self.postgres_admin = trees, postgres_admin
        self.work = work / f"round-{next(Run.counter)}"
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> Run:
        """Start the round."""
        return self

    def __exit__(self, *_exc) -> None:
        """Stop every node, drop every database."""
        self.stack.close()

    def nodes(self, configs: dict[str, dict[str, str]]) -> dict[str, dict[str, Node]]:
        """Set up and serve the named nodes of each tree, all at once; by tree, then name."""
        wanted = [(tree, name) for tree in self.trees for name in configs]
        urls = [self._database(f"{tree}_{name}") for tree, name in wanted]

        def make(numbered: tuple[int, tuple[str, str]]) -> Node:
            """Create one node's database and key."""
            index, (tree, name) = numbered
            data_dir = self.work / tree / name
            return Node(self.trees[tree], data_dir, urls[index], **configs[name])

        with ThreadPoolExecutor(len(wanted)) as pool:
            made = list(pool.map(make, enumerate(wanted)))
        for node in made:
            self.stack.callback(node.stop)
        found: dict[str, dict[str, Node]] = {tree: {} for tree in self.trees}
        for (tree, name), node in zip(wanted, made, strict=True):
            found[tree][name] = node
        return found

    def _database(self, name: str) -> str | None:
        """A fresh PostgreSQL database dropped when the round ends, or None for SQLite."""
        if not self.postgres_admin:
            return None
        database = f"scamshare_compare_{os.getpid()}_{self.work.name.replace('-', '_')}_{name}"
        url = ingest.postgres_database(self.postgres_admin, database, create=True)
        self.stack.callback(ingest.postgres_database, self.postgres_admin, database, False)
        return url


def in_parallel(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls at once (node start-ups and set-up commands); their results, in order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def run_ingest(run: Run, inputs: Inputs, _only: set[str]) -> dict[str, Samples]:
    """Ingest the reports from two clients through the three submitting organisations in turn."""
    nodes = {tree: named["node"] for tree, named in run.nodes({"node": {}}).items()}
    in_parallel([node.start for node in nodes.values()])
    return submit_in_turn(nodes, inputs.ingest, INGEST, INGEST_CPU)


def run_distribution(run: Run, inputs: Inputs, only: set[str]) -> dict[str, Samples]:
    """List the rows, then time downloads and lookups, the trees' nodes taking turns."""
    nodes = {tree: named["node"] for tree, named in run.nodes({"node": {}}).items()}
    in_parallel([node.start for node in nodes.values()])
    figures = submit_in_turn(nodes, inputs.listed, LOAD, LOAD_CPU)
    parts = [downloads] if "download" in only else []
    parts += [lookups] if "lookup" in only else []
    for part in parts:
        for tree, measured in part(nodes, inputs).items():
            figures[tree].update(measured)
    return figures


def download(node: Node, path: str) -> tuple[bytes, dict]:
    """Download a path with the operator key; return the body and the headers."""
    _, status, body, headers = get(node.port, path, node.headers("operator"))
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    return body, headers


def check_rows(what: str, got: int, expected: int) -> None:
    """Fail loudly when an answer does not hold the listings it should."""
    if got != expected:
        raise RuntimeError(f"{what}: {got} listings, expected {expected}")


def csv_rows(body: bytes) -> int:
    """Listings in a CSV download: its lines but the header."""
    return len(body.decode().splitlines()) - 1


def downloads(nodes: dict[str, Node], inputs: Inputs) -> dict[str, Samples]:
    """Time the full CSV and JSON lists, then CSV deltas after more listings, each checked."""
    path = "/api/v1/blocklist?format="
    cursors: dict[str, str] = {}

    def full_csv(tree: str, node: Node, _index: int) -> dict[Figure, float]:
        """One full CSV download; it also gives the delta's cursor."""
        with Meter(node) as meter:
            body, headers = download(node, path + "csv")
        check_rows("full csv", csv_rows(body), inputs.listed_count)
        cursors[tree] = headers["X-ScamShare-Cursor"]
        return {FULL_CSV: meter.wall} | meter.cpu_sample(FULL_CSV_CPU, 1000)

    def full_json(_tree: str, node: Node, _index: int) -> dict[Figure, float]:
        """One full JSON download."""
        with Meter(node) as meter:
            body, _ = download(node, path + "json")
        check_rows("full json", len(json.loads(body)["items"]), inputs.listed_count)
        return {FULL_JSON: meter.wall} | meter.cpu_sample(FULL_JSON_CPU, 1000)

    def delta(tree: str, node: Node, _index: int) -> dict[Figure, float]:
        """One CSV delta since the full list's cursor."""
        with Meter(node) as meter:
            body, _ = download(node, f"{path}csv&since={cursors[tree]}")
        check_rows("delta csv", csv_rows(body), inputs.change_count)
        return {DELTA: meter.wall} | meter.cpu_sample(DELTA_CPU, 1000)

    measured = collect(in_turn(nodes, 5, full_csv))
    for tree, samples in collect(in_turn(nodes, 5, full_json)).items():
        measured[tree].update(samples)
    submit_in_turn(nodes, inputs.changes, LOAD, LOAD_CPU)  # untimed: the changes to send
    for tree, samples in collect(in_turn(nodes, 10, delta)).items():
        measured[tree].update(samples)
    return measured


def lookups(nodes: dict[str, Node], inputs: Inputs) -> dict[str, Samples]:
    """GET lookups of listed and unknown numbers one at a time, in blocks of 100 taken by the
    trees in turn, then POST lookups of 1,000 values; every answer checked."""
    values = inputs.lookups
    statuses: dict[str, list[str]] = {tree: [] for tree in nodes}

    def block(tree: str, node: Node, index: int) -> dict[Figure, float]:
        """Look one block of values up, a request each: p50, rate and CPU per lookup."""
        latencies = []
        headers = node.headers("operator")
        part = values[index * LOOKUP_BLOCK : (index + 1) * LOOKUP_BLOCK]
        with Meter(node) as meter:
            for value in part:
                seconds, status, body, _ = get(
                    node.port, f"/api/v1/lookup?value={quote(value)}", headers
                )
                if status != 200:
                    raise RuntimeError(f"lookup {value}: {status} {body[:300]!r}")
                latencies.append(seconds)
                statuses[tree].append(json.loads(body)["status"])
        return {
            LOOKUP_P50: statistics.median(latencies) * 1000,
            LOOKUP_RATE: len(part) / sum(latencies),
        } | meter.cpu_sample(LOOKUP_CPU, 1e6 / len(part))

    in_turn(nodes, 1, block)  # warms both workers up; not counted
    for found in statuses.values():
        found.clear()
    measured = collect(in_turn(nodes, -(-len(values) // LOOKUP_BLOCK), block))
    for found in statuses.values():
        if found != ["listed", "unknown"] * (len(values) // 2):
            raise RuntimeError(f"{found.count('listed')} of {len(values)} lookups: listed")
    body = json.dumps({"values": [{"value": value} for value in inputs.batch_lookup]}).encode()

    def batch_lookup(_tree: str, node: Node, _index: int) -> dict[Figure, float]:
        """One POST lookup of the batch."""
        with Meter(node) as meter:
            _, answer = post(node.port, "/api/v1/lookup", node.headers("operator"), body)
        listed = sum(item["status"] == "listed" for item in json.loads(answer)["items"])
        check_rows("batch lookup", listed, len(inputs.batch_lookup) // 2)
        return {LOOKUP_POST: meter.wall} | meter.cpu_sample(LOOKUP_POST_CPU, 1000)

    for tree, samples in collect(in_turn(nodes, 10, batch_lookup)).items():
        measured[tree].update(samples)
    return measured


def children_cpu() -> float:
    """CPU seconds of this process's children that ended (the sync commands)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_federation(run: Run, inputs: Inputs, _only: set[str]) -> dict[str, Samples]:
    """Per tree, node B lists numbers and pushes them to node A with `scamshare sync`, in a few
    parts that the trees take in turn, after a warm-up part."""
    configs = {
        "a": {"country": "MY", "node_id": "bench-a", "log_requests": "true"},
        "b": {"country": "SG", "node_id": "bench-b", "federation_read_timeout": "600"},
    }
    pairs = run.nodes(configs)
    nodes = [node for pair in pairs.values() for node in pair.values()]
    keys = in_parallel([lambda node=node: node.cli("node", "init").split()[-1] for node in nodes])
    public = dict(zip(map(id, nodes), keys, strict=True))

    def register(node: Node, peer: Node) -> Callable[[], str]:
        """The command that makes `peer` a peer of `node`."""
        return lambda: node.cli(
            "peers", "add",
            "--node-id", peer.env["SCAMSHARE_NODE_ID"],
            "--country", peer.env["SCAMSHARE_COUNTRY"],
            "--url", peer.base,
            "--public-key", public[id(peer)],
        )  # fmt: skip

    calls = [register(pair["a"], pair["b"]) for pair in pairs.values()]
    in_parallel(calls + [register(pair["b"], pair["a"]) for pair in pairs.values()])
    # One worker on A: a sync sends its batches one after the other, and a single worker is
    # warmed up for certain by the first part, so no timed batch meets a cold one.
    starts = [lambda pair=pair: pair["a"].start(workers=1) for pair in pairs.values()]
    in_parallel(starts + [pair["b"].start for pair in pairs.values()])
    senders = {tree: pair["b"] for tree, pair in pairs.items()}

    def sync(tree: str, sender: Node, index: int) -> dict[Figure, float]:
        """List one part of the numbers on B, then time B's sync and A's applying it."""
        part = inputs.federation[index]
        submit(sender, part)
        receiver = pairs[tree]["a"]
        receiving = receiver.seconds_in("/api/v1/federation/batches")
        cpu = children_cpu()
        with Meter(receiver) as meter:
            printed = sender.cli("sync")
        cpu = children_cpu() - cpu
        applied = re.search(r"^bench-a: .*?applied (\d+)", printed, re.M)
        expected = sum(batch.reports for batch in part)
        if applied is None or int(applied.group(1)) != expected:
            raise RuntimeError(f"sync applied other than the {expected} listed: {printed}")
        receiving = receiver.seconds_in("/api/v1/federation/batches") - receiving
        return {
            APPLIED: expected / receiving,
            **meter.cpu_sample(APPLIED_CPU, 1e6 / expected),
            SYNC: meter.wall,
            SYNC_CPU: cpu,
        }

    in_turn(senders, 1, sync)  # the warm-up part (the first); not counted
    timed = len(inputs.federation) - 1
    return collect(in_turn(senders, timed, lambda tree, node, index: sync(tree, node, index + 1)))


STAGES: dict[str, Callable[[Run, Inputs, set[str]], dict[str, Samples]]] = {
    "ingest": run_ingest,
    "download": run_distribution,
    "federation": run_federation,
}
