"""Benchmark the TAXII 2.1 server against medallion, the OASIS reference server, on one collection.

    python bench/taxii.py [--rows 100000] [--page 1000] [--runs 2] [--pollers 4]

Loads the same listed indicators into a node (SQLite) and into medallion's memory back end (the
node's own objects, read from it once), serves each with gunicorn (one worker), and polls every
page of both with taxii2-client (the same page size, the same client), the runs alternating.
Prints objects per second for each (the best run), the node worker's resident memory after one
poller and after `--pollers` concurrent pollers (stateless paging: it must not grow with them),
and last the line `ratio: X`, node over medallion. Generation and loading time are excluded.
Needs gunicorn (`pip install -e '.[bench]'`) and the test extra (taxii2-client, medallion).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from distribution import ROOT, Server, generate, issue_key  # bench/ is on sys.path
from machine import describe

MEDALLION_WSGI = """
import medallion
from medallion.backends.memory_backend import MemoryBackend

app = medallion.application_instance
medallion.register_blueprints(app)
app.users_backend = {"bench": "bench"}
app.taxii_config = {"max_page_size": %(page)d}
app.medallion_backend = MemoryBackend(filename=%(data)r)
"""
MEDALLION_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def poll(collection, page: int) -> tuple[int, float, list[dict]]:
    """Read every page of a collection; return the object count, seconds and the objects."""
    from taxii2client.v21 import as_pages

    started = time.perf_counter()
    objects: list[dict] = []
    for envelope in as_pages(collection.get_objects, per_request=page):
        objects += envelope.get("objects", [])
    return len(objects), time.perf_counter() - started, objects


def node_collection(port: int, key: str):
    """The node's one collection, read with HTTP Basic (the key id, the key)."""
    from taxii2client.v21 import Server as TaxiiServer

    key_id = key.split(".")[1]
    server = TaxiiServer(f"http://127.0.0.1:{port}/taxii2/", user=key_id, password=key)
    return server.api_roots[0].collections[0]


def medallion_collection(port: int):
    """medallion's collection holding the same objects."""
    from taxii2client.v21 import Collection

    url = f"http://127.0.0.1:{port}/api1/collections/{MEDALLION_COLLECTION}/"
    return Collection(url, user="bench", password="bench")


def medallion_data(objects: list[dict]) -> dict:
    """medallion's memory back end holding the objects, each added at its own moment."""
    manifest = [
        {
            "id": obj["id"],
            "date_added": f"2026-01-01T00:00:{index // 10**6:02d}.{index % 10**6:06d}Z",
            "version": obj.get("modified") or obj["created"],
            "media_type": "application/stix+json;version=2.1",
        }
        for index, obj in enumerate(objects)
    ]
    return {
        "/discovery": {"title": "bench", "default": "", "api_roots": []},
        "api1": {
            "information": {
                "title": "bench",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 10**8,
            },
            "status": [],
            "collections": [
                {
                    "id": MEDALLION_COLLECTION,
                    "title": "bench",
                    "can_read": True,
                    "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": manifest,
                }
            ],
        },
    }


def rss_mb(server: Server) -> float:
    """The worker's current resident memory, in MB."""
    [pid] = server.workers()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS")


def concurrent_polls(make_collection, pollers: int, page: int) -> None:
    """Run several pollers at once, each through every page."""
    threads = [
        threading.Thread(target=poll, args=(make_collection(), page)) for _ in range(pollers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    """Load both servers, poll them alternately, print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--pollers", type=int, default=4)
    arguments = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from scamshare import migrations
    from scamshare.db import make_engine

    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory(prefix="scamshare-taxii-bench-") as directory:
        folder = Path(directory)
        url = f"sqlite:///{folder / 'bench.db'}"
        engine = make_engine(url)
        migrations.upgrade(engine)
        generate(engine, 1, arguments.rows, set())
        engine.dispose()
        key = issue_key(url)
        environment = {
            "SCAMSHARE_DATABASE_URL": url,
            "SCAMSHARE_DATA_DIR": str(folder),
            "SCAMSHARE_LOG_REQUESTS": "false",
        }
        node = Server("wsgi:app", 1, environment, ROOT)
        try:
            count, _, objects = poll(node_collection(node.port, key), arguments.page)
            # medallion 3.0 reads an extension definition's `version` ("1.0.0") as a
            # timestamp and fails: it gets every other object.
            objects = [obj for obj in objects if obj["type"] != "extension-definition"]
            expected = {"node": count, "medallion": len(objects)}
            data = folder / "medallion.json"
            data.write_text(json.dumps(medallion_data(objects)))
            del objects
            (folder / "medallion_wsgi.py").write_text(
                MEDALLION_WSGI % {"page": arguments.page, "data": str(data)}
            )
            reference = Server("medallion_wsgi:app", 1, {}, folder)
            try:
                best = {"node": 0.0, "medallion": 0.0}
                for run in range(arguments.runs):
                    for name, collection in (
                        ("node", node_collection(node.port, key)),
                        ("medallion", medallion_collection(reference.port)),
                    ):
                        got, seconds, _ = poll(collection, arguments.page)
                        if got != expected[name]:
                            raise SystemExit(f"{name} returned {got} objects, not {expected[name]}")
                        rate = got / seconds
                        best[name] = max(best[name], rate)
                        print(f"run {run + 1} {name}: {got} objects in {seconds:.2f} s")
                one = rss_mb(node)
                concurrent_polls(
                    lambda: node_collection(node.port, key), arguments.pollers, arguments.page
                )
                many = rss_mb(node)
            finally:
                reference.stop()
        finally:
            node.stop()
    print(f"objects: {count} (page {arguments.page})")
    print(f"node: {best['node']:.0f} objects/s")
    print(f"medallion: {best['medallion']:.0f} objects/s")
    print(f"node memory after 1 poller: {one:.0f} MB")
    print(f"node memory after {arguments.pollers} concurrent pollers: {many:.0f} MB")
    print(f"ratio: {best['node'] / best['medallion']:.2f}")


if __name__ == "__main__":
    main()
