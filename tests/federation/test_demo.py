"""`scamshare demo`: three nodes that federate their sample reports, as a newcomer runs it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys


def free_base_port() -> int:
    """A port with the two after it free too."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 65000:
            continue
        try:
            with contextlib.ExitStack() as held:  # closes whichever were opened, even on failure
                for n in range(3):
                    held.enter_context(socket.create_server(("127.0.0.1", base + n)))
        except OSError:
            continue
        return base
    raise RuntimeError("no three free ports in a row")


def test_demo_federates_the_sample_reports_and_prints_how_to_explore(tmp_path):
    """Each node lists the others' values with their origins, serves, and cleans up on Ctrl-C."""
    base = free_base_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scamshare",
            "demo",
            "--base-port",
            str(base),
        ],
        # Its temporary folder goes under tmp_path, where the test checks that it is removed.
        env={**os.environ, "SCAMSHARE_LOG_LEVEL": "WARNING", "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines = []
    try:
        while not any("keep serving" in line for line in lines):
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        while sum("law_enforcement" in line for line in lines) < 3:
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        output = "".join(lines)
        assert list(tmp_path.glob("scamshare-demo-*"))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        process.stdout.close()
    assert not list(tmp_path.glob("scamshare-demo-*")), "Ctrl-C left the demo's folder behind"
    assert "FAILED" not in output
    my_section = output.split("MY node")[1].split("TH node")[0]
    assert "+6581234567" in my_section and "SG (block)" in my_section
    assert "+60123456789" in my_section and "MY (block), SG (block)" in my_section
    th_on_sg = output.split("SG node")[1].split("MY node")[0]
    assert "TH (warn)" in th_on_sg
    assert f"http://127.0.0.1:{base}/api/v1/docs" in output
    assert sum(bool(re.match(r"\s+regulator\s+ss\.k", line)) for line in lines) == 3
