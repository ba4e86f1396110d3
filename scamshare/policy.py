"""The listing, risk and expiry rules, as pure functions of an indicator's aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scamshare.config import ConfigError

DEFAULT_TTL_DAYS = {
    "phone": 60,
    "phone_range": 30,
    "sender_id": 90,
    "url": 14,
    "domain": 30,
    "message": 30,
}


@dataclass(frozen=True)
class ListingRule:
    """An unverified indicator lists when `min_orgs` organisations report it within `days`."""

    min_orgs: int
    window_days: int
    needs_verified: bool = False


@dataclass(frozen=True)
class Policy:
    """The node's rules, read once from configuration."""

    listing: dict[str, ListingRule]
    ttl: dict[str, timedelta]
    delist_cooldown: timedelta = timedelta(days=30)
    appeal_overdue: timedelta = timedelta(days=5)
    range_max: int = 1000
    country: str = "SG"  # the node's member state: its own origin in every merged view
    node_id: str = "scamshare-sg"

    @classmethod
    def from_config(cls, config: dict) -> Policy:
        """Build the policy from the app configuration."""
        default_rule = ListingRule(config["LISTING_MIN_ORGS"], config["LISTING_WINDOW_DAYS"])
        listing = {kind: default_rule for kind in DEFAULT_TTL_DAYS}
        # A number range is too blunt a tool to list on crowd reports alone.
        listing["phone_range"] = ListingRule(
            default_rule.min_orgs, default_rule.window_days, needs_verified=True
        )
        for kind, value in _pairs("LISTING_RULES", config["LISTING_RULES"]):
            try:
                min_orgs, days = (int(part) for part in value.split("/"))
            except ValueError:
                raise ConfigError(
                    f"SCAMSHARE_LISTING_RULES: {kind}={value!r} must be N/W, e.g. 3/10"
                ) from None
            listing[kind] = ListingRule(min_orgs, days, listing[kind].needs_verified)
        ttl_days = dict(DEFAULT_TTL_DAYS)
        for kind, value in _pairs("TTL_DAYS", config["TTL_DAYS"]):
            if not value.isdigit():
                raise ConfigError(f"SCAMSHARE_TTL_DAYS: {kind}={value!r} must be whole days")
            ttl_days[kind] = int(value)
        return cls(
            listing=listing,
            ttl={kind: timedelta(days=days) for kind, days in ttl_days.items()},
            delist_cooldown=timedelta(days=config["DELIST_COOLDOWN_DAYS"]),
            appeal_overdue=timedelta(days=config["APPEAL_OVERDUE_DAYS"]),
            range_max=config["RANGE_MAX"],
            country=config["COUNTRY"],
            node_id=config["NODE_ID"],
        )


def _pairs(name: str, raw: str) -> list[tuple[str, str]]:
    """Parse "kind=value,kind=value" and check every kind."""
    pairs = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        kind, sep, value = item.partition("=")
        if not sep or kind.strip() not in DEFAULT_TTL_DAYS:
            raise ConfigError(
                f"SCAMSHARE_{name}: {item!r} must be kind=value with a kind among "
                f"{', '.join(DEFAULT_TTL_DAYS)}"
            )
        pairs.append((kind.strip(), value.strip()))
    return pairs


@dataclass(frozen=True)
class Evidence:
    """What the listing and risk rules look at, for one indicator at one moment."""

    kind: str
    verified_at: datetime | None  # the newest verified report still counting
    recent_orgs: int  # organisations whose last report is inside the listing window
    org_count: int  # every organisation still counting
    country_count: int
    report_count: int
    last_reported_at: datetime | None
    protected: bool
    delisted_at: datetime | None


def risk_tier(verified: bool, org_count: int, country_count: int) -> str:
    """Rate an indicator from verification and independent corroboration.

    very_high: verified and reported by 3+ organisations or from 2+ countries;
    high: verified, or reported by 3+ organisations;
    medium: reported by 2 organisations;
    low: one organisation, unverified.
    """
    if verified and (org_count >= 3 or country_count >= 2):
        return "very_high"
    if verified or org_count >= 3:
        return "high"
    if org_count >= 2:
        return "medium"
    return "low"


def expiry(policy: Policy, kind: str, last_reported_at: datetime | None) -> datetime | None:
    """When a listing lapses: the kind's TTL after its last corroborating report."""
    if last_reported_at is None:
        return None
    return last_reported_at + policy.ttl[kind]


def should_list(policy: Policy, evidence: Evidence, now: datetime) -> bool:
    """Decide whether an indicator is listed now by the verified or the crowd rule.

    A verified report lists at once (while it is within the kind's TTL). Otherwise N distinct
    organisations within W days list it, except for kinds that need verification, and except
    during the cool-down after a regulator delisted the value, when only a verified report
    made after the delisting lists it again.
    """
    if evidence.protected:
        return False
    expires = expiry(policy, evidence.kind, evidence.last_reported_at)
    if expires is None or expires <= now:
        return False
    rule = policy.listing[evidence.kind]
    verified = (
        evidence.verified_at is not None and evidence.verified_at + policy.ttl[evidence.kind] > now
    )
    if evidence.delisted_at is not None:
        verified = verified and evidence.verified_at > evidence.delisted_at
        if now < evidence.delisted_at + policy.delist_cooldown:
            return verified
    if verified:
        return True
    return not rule.needs_verified and evidence.recent_orgs >= rule.min_orgs
