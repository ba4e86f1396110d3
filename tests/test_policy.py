"""The listing, risk and expiry rules as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scamshare import policy as rules
from scamshare.config import ConfigError, load

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
POLICY = rules.Policy.from_config(load(environ={}))


def evidence(**changes) -> rules.Evidence:
    """Evidence of an unverified phone reported once yesterday, overridden by `changes`."""
    base = {
        "kind": "phone",
        "verified_at": None,
        "recent_orgs": 1,
        "org_count": 1,
        "country_count": 1,
        "report_count": 1,
        "last_reported_at": NOW - timedelta(days=1),
        "protected": False,
        "delisted_at": None,
    }
    return rules.Evidence(**{**base, **changes})


@pytest.mark.parametrize(
    ("verified", "orgs", "countries", "tier"),
    [
        (False, 1, 1, "low"),
        (False, 2, 1, "medium"),
        (False, 3, 1, "high"),
        (True, 1, 1, "high"),
        (True, 3, 1, "very_high"),
        (True, 1, 2, "very_high"),
        (False, 5, 2, "high"),
    ],
)
def test_risk_tier_table(verified, orgs, countries, tier):
    """The documented risk rule, row by row."""
    assert rules.risk_tier(verified, orgs, countries) == tier


@pytest.mark.parametrize(
    ("changes", "listed"),
    [
        ({}, False),
        ({"recent_orgs": 3}, True),
        ({"recent_orgs": 2}, False),
        ({"verified_at": NOW - timedelta(days=1)}, True),
        ({"verified_at": NOW - timedelta(days=61), "last_reported_at": NOW}, False),
        ({"recent_orgs": 3, "protected": True}, False),
        ({"verified_at": NOW, "last_reported_at": NOW - timedelta(days=61)}, False),
        ({"kind": "phone_range", "recent_orgs": 5}, False),
        ({"kind": "phone_range", "verified_at": NOW}, True),
        ({"recent_orgs": 3, "delisted_at": NOW - timedelta(days=5)}, False),
        (
            {"verified_at": NOW - timedelta(days=1), "delisted_at": NOW - timedelta(days=5)},
            True,
        ),
        (
            {"verified_at": NOW - timedelta(days=6), "delisted_at": NOW - timedelta(days=5)},
            False,
        ),
        ({"recent_orgs": 3, "delisted_at": NOW - timedelta(days=31)}, True),
    ],
)
def test_should_list_table(changes, listed):
    """Verified, crowd, protection, expiry, range and cool-down rules, case by case."""
    assert rules.should_list(POLICY, evidence(**changes), NOW) is listed


def test_per_kind_rules_and_ttls_come_from_configuration():
    """SCAMSHARE_LISTING_RULES and SCAMSHARE_TTL_DAYS override kinds one by one."""
    config = load(
        environ={"SCAMSHARE_LISTING_RULES": "url=2/7", "SCAMSHARE_TTL_DAYS": "url=7,phone=45"}
    )
    policy = rules.Policy.from_config(config)
    assert policy.listing["url"] == rules.ListingRule(2, 7)
    assert policy.listing["phone"] == rules.ListingRule(3, 10)
    assert policy.ttl["url"] == timedelta(days=7)
    assert policy.ttl["phone"] == timedelta(days=45)
    assert policy.ttl["sender_id"] == timedelta(days=90)


@pytest.mark.parametrize(
    "environ",
    [
        {"SCAMSHARE_LISTING_RULES": "fax=3/10"},
        {"SCAMSHARE_LISTING_RULES": "url=three"},
        {"SCAMSHARE_TTL_DAYS": "url=soon"},
    ],
)
def test_bad_rules_are_refused_by_name(environ):
    """A typo in the rules stops the node at start with the variable's name."""
    with pytest.raises(ConfigError, match="SCAMSHARE_"):
        rules.Policy.from_config(load(environ=environ))
