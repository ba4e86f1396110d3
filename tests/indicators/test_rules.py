"""The indicator rules, pure: no HTTP, no database, one transient Indicator per case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scamshare.config import DEFAULTS
from scamshare.indicators import rules
from scamshare.models import Indicator
from scamshare.policy import Policy

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
POLICY = Policy.from_config(DEFAULTS)


def indicator(**fields) -> Indicator:
    """A transient indicator with a new one's values, changed by `fields`."""
    values = {
        "kind": "phone",
        "value": "+6581234567",
        "status": "reported",
        "removal_reason": None,
        "risk": "low",
        "report_count": 1,
        "org_count": 1,
        "country_count": 1,
        "category_counts": {"investment": 1},
        "first_reported_at": NOW - timedelta(days=2),
        "last_reported_at": NOW - timedelta(days=1),
        "last_verified_at": None,
        "expires_at": None,
        "delisted_at": None,
        "reset_at": None,
        "foreign": [],
        "facts": {},
    }
    return Indicator(**{**values, **fields})


def orgs(*days_ago: float, country: str = "SG") -> list[tuple[datetime, str]]:
    """Corroboration: one organisation per entry, its last report that many days ago."""
    return [(NOW - timedelta(days=days), country) for days in days_ago]


def derived(item: Indicator, corroboration, protected: bool = False) -> rules.Derived:
    """What the rules give an indicator with this corroboration now."""
    evidence = rules.evidence_for(POLICY, item, corroboration, protected, NOW)
    return rules.derive(POLICY, item, evidence, NOW)


def test_a_single_unverified_report_never_lists():
    """One organisation's report is evidence, not a listing."""
    assert derived(indicator(), orgs(1)).status == "reported"


def test_three_organisations_within_the_window_list_an_indicator():
    """The crowd rule: 3 organisations within 10 days."""
    assert derived(indicator(), orgs(1, 2, 3)).status == "listed"
    assert derived(indicator(), orgs(1, 2, 12)).status == "reported"


def test_a_verified_report_lists_at_once_with_its_expiry():
    """A regulator's verified report lists; expiry is the TTL after the last report."""
    item = indicator(last_verified_at=NOW - timedelta(days=1))
    result = derived(item, orgs(1))
    assert (result.status, result.risk) == ("listed", "high")
    assert result.expires_at == item.last_reported_at + timedelta(days=60)


def test_number_ranges_need_a_verified_report():
    """Crowd reports alone never list a range."""
    item = indicator(kind="phone_range", value="+6591234**")
    assert derived(item, orgs(1, 2, 3)).status == "reported"


def test_a_listing_expires_once_its_last_report_is_older_than_the_ttl():
    """Expiry counts from the last corroborating report."""
    item = indicator(status="listed", last_reported_at=NOW - timedelta(days=61))
    assert (derived(item, orgs(61)).status, derived(item, orgs(61)).reason) == (
        "expired",
        "expired",
    )
    fresh = indicator(status="listed", last_reported_at=NOW - timedelta(days=59))
    assert derived(fresh, orgs(59)).status == "listed"


def test_after_a_disconnection_the_old_holders_reports_no_longer_count():
    """Reports and verification from before reset_at do not list the next holder."""
    reset = NOW - timedelta(days=3)
    item = indicator(reset_at=reset, last_verified_at=NOW - timedelta(days=4))
    result = derived(item, orgs(4, 5, 6) + orgs(1))
    assert (result.status, result.org_count, result.risk) == ("reported", 1, "low")


def test_a_protected_value_is_never_listed_whatever_the_evidence():
    """Protection wins over verification and crowds."""
    item = indicator(status="listed", last_verified_at=NOW - timedelta(days=1))
    result = derived(item, orgs(1, 2, 3), protected=True)
    assert (result.status, result.reason) == ("protected", "protected")


def test_a_delisted_value_needs_a_verified_report_after_the_delisting_within_the_cooldown():
    """Crowds do not bring a delisted value back during the cool-down."""
    item = indicator(status="delisted", delisted_at=NOW - timedelta(days=5))
    assert derived(item, orgs(1, 2, 3)).status == "delisted"
    item.last_verified_at = NOW - timedelta(days=1)
    assert derived(item, orgs(1, 2, 3)).status == "listed"


def entry(country: str, **fields) -> dict:
    """A peer origin's entry as the indicator's `foreign` list holds it."""
    values = {
        "node": f"scamshare-{country.lower()}",
        "country": country,
        "status": "listed",
        "removal_reason": None,
        "risk": "high",
        "categories": ["loan"],
        "report_count": 2,
        "org_count": 2,
        "first_reported": (NOW - timedelta(days=8)).isoformat(),
        "last_reported": (NOW - timedelta(days=4)).isoformat(),
        "expires_at": (NOW + timedelta(days=26)).isoformat(),
    }
    return {**values, **fields}


def test_a_peer_only_listing_shows_that_origins_facts():
    """This node only heard of it: operators see the peer's listing with its facts."""
    view = rules.merged_view(
        indicator(
            report_count=0,
            org_count=0,
            category_counts={},
            first_reported_at=None,
            last_reported_at=None,
            foreign=[entry("MY")],
        ),
        "SG",
        {"MY": "warn"},
    )
    assert (view.status, view.risk, view.categories) == ("listed", "high", ("loan",))
    assert (view.report_count, view.org_count) == (2, 2)
    assert view.expires_at == NOW + timedelta(days=26)
    assert view.origins_text == "MY:warn"


def test_several_origins_are_summed_united_and_stretched():
    """Counts summed, categories united, earliest first, latest last and expiry."""
    own = indicator(
        status="listed",
        risk="medium",
        report_count=3,
        org_count=2,
        expires_at=NOW + timedelta(days=10),
        first_reported_at=NOW - timedelta(days=3),
    )
    own.foreign = [
        entry("TH", categories=["romance"], expires_at=(NOW + timedelta(days=50)).isoformat()),
        entry("MY", first_reported=(NOW - timedelta(days=20)).isoformat()),
        entry("VN", status="removed", removal_reason="expired", report_count=9),
    ]
    view = rules.merged_view(own, "SG", {})
    assert [o.country for o in view.origins] == ["SG", "MY", "TH"]
    assert (view.status, view.risk) == ("listed", "medium")  # this node's own listing wins
    assert view.categories == ("investment", "loan", "romance")
    assert (view.report_count, view.org_count) == (7, 6)
    assert view.first_reported == NOW - timedelta(days=20)
    assert view.last_reported == NOW - timedelta(days=1)
    assert view.expires_at == NOW + timedelta(days=50)


def test_a_protected_value_shows_nobodys_listing():
    """What this node protects is exported to nobody, even if a peer lists it."""
    view = rules.merged_view(indicator(status="protected", foreign=[entry("MY")]), "SG", {})
    assert (view.status, view.exported, view.origins) == ("protected", False, ())


def test_a_removal_by_the_only_origin_carries_its_reason():
    """A value only a peer had listed, and the peer removed, shows the peer's reason."""
    item = indicator(foreign=[entry("MY", status="removed", removal_reason="delisted")])
    view = rules.merged_view(item, "SG", {})
    assert (view.status, view.exported, view.removal_reason) == ("reported", False, "delisted")
