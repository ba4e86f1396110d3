"""The measurements of bench/compare.py: what each stage times on both trees' nodes in turn."""

from __future__ import annotations

import json
import re
import resource
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote

from compare_inputs import Batch, Inputs
from compare_nodes import Node, Run, get, in_parallel, in_turn, post

CLIENTS = 2
LOOKUP_BLOCK = 100


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
