"""Compare this tree with the previous main: ingest, downloads, lookups and federation, alternating.

Run from the repository root:

    python bench/compare.py [--base REF] [--rounds 3] [--reports 30000] [--rows 50000]
                            [--lookups 3000] [--indicators 15000]
                            [--only ingest,download,lookup,federation]

`--base REF` names the previous main, the tree to compare against: `origin/main` when that ref
exists, else `main` (on main itself, name the commit before the change, e.g. `--base HEAD~3`).
The script checks REF out into a temporary git worktree (removed at the end, also on Ctrl-C)
and measures it and this working tree with the same interpreter and the same installed
dependencies, each tree first on PYTHONPATH and the server's working directory (it prints the
files each tree imports to prove it). It reaches the nodes only through what outlives a rewrite
of their insides: the `scamshare` command (serve, node init, peers add, sync), gunicorn's
`wsgi:app`, the HTTP API, and the request log a node writes to stderr.

Each round gives each tree fresh nodes on fresh databases, the same seeded inputs, and runs
both trees' nodes side by side, taking every measurement on one tree and then on the other
(old first in odd rounds, new first in even ones, and alternating within a round), so that a
neighbour's load on a shared machine weighs on both alike:

- ingest: `--reports` phone reports of all eleven ASEAN regions (bench/ingest.py's generator,
  20% repeats), POST /api/v1/reports in batches of 5,000 from two clients at once, the three
  submitting organisations in turn; reports per second of each pair of batches;
- download: `--rows` numbers listed by verified regulator reports (the load's reports per
  second is a figure too), then full CSV and JSON blocklists and, after `--changes` more
  listings, CSV deltas since the full list's cursor; seconds per download, each checked;
- lookup (same nodes): `--lookups` GET lookups one at a time, listed and unknown numbers in
  turn (p50 latency and lookups per second of each block of 100; every answer checked), and
  POST lookups of 1,000 values (seconds each);
- federation: two nodes per tree, each with its `node init` key, each registered with the other
  by `peers add`; node B lists `--indicators` numbers through reports in three parts, and after
  each `scamshare sync` on B pushes that part to A: contributions applied per second on A (from
  A's request log) and the sync's wall time (a process start included).

Each wall-clock figure has a CPU twin: the CPU seconds the node's processes (gunicorn and its
workers, read from /proc; on PostgreSQL the database server's are not in it) or the sync
command spent on the same work. A neighbour's load on a shared machine moves wall time a lot and
CPU time little, so a twin tells a slower tree from a busier machine.

A figure's ratio is the median, over all rounds, of new/old of each pair of samples taken one
right after the other; the table also shows each round's median. For rates (reports/s,
lookups/s, contributions/s) higher is better and a ratio of at least 0.90 passes; for times
(downloads, latency, sync) lower is better and a ratio of at most 1.10 passes. SQLite always
runs; with SCAMSHARE_BENCH_POSTGRES_URL set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/
test) PostgreSQL runs first, on databases the script creates and drops. The last line is
`worst: ...`, the figure nearest its bound (or beyond it); the exit status is 1 when any figure
misses its bound.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ingest  # bench/ is on sys.path when a script runs
from compare_inputs import LOOKUP_BATCH, SYNCS, Inputs
from compare_nodes import Run, prepare
from compare_runs import STAGES, Figure, Samples
from machine import describe

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("ingest", "download", "lookup", "federation")


def stages(only: set[str]) -> list[str]:
    """The stages to run, in order: downloads and lookups share one stage and its nodes."""
    wanted = only | ({"download"} if "lookup" in only else set())
    return [stage for stage in STAGES if stage in wanted]


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


def paired_ratios(per_tree: dict[str, list[float]]) -> list[float]:
    """new/old of each pair of samples taken one right after the other."""
    return [new / old for new, old in zip(per_tree["new"], per_tree["old"], strict=True)]


@dataclass
class Results:
    """Each figure's samples per engine, round and tree; old's i-th paired with new's i-th."""

    rounds: dict[tuple[str, Figure], list[dict[str, list[float]]]] = field(default_factory=dict)

    def add(self, engine: str, samples: dict[str, Samples]) -> None:
        """Keep one round's samples of both trees."""
        for figure in samples["old"]:
            per_tree = {tree: samples[tree][figure] for tree in ("old", "new")}
            self.rounds.setdefault((engine, figure), []).append(per_tree)

    def ratio(self, key: tuple[str, Figure]) -> float:
        """The median of every pair's new/old, over all rounds."""
        pairs = itertools.chain.from_iterable(map(paired_ratios, self.rounds[key]))
        return statistics.median(pairs)

    def median(self, key: tuple[str, Figure], tree: str) -> float:
        """The median of a tree's samples of a figure, over all rounds."""
        return statistics.median(itertools.chain.from_iterable(r[tree] for r in self.rounds[key]))


def show(value: float, figure: Figure) -> str:
    """A figure's value with as many digits as it deserves."""
    if figure.unit == "s":
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def report(results: Results) -> bool:
    """Print the table, one line per figure, and the worst; return whether every figure passes."""
    print()
    print(
        f"{'engine':<11} {'figure':<24} {'unit':<16} {'old':>9} {'new':>9} {'new/old':>8}"
        "  good            per round"
    )
    worst: tuple[float, str] | None = None
    passed = True
    for (engine, figure), rounds in results.rounds.items():
        ratio = results.ratio((engine, figure))
        sign = ">=" if figure.higher_is_better else "<="
        verdict = "ok" if figure.passes(ratio) else "SLOWER"
        passed = passed and figure.passes(ratio)
        old, new = (show(results.median((engine, figure), tree), figure) for tree in ("old", "new"))
        per_round = " ".join(f"{statistics.median(paired_ratios(r)):.2f}" for r in rounds)
        print(
            f"{engine:<11} {figure.name:<24} {figure.unit:<16} {old:>9} {new:>9} {ratio:>8.3f}"
            f"  {sign} {figure.bound:.2f} {verdict:<6}  {per_round}"
        )
        line = f"{engine} {figure.name} {ratio:.3f} ({sign} {figure.bound:.2f}, {verdict})"
        if worst is None or figure.margin(ratio) < worst[0]:
            worst = (figure.margin(ratio), line)
    print()
    for engine, figure in results.rounds:
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
    parser.add_argument("--reports", type=int, default=30_000, help="ingest reports")
    parser.add_argument("--rows", type=int, default=50_000, help="listings to download")
    parser.add_argument("--changes", type=int, default=1_000, help="listings in the delta")
    parser.add_argument("--lookups", type=int, default=3_000, help="sequential GET lookups")
    parser.add_argument("--indicators", type=int, default=15_000, help="federated listings")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--seed", type=int, default=20260123)
    parsed = parser.parse_args()
    parsed.only = set(filter(None, parsed.only.split(",")))
    if not parsed.only or parsed.only - set(BENCHMARKS):
        parser.error(f"--only takes a comma-separated subset of {','.join(BENCHMARKS)}")
    if min(parsed.rounds, parsed.reports, parsed.changes) < 1 or parsed.lookups < 2:
        parser.error("--rounds, --reports and --changes must be at least 1, --lookups 2")
    if parsed.rows < max(LOOKUP_BATCH, parsed.lookups // 2):
        parser.error(f"--rows must be at least {LOOKUP_BATCH} and half of --lookups")
    if parsed.indicators < SYNCS:
        parser.error(f"--indicators must be at least {SYNCS}, one per sync")
    return parsed


def measure(options: argparse.Namespace, trees: dict[str, Path], work: Path) -> Results:
    """Run every stage's rounds on both trees, on each engine, printing each round's medians."""
    started = time.monotonic()
    inputs = Inputs.build(
        rows=options.rows,
        changes=options.changes,
        lookups=options.lookups,
        indicators=options.indicators,
        reports=options.reports,
        seed=options.seed,
    )
    print(f"inputs generated in {time.monotonic() - started:.0f} s", flush=True)
    results = Results()
    for (engine, admin), stage in itertools.product(ingest.engines(), stages(options.only)):
        for round_index in range(options.rounds):
            order = {name: trees[name] for name in round_order(round_index)}
            with Run(order, work, admin) as run:
                measured = STAGES[stage](run, inputs, options.only)
            results.add(engine, measured)
            for name, samples in measured.items():
                shown = ", ".join(
                    f"{figure.name} {show(statistics.median(values), figure)} {figure.unit}"
                    for figure, values in samples.items()
                )
                print(
                    f"[{time.monotonic() - started:4.0f} s] {engine} {stage} "
                    f"round {round_index + 1}/{options.rounds} {name}: {shown}",
                    flush=True,
                )
    return results


def main() -> None:
    """Check the previous main out, run every benchmark on both trees in turn, print the ratios."""
    options = arguments()
    # A plain `kill` must remove the worktree and stop the nodes as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = options.base or default_base()
    work = Path(tempfile.mkdtemp(prefix="scamshare-compare-"))
    try:
        with worktree(base, work) as old_tree:
            trees = {"old": old_tree, "new": ROOT}
            print(f"machine: {describe()}")
            for name, tree in trees.items():
                print(f"{name}: {describe_tree(tree)} at {tree}")
                print(f"{name} imports: {', '.join(prepare(tree))}")
            if git("rev-parse", base) == git("rev-parse", "HEAD"):
                print(f"note: {base} is this commit: the ratios show the measurement's noise")
            passed = report(measure(options, trees, work))
    except KeyboardInterrupt:
        print("interrupted: the nodes are stopped and the worktree removed", file=sys.stderr)
        sys.exit(130)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
