"""Indicator state: evidence, decisions, and stamping exported changes with the node sequence."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from scamshare import db
from scamshare import policy as rules
from scamshare.models import (
    EXPORTED_STATUSES,
    AuditEntry,
    Counter,
    Indicator,
    IndicatorEvent,
)
from scamshare.services.audit import Actor

EXPORTED = frozenset(EXPORTED_STATUSES)
CHUNK = db.SQLITE_LIST_CHUNK  # bound IN-lists so that both engines keep their parameter limits


def chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    """Split a list into slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def by_kind(keys: Iterable[tuple[str, str]], size: int = CHUNK) -> Iterable[tuple[str, list[str]]]:
    """Group (kind, value) keys by kind, in chunks of `size`, for one query per chunk.

    Each query is `kind = k AND value IN (...)` (`= ANY(...)` on PostgreSQL: db.Raw.one_of). A
    row-value IN list, `(kind, value) IN ((..), ..)`, makes SQLite scan the whole table and
    PostgreSQL plan for long; one kind per query is one index range scan on both.
    """
    grouped: dict[str, list[str]] = defaultdict(list)
    for kind, value in sorted(set(keys)):
        grouped[kind].append(value)
    for kind, values in grouped.items():
        for part in chunks(values, size):
            yield kind, part


_COLUMNS = tuple(Indicator.__table__.columns)


class IndicatorState:
    """An indicator row as plain attributes, for the bulk paths that skip the ORM.

    settle and stamp read and change these exactly as they do mapped `Indicator` objects, and
    write the changed columns themselves.
    """

    def __init__(self, values: dict):
        """Take the row's columns by name."""
        self.__dict__ = values


def load_states(
    session: Session, keys: Iterable[tuple[str, str]], lock: bool
) -> dict[tuple[str, str], IndicatorState]:
    """Read the indicators of these (kind, value) keys, locking them in id order if asked."""
    raw = db.Raw(session)
    names = [column.name for column in _COLUMNS]
    readers = [(i, raw.reader(column)) for i, column in enumerate(_COLUMNS) if raw.reader(column)]
    columns = ", ".join(f'"{name}"' for name in names)
    # Row locks on PostgreSQL; SQLite's writer already holds the whole database.
    lock_clause = " FOR UPDATE" if lock and not raw.sqlite else ""
    found: dict[tuple[str, str], IndicatorState] = {}
    for kind, part in by_kind(keys, raw.chunk):
        condition, parameters = raw.one_of("value", part)
        statement = (
            f"SELECT {columns} FROM indicators WHERE kind = ? "
            f"AND {condition} ORDER BY id{lock_clause}"
        )
        for row in raw.all(statement, (kind, *parameters)):
            values = list(row)
            for position, read in readers:
                values[position] = read(values[position])
            state = IndicatorState(dict(zip(names, values, strict=True)))
            found[(state.kind, state.value)] = state
    return found


# What a new indicator starts with besides its key, facts and times; other columns start NULL.
NEW_VALUES = {
    "status": "reported",
    "risk": "low",
    "report_count": 0,
    "spoofed_count": 0,
    "verified_count": 0,
    "org_count": 0,
    "country_count": 0,
    "category_counts": {},
    "channel_counts": {},
    "sequence": 0,
    "origin_version": 0,
    "foreign": [],
    "exported": False,
}
_NEW_TEMPLATE = dict.fromkeys(column.name for column in _COLUMNS)


def new_state(key: tuple[str, str], facts: dict, now: datetime) -> IndicatorState:
    """The state of an indicator about to be created (its id comes once it is inserted)."""
    return IndicatorState(
        {
            **_NEW_TEMPLATE,
            **NEW_VALUES,
            "kind": key[0],
            "value": key[1],
            # Fresh containers: NEW_VALUES' own are shared by every state.
            "category_counts": {},
            "channel_counts": {},
            "foreign": [],
            "facts": facts,
            "created_at": now,
            "updated_at": now,
        }
    )


def _set(indicator, name: str, value) -> None:
    """Give an indicator a value its caller writes itself (a mapped object: as loaded state)."""
    if isinstance(indicator, Indicator):
        set_committed_value(indicator, name, value)
    else:
        setattr(indicator, name, value)


def reserve_sequences(session: Session, count: int) -> int:
    """Take `count` consecutive values of the node-wide sequence; return the first.

    The counter row stays locked until the transaction commits, so sequence values become
    visible in the order they were taken: a reader holding cursor N never misses a change
    that commits later with a smaller number.
    """
    row = session.execute(
        update(Counter)
        .where(Counter.name == "sequence")
        .values(value=Counter.value + count)
        .returning(Counter.value)
    ).scalar_one()
    return row - count + 1


def current_sequence(session: Session) -> int:
    """Return the newest sequence value taken so far."""
    return session.scalar(select(Counter.value).where(Counter.name == "sequence")) or 0


def protected_keys(session: Session, indicators: list[Indicator]) -> set[tuple[str, str]]:
    """Return the (kind, value) pairs among these indicators that the node protects.

    A URL is protected when its registrable domain is; values normalisation marks unlistable
    (short codes, emergency numbers) are protected whatever the list says.
    """
    wanted: set[tuple[str, str]] = set()
    for indicator in indicators:
        wanted.add((indicator.kind, indicator.value))
        if indicator.kind == "url" and indicator.facts.get("domain"):
            wanted.add(("domain", indicator.facts["domain"]))
    found: set[tuple[str, str]] = set()
    raw = db.Raw(session)
    for kind, part in by_kind(wanted, raw.chunk):
        condition, parameters = raw.one_of("value", part)
        found.update(
            raw.all(
                f"SELECT kind, value FROM protected_values WHERE kind = ? AND {condition}",
                (kind, *parameters),
            )
        )
    protected = set()
    for indicator in indicators:
        key = (indicator.kind, indicator.value)
        domain = ("domain", indicator.facts.get("domain", ""))
        if key in found or domain in found or indicator.facts.get("listable") is False:
            protected.add(key)
    return protected


def gather_evidence(
    session: Session,
    policy: rules.Policy,
    indicators: list[Indicator],
    now: datetime,
    known: dict[int, list[tuple[datetime, str]]] | None = None,
) -> dict[int, rules.Evidence]:
    """Collect what the rules need for each indicator, in one query per chunk."""
    rows: dict[int, list[tuple[datetime, str]]] = defaultdict(list, known or {})
    ids = [indicator.id for indicator in indicators if indicator.id not in rows]
    raw = db.Raw(session)
    for part in chunks(ids, raw.chunk):
        condition, parameters = raw.one_of("indicator_id", part)
        for indicator_id, last_at, country in raw.all(
            f"SELECT indicator_id, last_at, country FROM indicator_organisations WHERE {condition}",
            parameters,
        ):
            rows[indicator_id].append((db.read_when(last_at), country))
    protected = protected_keys(session, indicators)
    return {
        indicator.id: evidence_for(
            policy,
            indicator,
            rows[indicator.id],
            (indicator.kind, indicator.value) in protected,
            now,
        )
        for indicator in indicators
    }


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
    counting = (
        corroboration
        if reset_at is None
        else [(last_at, country) for last_at, country in corroboration if last_at > reset_at]
    )
    verified_at = indicator.last_verified_at
    if reset_at is not None and verified_at is not None:
        # A verified report about a disconnected number's old holder must not list its next.
        verified_at = verified_at if verified_at > reset_at else None
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


def decide(
    policy: rules.Policy, indicator: Indicator, evidence: rules.Evidence, now: datetime
) -> tuple[str, str | None]:
    """Return the status and removal reason the rules give this indicator now."""
    if evidence.protected:
        return "protected", "protected"
    expires = rules.expiry(policy, indicator.kind, evidence.last_reported_at)
    lapsed = expires is None or expires <= now
    if indicator.status in ("listed", "disputed"):
        if lapsed:
            return "expired", "expired"
        return indicator.status, None  # a listing ends by expiry, appeal or disconnection only
    if rules.should_list(policy, evidence, now):
        return "listed", None
    if indicator.status == "protected":  # no longer protected, not listed: back to reported
        return "reported", None
    return indicator.status, indicator.removal_reason


@dataclass
class Change:
    """One exported-state change to stamp."""

    indicator: Indicator
    status: str
    reason: str | None
    risk: str
    why: str


def is_exported(status: str, foreign: list[dict]) -> bool:
    """Operators receive a value listed or disputed here or by any peer origin."""
    return status in EXPORTED or any(entry["status"] in EXPORTED for entry in foreign)


def exported_view(indicator: Indicator) -> tuple:
    """The fields operators receive; a change to any of them is a change to stamp."""
    return (
        indicator.status,
        indicator.risk,
        tuple(sorted(indicator.category_counts)),
        indicator.first_reported_at,
        indicator.last_reported_at,
        indicator.expires_at,
    )


def settle(
    session: Session,
    policy: rules.Policy,
    indicators: list[Indicator],
    actor: Actor,
    now: datetime,
    why: str,
    before: dict[int, tuple] | None = None,
    changed: tuple[str, ...] = (),
    known: dict[int, list[tuple[datetime, str]]] | None = None,
) -> list[Change]:
    """Re-derive status, risk and expiry of indicators and stamp whatever operators would see.

    `before` holds each indicator's exported view from before the caller changed its counts;
    without it, the view at the time of the call is the baseline. `changed` names columns
    the caller changed on these `IndicatorState`s and leaves to settle's one UPDATE; `known`
    holds the whole corroboration (last report, country per organisation) of indicators the
    caller has just created, complete with their counts (`settle_new`): it need not be read
    back, and their rows need writing only where settle's outcome differs from what was inserted.
    """
    if before is None:
        before = {indicator.id: exported_view(indicator) for indicator in indicators}
    evidence = gather_evidence(session, policy, indicators, now, known)
    changes = []
    derived = []
    for indicator in indicators:
        status, reason, risk, values = derive(policy, indicator, evidence[indicator.id], now)
        exported = status in EXPORTED
        view = exported_view(indicator)
        after = (status, risk, *view[2:5], values["expires_at"])
        if status != indicator.status or (exported and after != before[indicator.id]):
            changes.append(Change(indicator, status, reason, risk, why))
        else:
            values["risk"] = risk
        derived.append((indicator, values))
    _write_derived(session, derived, changed, set(known or ()))
    stamp(session, changes, actor, now)
    return changes


def derive(
    policy: rules.Policy, indicator: Indicator, evidence: rules.Evidence, now: datetime
) -> tuple[str, str | None, str, dict]:
    """The status, removal reason and risk the rules give an indicator, and its derived columns.

    The derived columns are its organisation and country counts and, while operators receive
    it, when its listing lapses.
    """
    status, reason = decide(policy, indicator, evidence, now)
    verified = evidence.verified_at is not None and (
        evidence.verified_at + policy.ttl[indicator.kind] > now
    )
    risk = rules.risk_tier(verified, evidence.org_count, evidence.country_count)
    values = {
        "org_count": evidence.org_count,
        "country_count": evidence.country_count,
        "expires_at": (
            rules.expiry(policy, indicator.kind, indicator.last_reported_at)
            if status in EXPORTED
            else None
        ),
    }
    return status, reason, risk, values


def settle_new(
    policy: rules.Policy,
    state: IndicatorState,
    corroboration: list[tuple[datetime, str]],
    now: datetime,
) -> str:
    """Give an indicator about to be created the derived columns settle would write.

    It is then inserted complete. Settling it afterwards (with `known`) changes nothing unless
    its status changes, which needs a stamp: a verified report lists it, or it is protected.
    Returns the status the rules give it if it is not protected.
    """
    evidence = evidence_for(policy, state, corroboration, False, now)
    status, _reason, risk, values = derive(policy, state, evidence, now)
    state.__dict__.update(values)
    if status == state.status:
        state.risk = risk
    return status


DERIVED = ("org_count", "country_count", "expires_at", "risk")


def _write_derived(
    session: Session,
    derived: list[tuple[Indicator, dict]],
    changed: tuple[str, ...],
    inserted: set[int],
) -> None:
    """Write settle's derived columns in one executemany UPDATE rather than a flush per object.

    Indicators whose four columns neither differ nor have pending changes are left out,
    unless the caller changed other columns of them (`changed`), which go in the same UPDATE;
    indicators the caller has just inserted complete (`inserted`) hold no such change.
    Mapped objects then hold the written values as loaded state, so a later flush does not send
    them again (stamp's own changes still flush).
    """
    columns = DERIVED + changed
    written = []
    for indicator, values in derived:
        pending: dict = {}
        if changed and type(indicator) is IndicatorState and indicator.id not in inserted:
            indicator.__dict__.update(values)  # the caller's states: written in any case
            written.append(indicator)
            continue
        if isinstance(indicator, Indicator):
            state = inspect(indicator)
            if not state.persistent:
                for name, value in values.items():  # not in the database yet: the flush inserts it
                    setattr(indicator, name, value)
                continue
            pending = state.committed_state
        current = {name: getattr(indicator, name) for name in DERIVED}
        wanted = {**current, **values}
        if wanted == current and not any(name in pending for name in DERIVED):
            continue
        for name in DERIVED:
            _set(indicator, name, wanted[name])
        written.append(indicator)
    write_states(session, columns, written)


def write_states(session: Session, columns: tuple[str, ...], indicators: list) -> None:
    """Write these columns of indicators (mapped or states) from their attributes, by id."""
    _update(session, columns, [[getattr(i, name) for name in columns] + [i.id] for i in indicators])


def _update(session: Session, columns: tuple[str, ...], rows: list[list]) -> None:
    """UPDATE indicators SET the columns WHERE id = the last value, for every row (in place)."""
    if not rows:
        return
    raw = db.Raw(session)
    table = Indicator.__table__
    writers = [raw.writer(table.c[name]) for name in columns] + [None]
    if any(writers):
        rows = [
            [
                value if write is None else write(value)
                for value, write in zip(row, writers, strict=True)
            ]
            for row in rows
        ]
    assignments = ", ".join(f'"{name}" = ?' for name in columns)
    raw.many(f"UPDATE indicators SET {assignments} WHERE id = ?", rows)


_STAMPED = (
    "sequence",
    "origin_version",
    "status",
    "exported",
    "removal_reason",
    "risk",
    "updated_at",
    "listed_at",
    "delisted_at",
    "expires_at",
    "categories",
    "csv_head",
    "csv_tail",
)


def stamp(session: Session, changes: list[Change], actor: Actor, now: datetime) -> None:
    """Apply changes, give each the next sequence value, and write history and audit entries."""
    if not changes:
        return
    from scamshare.services import blocklist  # blocklist reads the sequence through this module

    session.flush()  # mapped indicators and their callers' pending changes reach the database
    first = reserve_sequences(session, len(changes))
    events, audits = [], []
    for offset, change in enumerate(changes):
        indicator = change.indicator
        previous = indicator.status
        sequence = first + offset
        keeps_listing = change.status in ("listed", "disputed")
        values = {
            "sequence": sequence,
            "origin_version": sequence,
            "status": change.status,
            "exported": is_exported(change.status, indicator.foreign),
            "removal_reason": change.reason,
            "risk": change.risk,
            "updated_at": now,
            "listed_at": (
                now if change.status == "listed" and previous != "disputed" else indicator.listed_at
            ),
            "delisted_at": now if change.status == "delisted" else indicator.delisted_at,
            "expires_at": indicator.expires_at if keeps_listing else None,
            # The blocklist's category text and CSV line, stored: rendering them per row cost
            # most of a download.
            "categories": ";".join(sorted(indicator.category_counts)),
        }
        values["csv_head"], values["csv_tail"] = (
            blocklist.stamped_parts(
                change.status,
                change.risk,
                values["categories"],
                indicator.first_reported_at,
                indicator.last_reported_at,
                values["expires_at"],
            )
            if keeps_listing
            else (None, None)
        )
        for name, value in values.items():
            _set(indicator, name, value)
        events.append(
            {
                "indicator_id": indicator.id,
                "sequence": indicator.sequence,
                "at": now,
                "from_status": previous,
                "to_status": change.status,
                "risk": change.risk,
                "reason": change.why,
                "organisation_name": actor.organisation_name,
            }
        )
        if previous != change.status:
            audits.append(
                {
                    "at": now,
                    "organisation_id": actor.organisation_id,
                    "organisation_name": actor.organisation_name,
                    "key_id": actor.key_id,
                    "action": f"indicator.{change.status}",
                    "target": f"indicator:{indicator.id}",
                    "outcome": "ok",
                    "details": {
                        "kind": indicator.kind,
                        "value": indicator.value,
                        "from": previous,
                        "to": change.status,
                        "reason": change.why,
                        "removal_reason": change.reason,
                        "sequence": indicator.sequence,
                    },
                }
            )
    write_states(session, _STAMPED, [change.indicator for change in changes])
    session.execute(insert(IndicatorEvent), events)
    if audits:
        session.execute(insert(AuditEntry), audits)


def restamp(session: Session, changes: list[dict], now: datetime, why: str) -> None:
    """Give merged-view changes (a peer's contribution) the next local sequence values.

    Each change names an indicator `id` with its new `foreign` and `exported` values (and its
    unchanged `status` and `risk` for the history row). The own-origin version is left alone:
    this node's peers are sent only its own changes.
    """
    if not changes:
        return
    first = reserve_sequences(session, len(changes))
    updates, events = [], []
    for offset, change in enumerate(changes):
        sequence = first + offset
        updates.append(
            {
                "id": change["id"],
                "foreign": change["foreign"],
                "exported": change["exported"],
                "sequence": sequence,
                "updated_at": now,
            }
        )
        events.append(
            {
                "indicator_id": change["id"],
                "sequence": sequence,
                "at": now,
                "from_status": change["status"],
                "to_status": change["status"],
                "risk": change["risk"],
                "reason": why,
                "organisation_name": None,
            }
        )
    session.execute(update(Indicator), updates)
    session.execute(insert(IndicatorEvent), events)
