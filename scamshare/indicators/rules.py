"""An indicator's rules as pure functions: what its evidence decides, and what operators see.

Nothing here touches the database: the lifecycle (indicators/lifecycle.py) gathers the facts,
calls these functions and writes what they return, so every path that changes an indicator
(a report, a peer's contribution, a sweep, an appeal, a protection) applies the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scamshare import policy as rules
from scamshare.db import fast
from scamshare.models import EXPORTED_STATUSES, RISKS, Indicator

EXPORTED = frozenset(EXPORTED_STATUSES)
OWN_POLICY = "block"  # this node's own listings are blocked; peers' follow the node's policy


def evidence_for(
    policy: rules.Policy,
    indicator: Indicator,
    corroboration: list[tuple[datetime, str]],
    protected: bool,
    now: datetime,
) -> rules.Evidence:
    """What the rules see of one indicator, given its (last report, country) per organisation."""
    window = policy.listing[indicator.kind].window_days
    reset_at = indicator.reset_at
    counting = [
        (last_at, country)
        for last_at, country in corroboration
        if reset_at is None or last_at > reset_at
    ]
    verified_at = indicator.last_verified_at
    if reset_at is not None and verified_at is not None and verified_at <= reset_at:
        verified_at = None  # a verified report about a number's old holder must not list its next
    return rules.Evidence(
        kind=indicator.kind,
        verified_at=verified_at,
        recent_orgs=sum(1 for last_at, _ in counting if (now - last_at).days < window),
        org_count=len(counting),
        country_count=len({country for _, country in counting}),
        report_count=indicator.report_count,
        last_reported_at=indicator.last_reported_at,
        protected=protected,
        delisted_at=indicator.delisted_at,
    )


@dataclass(frozen=True)
class Derived:
    """What the rules give an indicator now: its status, removal reason, risk and counts."""

    status: str
    reason: str | None
    risk: str
    org_count: int
    country_count: int
    expires_at: datetime | None


def decide(
    policy: rules.Policy, indicator: Indicator, evidence: rules.Evidence, now: datetime
) -> tuple[str, str | None]:
    """Return the status and removal reason the rules give this indicator now."""
    if evidence.protected:
        return "protected", "protected"
    expires = rules.expiry(policy, indicator.kind, evidence.last_reported_at)
    if indicator.status in EXPORTED:
        if expires is None or expires <= now:
            return "expired", "expired"
        return indicator.status, None  # a listing ends by expiry, appeal or disconnection only
    if rules.should_list(policy, evidence, now):
        return "listed", None
    if indicator.status == "protected":  # no longer protected, not listed: back to reported
        return "reported", None
    return indicator.status, indicator.removal_reason


def derive(
    policy: rules.Policy, indicator: Indicator, evidence: rules.Evidence, now: datetime
) -> Derived:
    """The status, risk, counts and (while operators receive it) expiry the rules give now."""
    status, reason = decide(policy, indicator, evidence, now)
    verified = evidence.verified_at is not None and (
        evidence.verified_at + policy.ttl[indicator.kind] > now
    )
    return Derived(
        status=status,
        reason=reason,
        risk=rules.risk_tier(verified, evidence.org_count, evidence.country_count),
        org_count=evidence.org_count,
        country_count=evidence.country_count,
        expires_at=(
            rules.expiry(policy, indicator.kind, indicator.last_reported_at)
            if status in EXPORTED
            else None
        ),
    )


# --- the merged view: this node's own facts and every peer origin's --------------------------


@dataclass(frozen=True)
class Origin:
    """One origin's facts about a value: this node's own, or a peer's contribution."""

    country: str
    policy: str
    status: str
    risk: str
    categories: tuple[str, ...]
    report_count: int
    org_count: int
    first_reported: datetime | None
    last_reported: datetime | None
    expires_at: datetime | None
    removal_reason: str | None = None
    node: str | None = None  # None for this node itself

    def to_dict(self) -> dict[str, Any]:
        """The origin as lookups show it (datetimes left to the caller to render)."""
        return {
            "country": self.country,
            "policy": self.policy,
            "status": self.status,
            "risk": self.risk,
            "categories": list(self.categories),
            "report_count": self.report_count,
            "org_count": self.org_count,
            "first_reported": self.first_reported,
            "last_reported": self.last_reported,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class View:
    """What operators see of an indicator: the sum of its origins' facts."""

    kind: str
    value: str
    status: str
    risk: str
    removal_reason: str | None
    categories: tuple[str, ...]
    report_count: int
    org_count: int
    country_count: int
    first_reported: datetime | None
    last_reported: datetime | None
    expires_at: datetime | None
    origins: tuple[Origin, ...] = field(default=())

    @property
    def exported(self) -> bool:
        """Whether operators receive the value (some origin lists or disputes it)."""
        return self.status in EXPORTED

    @property
    def origins_text(self) -> str:
        """The origins as the blocklist writes them: `CC:policy;CC:policy`."""
        return ";".join(f"{origin.country}:{origin.policy}" for origin in self.origins)


def own_origin(indicator: Indicator, country: str) -> Origin:
    """This node's own facts about an indicator, as one origin."""
    return Origin(
        country=country,
        policy=OWN_POLICY,
        status=indicator.status,
        risk=indicator.risk,
        categories=tuple(sorted(indicator.category_counts)),
        report_count=indicator.report_count,
        org_count=indicator.org_count,
        first_reported=indicator.first_reported_at,
        last_reported=indicator.last_reported_at,
        expires_at=indicator.expires_at,
        removal_reason=indicator.removal_reason,
    )


def peer_origin(entry: dict[str, Any], policies: dict[str, str]) -> Origin:
    """A peer's contribution as one origin (a `foreign` entry: ISO text for its datetimes)."""
    return Origin(
        country=entry["country"],
        policy=policies.get(entry["country"], "block"),
        status=entry["status"],
        risk=entry["risk"],
        categories=tuple(entry["categories"]),
        report_count=entry["report_count"],
        org_count=entry["org_count"],
        first_reported=_when(entry["first_reported"]),
        last_reported=_when(entry["last_reported"]),
        expires_at=_when(entry["expires_at"]),
        removal_reason=entry["removal_reason"],
        node=entry["node"],
    )


def _when(text: str | None) -> datetime | None:
    """An ISO 8601 text of a `foreign` entry as an aware datetime."""
    return None if text is None else datetime.fromisoformat(text)


# The columns merged_view reads, the same a lookup reads straight from the driver: a query of
# just these gives rows it takes as indicators.
VIEW_COLUMNS = tuple(getattr(Indicator, name) for name in fast.IndicatorRow._fields)


def merged_view(indicator: Indicator, country: str, policies: dict[str, str]) -> View:
    """The merged view of an indicator: its own facts plus every peer origin that lists it.

    Counts are summed, categories united, the first report is the earliest and the last report
    and expiry the latest over the origins that list or dispute the value. This node's own
    status and risk win while it lists the value itself. A value this node protects is shown
    to nobody, whoever lists it.
    """
    own = own_origin(indicator, country)
    if indicator.status == "protected":
        return _view(indicator, own, "protected", "protected", [])
    peers = sorted(
        (peer_origin(entry, policies) for entry in indicator.foreign),
        key=lambda origin: (origin.country, origin.node or ""),
    )
    listing = [peer for peer in peers if peer.status in EXPORTED]
    if own.status in EXPORTED or not listing:
        status, reason = own.status, own.removal_reason
        if not listing and own.status not in EXPORTED:
            reason = reason or next((p.removal_reason for p in peers if p.removal_reason), None)
    else:
        status = "listed" if any(peer.status == "listed" for peer in listing) else "disputed"
        reason = None
    origins = ([own] if own.status in EXPORTED else []) + listing
    return _view(indicator, own, status, reason, origins)


def _view(
    indicator: Indicator, own: Origin, status: str, reason: str | None, origins: list[Origin]
) -> View:
    """Sum the origins that list a value (or take its own facts when none does)."""
    peers = [origin for origin in origins if origin.node is not None]
    counted = [own, *peers]
    own_listing = own.status in EXPORTED
    risk = own.risk if own_listing or not peers else max((p.risk for p in peers), key=RISKS.index)
    listing = origins or [own]
    return View(
        kind=indicator.kind,
        value=indicator.value,
        status=status,
        risk=risk,
        removal_reason=None if status in EXPORTED else reason,
        categories=tuple(sorted({c for origin in listing for c in origin.categories})),
        report_count=sum(origin.report_count for origin in counted),
        org_count=sum(origin.org_count for origin in counted),
        country_count=indicator.country_count + len(peers),
        first_reported=_extreme(min, [o.first_reported for o in counted]),
        last_reported=_extreme(max, [o.last_reported for o in counted]),
        expires_at=_extreme(max, [o.expires_at for o in origins]) if origins else None,
        origins=tuple(origins),
    )


def _extreme(pick, moments: list[datetime | None]) -> datetime | None:
    """The earliest or latest of the moments that are set."""
    known = [moment for moment in moments if moment is not None]
    return pick(known) if known else None


def shown(view: View) -> tuple:
    """The fields of a view operators receive; a change to any of them is a change to stamp."""
    return (
        view.status,
        view.risk,
        view.categories,
        view.first_reported,
        view.last_reported,
        view.expires_at,
        view.origins_text,
    )
