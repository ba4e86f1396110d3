"""`scamshare import --taxii`: STIX indicators from medallion, the OASIS reference server."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from taxii2client.v21 import Collection
from werkzeug.serving import make_server

from tests.conftest import make_credential

API_ROOT = "api1"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
USER, PASSWORD = "importer", "correct horse battery staple"
_registered = threading.Lock()


def _medallion_app(base: str):
    """medallion's one Flask app, on its memory back end with one writable collection."""
    import medallion
    from medallion.backends.memory_backend import MemoryBackend

    app = medallion.application_instance
    with _registered:
        if "objects" not in app.blueprints:
            medallion.register_blueprints(app)
    app.users_backend = {USER: PASSWORD}
    app.taxii_config = {"max_page_size": 100}
    backend = MemoryBackend()
    backend.data = {
        "/discovery": {
            "title": "CERT",
            "default": f"{base}/{API_ROOT}/",
            "api_roots": [f"{base}/{API_ROOT}/"],
        },
        API_ROOT: {
            "information": {
                "title": "CERT indicators",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 10_000_000,
            },
            "status": [],
            "collections": [
                {
                    "id": COLLECTION,
                    "title": "Scam indicators",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    app.medallion_backend = backend
    return app


@pytest.fixture
def medallion_url():
    """medallion served on a free loopback port; yield its API root's URL."""
    server = make_server("127.0.0.1", 0, _medallion_app("http://127.0.0.1:0"), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    _medallion_app(base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{base}/{API_ROOT}/"
    server.shutdown()
    thread.join(timeout=10)


def indicator(pattern: str, **extra) -> dict:
    """A STIX 2.1 indicator as a CERT would publish it."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-11-20T08:00:00.000Z",
        "modified": "2026-11-20T08:00:00.000Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-11-20T08:00:00.000Z",
        **extra,
    }


def publish(url: str, *objects: dict) -> None:
    """Add objects to medallion's collection with taxii2-client, as a CERT's tooling would."""
    collection = Collection(f"{url}collections/{COLLECTION}/", user=USER, password=PASSWORD)
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}
    status = collection.add_objects(json.dumps(bundle))
    assert status.status == "complete" and status.failure_count == 0, status


def test_import_pulls_understood_indicators_once_and_resumes_after_them(
    app, client, keys, cli, medallion_url, monkeypatch
):
    """Mappable patterns become reports; the rest is counted; a second run takes only new ones."""
    operator = make_credential(app, "operator", name="CERT feed")
    publish(
        medallion_url,
        indicator("[phone-number:value = '+6581234567']", labels=["investment"]),
        indicator("[url:value = 'https://pay-parcel-fee.com/pay']"),
        indicator("[domain-name:value = 'maybank2u-verify.com']", labels=["phishing_link"]),
        indicator("[phone-number:value LIKE '+65812345__']"),
        indicator("[ipv4-addr:value = '198.51.100.7']"),
        indicator("[url:value = 'https://a.example/'] OR [url:value = 'https://b.example/']"),
        indicator("[sms-sender-id:value = 'PARCELSG']", revoked=True),
        {
            "type": "malware",
            "spec_version": "2.1",
            "id": f"malware--{uuid.uuid4()}",
            "created": "2026-11-20T08:00:00.000Z",
            "modified": "2026-11-20T08:00:00.000Z",
            "name": "dropper",
            "is_family": False,
        },
    )
    monkeypatch.setenv("SCAMSHARE_TAXII_PASSWORD", PASSWORD)
    run = cli()
    args = ["import", "--taxii", medallion_url, "--collection", COLLECTION]
    args += ["--org", str(operator.organisation_id), "--user", USER]
    first = run(*args)
    assert "4 reports accepted, 0 rejected, 4 objects skipped" in first.output
    assert "not_an_indicator 1" in first.output and "pattern_not_understood 2" in first.output
    assert "revoked 1" in first.output
    found = client.get(
        "/api/v1/indicators", query_string={"kind": "phone"}, headers=keys["regulator"].headers
    ).json["items"]
    assert [item["value"] for item in found] == ["+6581234567"]

    again = run(*args)
    assert "0 reports accepted, 0 rejected, 0 objects skipped" in again.output
    publish(medallion_url, indicator("[phone-number:value = '+6591234567']"))
    third = run(*args)
    assert "1 reports accepted" in third.output


def test_import_without_the_password_says_what_the_server_answered(
    app, cli, medallion_url, monkeypatch
):
    """A refused pull is a clean failure naming the status, not a traceback."""
    operator = make_credential(app, "operator", name="CERT feed")
    monkeypatch.delenv("SCAMSHARE_TAXII_PASSWORD", raising=False)
    result = cli()(
        "import",
        "--taxii",
        medallion_url,
        "--collection",
        COLLECTION,
        "--org",
        str(operator.organisation_id),
        "--user",
        USER,
        ok=False,
    )
    assert result.exit_code != 0
    assert "401" in result.output


def test_the_scheduler_imports_when_a_collection_is_configured(app, client, keys, medallion_url):
    """With SCAMSHARE_TAXII_IMPORT_* set, the scheduler's job pulls new indicators."""
    from scamshare import scheduler

    operator = make_credential(app, "operator", name="CERT feed")
    assert "taxii_import" not in {job.name for job in scheduler.node_jobs(app)}
    app.config.update(
        TAXII_IMPORT_URL=medallion_url,
        TAXII_IMPORT_COLLECTION=COLLECTION,
        TAXII_IMPORT_ORG=str(operator.organisation_id),
        TAXII_IMPORT_USER=USER,
        TAXII_PASSWORD=PASSWORD,
    )
    [job] = [job for job in scheduler.node_jobs(app) if job.name == "taxii_import"]
    publish(medallion_url, indicator("[phone-number:value = '+6581234567']"))
    keeper = scheduler.LeaseKeeper(app, "host-a:1")
    assert scheduler.run_job(app, job, keeper) == {"accepted": 1, "rejected": 0}
    publish(medallion_url, indicator("[ipv4-addr:value = '198.51.100.7']"))
    assert scheduler.run_job(app, job, keeper) == {
        "accepted": 0,
        "rejected": 0,
        "pattern_not_understood": 1,
    }
