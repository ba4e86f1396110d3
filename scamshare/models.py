"""Typed SQLAlchemy models: organisations, keys, audit log, reports and indicators.

One module for every table (about 400 lines), so that the schema reads in one place and
migrations are compared with it whole (tests/test_migrations.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from scamshare.clock import utcnow
from schemas import reports as _report_schemas

ROLES = ("regulator", "operator", "law_enforcement", "peer_node", "admin")

# BIGINT on PostgreSQL, but INTEGER on SQLite, where only "INTEGER PRIMARY KEY" autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every engine (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        """Refuse naive datetimes and store everything in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        """Return aware UTC datetimes whatever the engine gave back."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the project's column types."""

    type_annotation_map: ClassVar[dict] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Organisation(Base):
    """A regulator, operator, law-enforcement body, peer node or admin of this node."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    keys: Mapped[list[ApiKey]] = relationship(back_populates="organisation")


class ApiKey(Base):
    """An API key: only its hash is stored; the secret is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship(back_populates="keys", lazy="joined")


class User(Base):
    """A person who signs in to the console; they act as their organisation, with its role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # Raised at sign-out: a session cookie of an earlier generation no longer signs anyone in.
    session_generation: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship(lazy="joined")


@dataclass(frozen=True)
class Actor:
    """Who acted: an organisation through a key, or the node itself (CLI, scheduler)."""

    organisation_id: int | None = None
    organisation_name: str | None = None
    key_id: str | None = None


class AuditEntry(Base):
    """One append-only record of who did what, when, and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_id", "action", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    key_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- reports, indicators and their lifecycle ---------------------------------------------------

# The taxonomies are part of the wire contract; the schemas own them.
KINDS, CATEGORIES, CHANNELS = (
    _report_schemas.KINDS,
    _report_schemas.CATEGORIES,
    _report_schemas.CHANNELS,
)
STATUSES = ("reported", "listed", "disputed", "delisted", "expired", "protected")
# Statuses an operator blocks or warns on; every other status is a removal.
EXPORTED_STATUSES = ("listed", "disputed")
REMOVAL_REASONS = ("delisted", "expired", "disconnected", "protected")
RISKS = ("low", "medium", "high", "very_high")


class Indicator(Base):
    """Every report of one (kind, canonical value), aggregated, with its lifecycle state."""

    __tablename__ = "indicators"
    __table_args__ = (
        UniqueConstraint("kind", "value", name="uq_indicators_kind_value"),
        Index("ix_indicators_sequence", "sequence"),
        Index("ix_indicators_status_expires", "status", "expires_at"),
        # The console's review queue (most organisations, then most recent) and its per-kind
        # counts of what operators receive, read without touching the rows (migration 0011).
        Index("ix_indicators_review", "status", "org_count", "last_reported_at"),
        Index("ix_indicators_exported_kind", "exported", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default="reported")
    removal_reason: Mapped[str | None] = mapped_column(String(16))
    risk: Mapped[str] = mapped_column(String(16), default="low")
    report_count: Mapped[int] = mapped_column(default=0)
    spoofed_count: Mapped[int] = mapped_column(default=0)
    verified_count: Mapped[int] = mapped_column(default=0)
    org_count: Mapped[int] = mapped_column(default=0)
    country_count: Mapped[int] = mapped_column(default=0)
    category_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channel_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_reported_at: Mapped[datetime | None]
    last_reported_at: Mapped[datetime | None]
    last_verified_at: Mapped[datetime | None]
    listed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    delisted_at: Mapped[datetime | None]
    # Reports observed before this moment no longer count (the number was disconnected).
    reset_at: Mapped[datetime | None]
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    # The sequence value of this node's own last exported change: what peers are sent.
    origin_version: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    # Peer origins' exported contributions to this value, as the merged view shows them.
    foreign: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # What operators see of the value, as of its last stamp (indicators.rules.merged_view):
    # whether they receive it, its status and risk over every origin, the categories of every
    # origin that lists it (sorted, joined with `;`), its origins with this node's policy for
    # each (`CC:policy;...`), and its blocklist CSV line and JSON item (indicators.render),
    # stored because rendering a million rows per download cost ten times the database's dump.
    exported: Mapped[bool] = mapped_column(default=False, index=True)
    shown_status: Mapped[str] = mapped_column(String(16), default="reported")
    shown_risk: Mapped[str] = mapped_column(String(16), default="low")
    categories: Mapped[str | None] = mapped_column(Text)
    origins: Mapped[str | None] = mapped_column(Text)
    csv_line: Mapped[str | None] = mapped_column(Text)
    json_item: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IndicatorOrganisation(Base):
    """One organisation's corroboration of one indicator: when it first and last reported it."""

    __tablename__ = "indicator_organisations"

    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    report_count: Mapped[int] = mapped_column(default=0)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class Report(Base):
    """One organisation's statement about one value; it never leaves this node."""

    __tablename__ = "reports"
    # The console's chart counts reports per day from this index alone (migration 0011).
    __table_args__ = (Index("ix_reports_received_extracted", "received_at", "extracted_from_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    submitted_value: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    observed_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    evidence_ref: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(2))
    verified: Mapped[bool] = mapped_column(default=False)
    spoofed_caller_id: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)
    # The raw SMS text of a message report stays here, never in the indicator.
    message_text: Mapped[str | None] = mapped_column(Text)
    extracted_from_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))


class IndicatorEvent(Base):
    """One change of an indicator's exported state: its history and the operator delta feed."""

    __tablename__ = "indicator_events"
    # The console's chart counts listings, expiries and delistings per day from this index.
    __table_args__ = (Index("ix_indicator_events_status_at", "to_status", "at", "from_status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    risk: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200))
    organisation_name: Mapped[str | None] = mapped_column(String(200))


class Counter(Base):
    """Node-wide monotonic counters; `sequence` stamps every exported change."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class MessageBand(Base):
    """A similarity-signature band of a message indicator, for indexed near-duplicate lookup."""

    __tablename__ = "message_bands"
    # Covering: a check reads the indicators of a band from the index alone, newest first.
    __table_args__ = (Index("ix_message_bands_band", "band", "indicator_id"),)

    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    band: Mapped[str] = mapped_column(String(32), primary_key=True)


class IdempotencyRecord(Base):
    """The first response to a request sent with an Idempotency-Key, to replay on retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("organisation_id", "key", name="uq_idempotency_org_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProtectedValue(Base):
    """A value this node never lists: emergency and short numbers, hotlines, official names."""

    __tablename__ = "protected_values"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_protected_kind_value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(2048))
    label: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32), default="manual")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appeal(Base):
    """A number holder's dispute of a listing, filed by an operator or regulator."""

    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_status_filed", "status", "filed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    reason: Mapped[str] = mapped_column(Text)
    contact_ref: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class Disconnection(Base):
    """An operator's notice that a number was disconnected (and may be recycled)."""

    __tablename__ = "disconnections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    disconnected_on: Mapped[datetime]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    listings_ended: Mapped[int] = mapped_column(default=0)


class Lease(Base):
    """A named lease in the database: whoever holds it unexpired runs the node's jobs."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    acquired_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


# --- federation ---------------------------------------------------------------------------------

POLICIES = ("block", "warn")


class Peer(Base):
    """Another member state's node: where to push, how to verify it, how far it has caught up."""

    __tablename__ = "peers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(100), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    url: Mapped[str] = mapped_column(String(500))
    public_key: Mapped[str] = mapped_column(String(100))
    # How this node's operators treat the listings of that origin.
    policy: Mapped[str] = mapped_column(String(8), default="block")
    # The highest own-origin version the peer acknowledged: pushing resumes after it.
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # After the peer rotates its key: the old one, still accepted until previous_key_until.
    previous_public_key: Mapped[str | None] = mapped_column(String(100))
    previous_key_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contribution(Base):
    """One peer origin's aggregated view of one indicator, exactly as that origin sent it."""

    __tablename__ = "contributions"
    __table_args__ = (
        UniqueConstraint("origin_node", "kind", "value", name="uq_contributions_origin_kind_value"),
        Index("ix_contributions_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    origin_node: Mapped[str] = mapped_column(String(100))
    origin_country: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16))
    removal_reason: Mapped[str | None] = mapped_column(String(16))
    risk: Mapped[str] = mapped_column(String(16))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    report_count: Mapped[int] = mapped_column(default=0)
    org_count: Mapped[int] = mapped_column(default=0)
    first_reported_at: Mapped[datetime | None]
    last_reported_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    origin_version: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReceivedBatch(Base):
    """A batch id already applied from a sender: a replay of it is refused."""

    __tablename__ = "received_batches"

    sender: Mapped[str] = mapped_column(String(100), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
