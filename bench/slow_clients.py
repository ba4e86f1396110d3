"""Benchmark `scamshare serve` against idle, slow and stalled clients while a probe looks values up.

About 470 lines: each kind of hostile client, the probe and the baseline run against the same
served node, so they stay in one script.

    python bench/slow_clients.py [--listings 100000] [--hold 30] [--no-baseline]
                                 [--serve-args "--bulk-threads 0"]

It starts `scamshare serve` as a user does (a fresh data directory in a temporary folder; the
sample keys it prints), lists `--listings` indicators by submitting verified reports through
POST /api/v1/reports with the regulator's key (batches of 10,000), and then, all on loopback:

- opens 500 idle connections, 200 clients that send one byte a second (half in their headers,
  half in a body after complete headers) and 50 clients that GET the full CSV blocklist with a
  4 KiB receive buffer and never read it, the three kinds mixed as they would arrive; holds
  them `--hold` seconds and closes them;
- meanwhile a probe looks a value up (GET /api/v1/lookup, a new connection each time, listed
  and unknown numbers in turn) every 0.5 s, from 3 s before the crowd arrives to `--after`
  seconds after it left; a lookup that takes 5 s is given up and counted as failed;
- samples the server process each second: resident memory, descriptors, the bytes of responses
  it spilled to temporary files, and its CPU.

It does so with the settings `scamshare serve` now uses (plus `--serve-args`) and then, on the
same data, with waitress's defaults and downloads on any thread, as serve ran before
(`--no-baseline` skips that). Targets: every lookup under 1 s while the crowd is there and
under 2 s after it went. The last line is `worst_lookup_ms_during: X after: Y` for the first run.

One script on purpose (about 460 lines): the loader, the three kinds of client and the probe of
one run, read top to bottom.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import quote

import httpx
from distribution import indicator_rows  # bench/ is on sys.path when a script runs
from ingest import Node as IngestNode
from ingest import batch_bodies
from machine import describe, tree_cpu
from waitress.adjustments import Adjustments

from scamshare import serving
from scamshare.normalise import NormalisationError, normalise

PROBE_EVERY = 0.5
PROBE_TIMEOUT = 5.0
LEAD_IN = 3.0
BATCH = 10_000
RECEIVE_BUFFER = 4096  # a client that never reads: the kernel holds little for it
TARGET_DURING_MS = 1000
TARGET_AFTER_MS = 2000


class Node(IngestNode):
    """`scamshare serve` with extra options on a data directory, keeping the keys of its first
    start."""

    def __init__(self, data_dir: Path, options: list[str], keys: dict[str, str] | None = None):
        """Start the server and wait until it answers."""
        self.env = {
            **os.environ,
            "SCAMSHARE_DATA_DIR": str(data_dir),
            "SCAMSHARE_COUNTRY": "SG",
            "SCAMSHARE_LOG_REQUESTS": "false",
        }
        self.env.pop("SCAMSHARE_DATABASE_URL", None)
        command = [sys.executable, "-m", "scamshare", "serve", "--port", "{port}", *options]
        self._start(command, True)
        if keys:
            self.keys = keys


# --- listings ------------------------------------------------------------------------------------


def listing_reports(count: int) -> list[dict]:
    """`count` verified reports of distinct values (numbers, links, sender IDs) the node lists."""
    observed = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    reports: list[dict] = []
    canonical: set[tuple[str, str]] = set()
    start = 1
    while len(reports) < count:
        for row in indicator_rows(start, count, datetime.now(UTC)):
            region = row["facts"].get("region", "SG")
            try:
                value = normalise(row["kind"], row["value"], region).value
            except NormalisationError:
                continue
            if (row["kind"], value) in canonical:
                continue
            canonical.add((row["kind"], value))
            reports.append(
                {
                    "kind": row["kind"],
                    "value": row["value"],
                    "region": region,
                    "category": row["categories"].split(";")[0],
                    "channel": "sms",
                    "observed_at": observed,
                    "evidence_ref": f"bench-{len(reports)}",
                    "verified": True,
                }
            )
            if len(reports) == count:
                break
        start += count
    return reports


def load(node: Node, reports: list[dict]) -> float:
    """Submit the reports as the regulator; return the seconds it took."""
    headers = {"Authorization": f"Bearer {node.keys['regulator']}"}
    headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    with httpx.Client(base_url=node.base, timeout=600) as client:
        for body in batch_bodies(reports, BATCH):
            response = client.post("/api/v1/reports", content=body, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"loading: {response.status_code} {response.text[:300]}")
    return time.perf_counter() - started


def download(node: Node) -> tuple[int, int, float]:
    """Download the full CSV blocklist once, reading it; return its lines, bytes and seconds."""
    started = time.perf_counter()
    lines = size = 0
    headers = {"Authorization": f"Bearer {node.keys['operator']}"}
    with (
        httpx.Client(base_url=node.base, timeout=120) as client,
        client.stream("GET", "/api/v1/blocklist?format=csv", headers=headers) as response,
    ):
        for chunk in response.iter_bytes():
            lines += chunk.count(b"\n")
            size += len(chunk)
    return lines - 1, size, time.perf_counter() - started


# --- the crowd -----------------------------------------------------------------------------------


@dataclass
class Crowd:
    """Idle, slow and stalled clients of one server, opened, fed and closed by the caller."""

    port: int
    key: str
    idle: list[socket.socket] = field(default_factory=list)
    slow: list[tuple[socket.socket, bytes]] = field(default_factory=list)
    readers: list[socket.socket] = field(default_factory=list)
    refused: int = 0
    dropped: set[int] = field(default_factory=set)  # slow clients the server closed

    def _connect(self, receive_buffer: int | None = None) -> socket.socket | None:
        """One connection to the server, or None (counted) when it is refused or times out."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:  # before connecting, so that the window starts small
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            self.refused += 1
            return None
        return sock

    def open(self, idle: int, slow: int, readers: int, seconds: float) -> None:
        """Open every client, the three kinds mixed as they would arrive; each slow one gets a
        request longer than `seconds` bytes."""
        kinds = ["idle"] * idle + ["slow"] * slow + ["reader"] * readers
        random.Random(7).shuffle(kinds)
        auth = f"Authorization: Bearer {self.key}\r\n"
        padding = "x" * int(seconds + 60)
        download = f"GET /api/v1/blocklist?format=csv HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n"
        for number, kind in enumerate(kinds):
            sock = self._connect(RECEIVE_BUFFER if kind == "reader" else None)
            if sock is None:
                continue
            if kind == "idle":
                self.idle.append(sock)
            elif kind == "reader":
                self._send(sock, download.encode())
                self.readers.append(sock)
            elif number % 2:  # headers a byte at a time
                payload = f"GET /api/v1/lookup?value=%2B6591234567 HTTP/1.1\r\n{auth}X-Pad: "
                sock.setblocking(False)
                self.slow.append((sock, (payload + padding).encode()))
            else:  # complete headers, then the body a byte at a time
                body = '{"values": [{"value": "' + padding + '"}]}'
                head = (
                    f"POST /api/v1/lookup HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                self._send(sock, head.encode())
                sock.setblocking(False)
                self.slow.append((sock, body.encode()))

    def _send(self, sock: socket.socket, data: bytes) -> bool:
        """Send data; False when the server has closed the connection."""
        try:
            sock.sendall(data)
        except OSError:
            return False
        return True

    def feed(self, second: int) -> None:
        """Send every slow client its next byte."""
        for number, (sock, payload) in enumerate(self.slow):
            if number in self.dropped:
                continue
            try:
                sock.send(payload[second % len(payload) : second % len(payload) + 1])
            except BlockingIOError:
                pass
            except OSError:
                self.dropped.add(number)

    def close(self) -> None:
        """Close every client."""
        for sock in [*self.idle, *(sock for sock, _ in self.slow), *self.readers]:
            sock.close()

    def total(self) -> int:
        """How many clients are open."""
        return len(self.idle) + len(self.slow) + len(self.readers)


# --- the probe and the server's own figures ------------------------------------------------------


@dataclass
class Probe:
    """Lookups one after another, every PROBE_EVERY seconds, each on a new connection."""

    port: int
    key: str
    values: list[str]
    results: list[tuple[float, float, bool]] = field(default_factory=list)  # start, ms, ok
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Probe until stopped."""
        values = itertools.cycle(self.values)
        headers = {"Authorization": f"Bearer {self.key}"}
        while not self.stop.is_set():
            started = time.monotonic()
            connection = HTTPConnection("127.0.0.1", self.port, timeout=PROBE_TIMEOUT)
            try:
                connection.request("GET", f"/api/v1/lookup?value={next(values)}", headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:  # a refused or timed-out lookup is a failed one, not a crash
                ok = False
            finally:
                connection.close()
            elapsed = time.monotonic() - started
            self.results.append((started, elapsed * 1000, ok))
            self.stop.wait(max(0.0, PROBE_EVERY - elapsed))

    def between(self, start: float, end: float) -> list[tuple[float, bool]]:
        """(milliseconds, answered) of the lookups started in [start, end)."""
        return [(ms, ok) for begun, ms, ok in self.results if start <= begun < end]


def server_sample(pid: int) -> tuple[float, int, int]:
    """The server's resident memory (MB), open descriptors, and bytes in deleted temporary files."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    spilled = descriptors = 0
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        descriptors += 1
        try:
            if os.readlink(entry).endswith("(deleted)"):
                spilled += entry.stat().st_size
        except OSError:  # closed while we looked
            continue
    return rss, descriptors, spilled


# --- one run -------------------------------------------------------------------------------------


@dataclass
class Figures:
    """What one run measured."""

    name: str
    during: list[tuple[float, bool]]
    after: list[tuple[float, bool]]
    opened: int
    refused: int
    dropped: int
    open_seconds: float
    rss_before_mb: float
    peak_rss_mb: float
    peak_descriptors: int
    peak_spilled_mb: float
    cpu_cores: float | None

    def worst(self, phase: str) -> float:
        """The slowest lookup of a phase in ms (a failed lookup counts as the probe's timeout)."""
        found = getattr(self, phase)
        return max((ms if ok else max(ms, PROBE_TIMEOUT * 1000) for ms, ok in found), default=0)

    def line(self, phase: str, target: int) -> str:
        """One phase's lookups in one line."""
        found = getattr(self, phase)
        failed = sum(not ok for _, ok in found)
        median = statistics.median(ms for ms, _ in found) if found else 0.0
        held = "met" if found and not failed and self.worst(phase) < target else "NOT met"
        return (
            f"[{self.name}] lookups {phase}: {len(found)}, median {median:.0f} ms, worst "
            f"{self.worst(phase):.0f} ms, {failed} failed or timed out ({PROBE_TIMEOUT:.0f} s) "
            f"(target < {target} ms: {held})"
        )


def run(node: Node, name: str, values: list[str], counts: tuple[int, int, int], hold: float,
        after: float) -> Figures:  # fmt: skip
    """Hold the crowd against one server while probing; return the figures."""
    probe = Probe(node.port, node.keys["operator"], values)
    thread = threading.Thread(target=probe.run, daemon=True)
    thread.start()
    time.sleep(LEAD_IN)
    crowd = Crowd(node.port, node.keys["operator"])
    samples: list[tuple[float, int, int]] = []
    rss_before = server_sample(node.process.pid)[0]
    cpu_before = tree_cpu(node.process.pid)
    begun = time.monotonic()
    try:
        crowd.open(*counts, hold)
        opened = time.monotonic()
        for second in range(int(hold)):
            crowd.feed(second)
            samples.append(server_sample(node.process.pid))
            time.sleep(max(0.0, opened + second + 1 - time.monotonic()))
    finally:
        crowd.close()
    closed = time.monotonic()
    cpu_after = tree_cpu(node.process.pid)
    time.sleep(after)
    probe.stop.set()
    thread.join(timeout=PROBE_TIMEOUT + 1)
    cpu = None
    if cpu_before is not None and cpu_after is not None:
        cpu = (cpu_after - cpu_before) / (closed - begun)
    return Figures(
        name=name,
        during=probe.between(begun, closed),
        after=probe.between(closed, closed + after),
        opened=crowd.total(),
        refused=crowd.refused,
        dropped=len(crowd.dropped),
        open_seconds=opened - begun,
        rss_before_mb=rss_before,
        peak_rss_mb=max(sample[0] for sample in samples),
        peak_descriptors=max(sample[1] for sample in samples),
        peak_spilled_mb=max(sample[2] for sample in samples) / 1e6,
        cpu_cores=cpu,
    )


def report(figures: Figures, counts: tuple[int, int, int], hold: float) -> None:
    """Print one run's figures."""
    idle, slow, readers = counts
    print(
        f"[{figures.name}] crowd: {idle} idle, {slow} slow (1 byte/s), {readers} stalled "
        f"downloads; {figures.opened} opened in {figures.open_seconds:.1f} s "
        f"({figures.refused} refused or timed out), held {hold:.0f} s; the server closed "
        f"{figures.dropped} slow ones"
    )
    print(figures.line("during", TARGET_DURING_MS))
    print(figures.line("after", TARGET_AFTER_MS))
    cpu = "?" if figures.cpu_cores is None else f"{figures.cpu_cores:.2f}"
    print(
        f"[{figures.name}] server while held: peak RSS {figures.peak_rss_mb:.0f} MB "
        f"({figures.rss_before_mb:.0f} MB before), "
        f"{figures.peak_descriptors} descriptors, {figures.peak_spilled_mb:.0f} MB of responses "
        f"in temporary files, {cpu} cores busy"
    )


def baseline_options() -> list[str]:
    """Options that give serve back its old ways: waitress's defaults for every setting it now
    sets, and downloads on any worker thread."""
    options = ["--bulk-threads", "0"]
    for name in serving.SETTINGS:
        options += ["--server-option", f"{name}={getattr(Adjustments, name)}"]
    return options


def main() -> None:
    """Load the listings once, then measure the current settings and the old ones."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--hold", type=float, default=30.0, help="seconds the crowd stays")
    parser.add_argument("--after", type=float, default=10.0, help="seconds probed after it left")
    parser.add_argument("--no-baseline", action="store_true", help="skip waitress's defaults")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--serve-args", default="", help="more options for `scamshare serve` in the first run"
    )
    arguments = parser.parse_args()
    counts = (arguments.idle, arguments.slow, arguments.readers)
    # The crowd needs a descriptor each, on this side too.
    serving.raise_descriptor_limit(sum(counts) * 2 + 256)
    print(f"machine: {describe()}")
    reports = listing_reports(arguments.listings)
    # Listed numbers and numbers the node never saw, in turn.
    listed = [report["value"] for report in reports if report["kind"] == "phone"][:500]
    unknown = [f"+659{number:07d}" for number in range(len(listed))]
    values = [quote(value, safe="") for pair in zip(listed, unknown, strict=True) for value in pair]
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="scamshare-bench-slow-") as data_dir:
        node = Node(Path(data_dir), arguments.serve_args.split())
        try:
            seconds = load(node, reports)
            lines, size, took = download(node)
            print(
                f"listings: {lines:,} loaded in {seconds:.0f} s through the API; the full CSV "
                f"blocklist is {size / 1e6:.1f} MB, read in {took:.2f} s by a client that reads"
            )
            if lines != arguments.listings:
                raise SystemExit(f"expected {arguments.listings:,} listings, found {lines:,}")
            results.append(run(node, "now", values, counts, arguments.hold, arguments.after))
        finally:
            node.stop()
        report(results[-1], counts, arguments.hold)
        if not arguments.no_baseline:
            node = Node(Path(data_dir), baseline_options(), node.keys)
            try:
                results.append(run(node, "before", values, counts, arguments.hold, arguments.after))
            finally:
                node.stop()
            report(results[-1], counts, arguments.hold)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps([vars(f) for f in results], indent=2))
    if len(results) > 1:
        before = results[1]
        print(
            f"before (waitress defaults): worst_lookup_ms_during: {before.worst('during'):.0f} "
            f"after: {before.worst('after'):.0f}"
        )
    now = results[0]
    print(f"worst_lookup_ms_during: {now.worst('during'):.0f} after: {now.worst('after'):.0f}")


if __name__ == "__main__":
    main()
