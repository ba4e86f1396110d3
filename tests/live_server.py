"""Driving a real `scamshare serve` process: its first lines and its readiness."""

from __future__ import annotations

import re
import time

import httpx


def startup(stream, details=lambda: "") -> tuple[list[str], dict[str, str]]:
    """Read serve's output up to its docs line; return the lines and the keys by role."""
    lines: list[str] = []
    while not any("API docs" in line for line in lines):
        line = stream.readline()
        assert line, f"serve exited early: {lines} {details()}"
        lines.append(line)
    keys = dict(re.findall(r"^\s+(\w+)\s+.*?(ss\.\S+)$", "".join(lines), re.M))
    return lines, keys


def wait_ready(base: str, seconds: float = 20) -> httpx.Response:
    """Poll /readyz until it answers 200 (bounded); return that answer."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            ready = httpx.get(f"{base}/readyz", timeout=2)
            if ready.status_code == 200:
                return ready
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not become ready"
        time.sleep(0.1)
