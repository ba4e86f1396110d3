"""The nodes of bench/compare.py: one per tree and role, reached from outside only.

A tree's node runs this interpreter with the tree first on PYTHONPATH and as the working
directory, and is driven only through what outlives a rewrite of its insides: the `scamshare`
command (serve, node init, peers add, sync), gunicorn's `wsgi:app`, the HTTP API and the JSON
request log on stderr. Both trees' nodes run side by side and take each measurement in turn
(`in_turn`), so that a neighbour's load on a shared machine weighs on both alike.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path
from typing import TypeVar

import ingest  # bench/ is on sys.path when a script runs
from machine import process_cpu

WORKERS = 2
T = TypeVar("T")


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
    # Importing the command also shows, before any node starts, a package this environment
    # lacks that the tree needs (trees of different dates may need different ones).
    probe = (
        "import importlib.util as u\n"
        "for name in ('scamshare', 'schemas', 'wsgi'): print(u.find_spec(name).origin)\n"
        "import scamshare.cli"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=tree_env(tree), cwd=tree, capture_output=True, text=True
    )
    missing = re.search(r"ModuleNotFoundError: No module named '([^']+)'", done.stderr)
    if missing:
        raise SystemExit(
            f"{tree} needs the module {missing.group(1)!r}, which this environment lacks: "
            "install the package that provides it, then run again"
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
