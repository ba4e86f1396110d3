"""The README's quickstart, run as a newcomer would paste it, against live nodes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_script() -> str:
    """Every shell block between the README's quickstart markers, in order."""
    text = README.read_text()
    section = text.split("<!-- quickstart -->")[1].split("<!-- /quickstart -->")[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 4, "the quickstart lost its commands"
    return "\n".join(blocks)


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_quickstart_submits_downloads_and_syncs_two_nodes(tmp_path):
    """The pasted commands succeed, and the second node ends up listing the first one's values."""
    script = quickstart_script()
    # The README's ports may be taken on a shared machine; everything else runs as written.
    script = script.replace("8080", str(free_port())).replace("8081", str(free_port()))
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCAMSHARE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["SCAMSHARE_LOG_LEVEL"] = "WARNING"
    process = subprocess.Popen(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the two servers it starts in the background go with it
    )
    try:
        output, _ = process.communicate(timeout=240)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
    assert process.returncode == 0, output
    assert '"accepted":2' in output
    assert "sender_id,DBS-ALERT,listed" in output and ",upsert," in output
    assert "scamshare-my: sent 3 in 1 batch(es), applied 3, ignored 0, rejected 0" in output
    last_listing = output.rsplit("kind,value,status", 1)[1]
    assert last_listing.count("SG:block") == 3
