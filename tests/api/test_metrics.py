"""GET /metrics: what a Prometheus scrape with an admin's key sees after real traffic."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from scamshare import scheduler
from scamshare.federation import identity
from tests import reporting


def scrape(client, credential) -> dict[tuple, float]:
    """Scrape the node; return every sample as {(name, sorted labels): value}."""
    response = client.get("/metrics", headers=credential.headers)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def grew(before: dict, after: dict, name: str, **labels: str) -> float:
    """How much one sample grew between two scrapes (counters are shared by the process)."""
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0) - before.get(key, 0)


def test_only_a_metrics_read_key_scrapes(client, keys):
    """An admin's key scrapes; an operator's key is refused and no key is unauthorised."""
    assert client.get("/metrics", headers=keys["admin"].headers).status_code == 200
    assert client.get("/metrics", headers=keys["operator"].headers).json["code"] == "forbidden"
    assert client.get("/metrics").status_code == 401


def test_a_scrape_counts_the_traffic_indicators_peers_and_jobs(app, client, keys, tmp_path):
    """Requests, reports by reason, uses, downloads, indicators, peers and job runs add up."""
    before = scrape(client, keys["admin"])
    good = reporting.report("+65 8123 4567", verified=True)
    unknown = reporting.report("x", kind="fax")
    answer = client.post(
        "/api/v1/reports", json={"reports": [good, unknown]}, headers=keys["regulator"].headers
    ).json
    assert (answer["accepted"], answer["rejected_count"]) == (1, 1)
    for _ in range(3):
        client.get(
            "/api/v1/lookup",
            query_string={"value": "+6581234567"},
            headers=keys["operator"].headers,
        )
    client.post(
        "/api/v1/messages/check",
        json={"text": "Your parcel is held, pay at http://a.example"},
        headers=keys["operator"].headers,
    )
    client.get(
        "/api/v1/blocklist", query_string={"format": "csv"}, headers=keys["operator"].headers
    )
    client.get(
        "/api/v1/blocklist",
        query_string={"format": "json", "since": 1},
        headers=keys["operator"].headers,
    )
    peer = identity.create(str(tmp_path / "peer"))
    client.post(
        "/api/v1/federation/peers",
        json={
            "node_id": "scamshare-vn",
            "country": "VN",
            "url": "https://scamshare.vnta.example",
            "public_key": peer.public_key,
        },
        headers=keys["admin"].headers,
    )
    job = scheduler.Job("census", lambda session, app_, now: {}, 60, "test")
    scheduler.run_job(app, job, scheduler.LeaseKeeper(app, "host-a:1"))
    after = scrape(client, keys["admin"])

    assert grew(before, after, "scamshare_reports_accepted_total") == 1
    assert grew(before, after, "scamshare_reports_rejected_total", reason="not_allowed") == 1
    assert grew(before, after, "scamshare_lookups_total", status="200") == 3
    assert grew(before, after, "scamshare_message_checks_total", status="200") == 1
    assert grew(before, after, "scamshare_downloads_total", format="csv", mode="full", status="200")
    assert grew(
        before, after, "scamshare_downloads_total", format="json", mode="delta", status="200"
    )
    requests = {"endpoint": "lookup.lookup_one", "method": "GET", "status": "200"}
    assert grew(before, after, "scamshare_http_requests_total", **requests) == 3
    latency = grew(
        before, after, "scamshare_http_request_duration_seconds_count", endpoint="lookup.lookup_one"
    )
    assert latency == 3
    assert after[("scamshare_indicators", (("kind", "phone"), ("status", "listed")))] == 1
    assert after[("scamshare_peer_lag_changes", (("peer", "scamshare-vn"),))] == 1
    assert after[("scamshare_peer_consecutive_failures", (("peer", "scamshare-vn"),))] == 0
    assert (
        after[("scamshare_peer_last_success_timestamp_seconds", (("peer", "scamshare-vn"),))] == 0
    )
    assert (
        grew(before, after, "scamshare_scheduler_job_runs_total", job="census", outcome="ok") == 1
    )
    assert grew(before, after, "scamshare_scheduler_job_duration_seconds_count", job="census") == 1
