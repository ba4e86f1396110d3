"""`scamshare serve`'s server: idle crowds, bulk downloads and the open-file limit."""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from waitress.adjustments import Adjustments

from scamshare import serving
from scamshare.serving import LaneDispatcher
from tests import live_server


class Served:
    """`scamshare serve` on a fresh data directory and a free port, as a user starts it."""

    def __init__(self, tmp_path: Path, open_files: tuple[int, int] | None = None):
        """Start the server (under an open-file limit if given) and wait until it is ready."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.errors = tmp_path / "serve.err"
        env = {**os.environ, "SCAMSHARE_DATA_DIR": str(tmp_path / "data")}
        env["SCAMSHARE_LOG_REQUESTS"] = "false"
        env.pop("SCAMSHARE_DATABASE_URL", None)

        def limit() -> None:
            """Put the child under the open-file limit the test asks for."""
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, open_files)

        with self.errors.open("w") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scamshare", "serve", "--port", str(self.port)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                preexec_fn=limit,
            )
        _lines, self.keys = live_server.startup(self.process.stdout, self.errors.read_text)
        live_server.wait_ready(self.base)

    def lookup(self) -> httpx.Response:
        """Look a number up as the operator, waiting generously."""
        return httpx.get(
            f"{self.base}/api/v1/lookup",
            params={"value": "+6591234567"},
            headers={"Authorization": f"Bearer {self.keys['operator']}"},
            timeout=15,
        )

    def stop(self) -> None:
        """Stop the server."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


@pytest.fixture
def served(tmp_path):
    """A running `scamshare serve`, stopped after the test."""
    server = Served(tmp_path)
    yield server
    server.stop()


def test_idle_and_slow_connections_do_not_stop_lookups(served):
    """150 silent connections and 20 half-sent requests leave room for a lookup."""
    crowd = []
    try:
        for _ in range(150):
            crowd.append(socket.create_connection(("127.0.0.1", served.port), timeout=5))
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=5)
            sock.sendall(b"GET /api/v1/lookup?value=%2B6591234567 HTTP/1.1\r\nHost: x")
            crowd.append(sock)
        answer = served.lookup()
        assert answer.status_code == 200
        assert answer.json()["status"] == "unknown"
    finally:
        for sock in crowd:
            sock.close()


def test_serve_raises_its_open_file_limit_to_what_its_connections_need(tmp_path):
    """A soft limit below the need is raised towards the hard limit."""
    server = Served(tmp_path, open_files=(256, 8192))
    try:
        limits = Path(f"/proc/{server.process.pid}/limits").read_text()
        soft = int(re.search(r"^Max open files\s+(\d+)", limits, re.M).group(1))
        assert soft >= serving.SETTINGS["connection_limit"]
        assert "warning" not in server.errors.read_text()
    finally:
        server.stop()


def test_serve_fits_its_connections_to_a_low_hard_limit_and_says_so(tmp_path):
    """Under a hard limit of 256 open files it warns, serves fewer connections and still answers."""
    server = Served(tmp_path, open_files=(256, 256))
    try:
        assert server.lookup().status_code == 200
        warning = server.errors.read_text()
        assert "open-file limit is 256" in warning
        assert "at most 96 connections instead of 2000" in warning
    finally:
        server.stop()


def test_serve_refuses_an_unknown_server_option(cli):
    """A misspelt waitress setting is a usage error that names it."""
    result = cli("SG")("serve", "--server-option", "conection_limit=10", ok=False)
    assert result.exit_code == 2
    assert "'conection_limit=10'" in result.output
    result = cli("SG")("serve", "--server-option", "channel_timeout=soon", ok=False)
    assert result.exit_code == 2
    assert "soon" in result.output
    assert "New database" not in result.output


class FakeChannel:
    """A channel whose one request blocks until released, recording when it runs."""

    def __init__(self, path: str, log: list[str], release: threading.Event | None = None):
        """Prepare a request of `path`."""
        self.requests = [SimpleNamespace(path=path)]
        self.log = log
        self.release = release
        self.done = threading.Event()

    def service(self) -> None:
        """Run the request."""
        self.log.append(f"start {self.requests[0].path}")
        if self.release is not None:
            assert self.release.wait(timeout=15)
        self.done.set()

    def cancel(self) -> None:
        """Cancel the request."""
        self.log.append("cancelled")


def test_bulk_downloads_hold_at_most_their_threads_and_lookups_pass_them():
    """Three stuck downloads on one bulk thread leave the other threads to a lookup."""
    dispatcher = LaneDispatcher(bulk_threads=1)
    dispatcher.set_thread_count(3)
    log: list[str] = []
    release = threading.Event()
    try:
        downloads = [FakeChannel("/api/v1/blocklist", log, release) for _ in range(3)]
        for download in downloads:
            dispatcher.add_task(download)
        lookup = FakeChannel("/api/v1/lookup", log)
        dispatcher.add_task(lookup)
        assert lookup.done.wait(timeout=15)
        assert log.count("start /api/v1/blocklist") == 1
        release.set()
        for download in downloads:
            assert download.done.wait(timeout=15)
        assert log.count("start /api/v1/blocklist") == 3
    finally:
        release.set()
        dispatcher.shutdown()


class FakeConnection:
    """What the server's maintenance reads of a connection, and whether it closed it."""

    def __init__(self, silent_for: float, pending: int, running: bool):
        """A connection silent for `silent_for` s with `pending` bytes of unsent output."""
        self.last_activity = 1000.0 - silent_for
        self.total_outbufs_len = pending
        self.requests = [SimpleNamespace(path="/api/v1/blocklist")] if running else []
        self.will_close = False
        self.closed = False

    def handle_close(self) -> None:
        """Record the close."""
        self.closed = True


def test_maintenance_closes_connections_stuck_on_unread_output_only():
    """Output unread for the channel timeout ends the connection; work in progress does not."""
    adj = Adjustments(host="127.0.0.1", port=0, **serving.SETTINGS)
    server = serving.Server(lambda *_: [], {}, _start=False, adj=adj)
    watermark = adj.outbuf_high_watermark
    connections = {
        "unread output, worker done": FakeConnection(61, 5_000_000, running=False),
        "worker waiting above the watermark": FakeConnection(61, watermark + 1, running=True),
        "worker still writing below it": FakeConnection(61, 5_000_000, running=True),
        "output sent a moment ago": FakeConnection(5, 5_000_000, running=False),
        "silent, nothing to send": FakeConnection(61, 0, running=False),
    }
    try:
        server.active_channels.update(enumerate(connections.values()))
        server.maintenance(1000.0)
        closed = {name for name, connection in connections.items() if connection.closed}
        assert closed == {"unread output, worker done", "worker waiting above the watermark"}
        assert connections["silent, nothing to send"].will_close
    finally:
        server.close()
