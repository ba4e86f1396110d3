"""GET /metrics: the node's Prometheus metrics, for a scraper holding a metrics.read key."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from scamshare import db, metrics
from scamshare.auth import requires
from scamshare.services import peers as peers_service
from scamshare.services import stats as stats_service

blp = Blueprint("metrics", __name__, url_prefix="/", description="Prometheus metrics")


class _Snapshot:
    """Gauges read from the database once per scrape, so every worker reports the same."""

    def __init__(self, families: list[GaugeMetricFamily]):
        """Keep the families built for this scrape."""
        self.families = families

    def collect(self):
        """Yield them to the registry."""
        return iter(self.families)


def _database_gauges() -> list[GaugeMetricFamily]:
    """Indicators by kind and status, and each peer's sync health."""
    indicators = GaugeMetricFamily(
        "scamshare_indicators", "Indicators by kind and status", labels=["kind", "status"]
    )
    last_success = GaugeMetricFamily(
        "scamshare_peer_last_success_timestamp_seconds",
        "When a push to the peer last succeeded (Unix time; 0: never)",
        labels=["peer"],
    )
    failures = GaugeMetricFamily(
        "scamshare_peer_consecutive_failures",
        "Failed pushes since the last success",
        labels=["peer"],
    )
    lag = GaugeMetricFamily(
        "scamshare_peer_lag_changes",
        "This node's changes the peer has not acknowledged",
        labels=["peer"],
    )
    with db.reader() as session:
        for kind, status, count in stats_service.indicator_counts(session):
            indicators.add_metric([kind, status], count)
        for peer in peers_service.list_peers(session):
            success = peer.last_success_at.timestamp() if peer.last_success_at else 0
            last_success.add_metric([peer.node_id], success)
            failures.add_metric([peer.node_id], peer.consecutive_failures)
            lag.add_metric([peer.node_id], peers_service.lag(session, peer))
    return [indicators, last_success, failures, lag]


@blp.route("/metrics")
@requires("metrics.read")
@blp.response(200, {"type": "string"}, content_type=CONTENT_TYPE_LATEST)
def scrape():
    """Prometheus text format: requests, reports, uses, downloads, peers and scheduler jobs."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(_database_gauges()))
    body = metrics.exposition() + generate_latest(registry)
    return current_app.response_class(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0])
