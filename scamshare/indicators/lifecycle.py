"""The indicator lifecycle: the only code that changes an indicator.

A local report, a peer's contribution, an expiry sweep, a disconnection, an appeal and a
protection all come here. Each gathers the facts the rules need (indicators/rules.py), applies
what they decide, and stamps every change operators would see with the next value of the
node-wide sequence, a history row and an audit entry; the stamp also stores the listing's
merged view and its download lines (indicators/render.py).

It is longer than most modules on purpose: every way an indicator changes is here, so that
none of them can skip a rule, a stamp or a history row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from scamshare import db
from scamshare import policy as rules_config
from scamshare.db import fast
from scamshare.indicators import render, rules
from scamshare.models import (
    Actor,
    AuditEntry,
    Counter,
    Indicator,
    IndicatorEvent,
    IndicatorOrganisation,
    Peer,
    ProtectedValue,
)

Key = tuple[str, str]  # (kind, canonical value)
# What a change to an indicator may write: its own facts, its state and its stored view.
WRITTEN = tuple(
    column.key
    for column in Indicator.__table__.columns
    if column.key not in ("id", "kind", "value", "facts", "created_at")
)
WRITE_CHUNK = 5000  # indicator rows per UPDATE executemany
CHUNK = 500  # values per IN list: well under SQLite's parameter limit, short for PostgreSQL


def chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    """Split a list into slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def by_kind(keys: Iterable[Key], size: int = CHUNK) -> Iterable[tuple[str, list[str]]]:
    """Group keys by kind, in sorted chunks, for one `kind = k AND value IN (...)` each.

    A row-value IN list, `(kind, value) IN (...)`, makes SQLite scan the whole table; one kind
    per query is one index range scan on both engines.
    """
    grouped: dict[str, list[str]] = defaultdict(list)
    for kind, value in sorted(set(keys)):
        grouped[kind].append(value)
    for kind, values in grouped.items():
        yield from ((kind, part) for part in chunks(values, size))


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


def full_list_since(session: Session) -> int:
    """The cursor before which no delta is served: values were rewritten after it (0: none).

    A revision that rewrites indicator values (0009: URLs without their scheme) sets it, since
    the old values have no row left whose removal a delta could carry.
    """
    name = "full_list_since"
    return session.scalar(select(Counter.value).where(Counter.name == name)) or 0


def peer_policies(session: Session) -> dict[str, str]:
    """How this node's operators treat each peer country's listings (block or warn)."""
    return dict(session.execute(select(Peer.country, Peer.policy)).tuples().all())


@dataclass
class Change:
    """One change operators would see, to stamp: the indicator after it, and what it was."""

    indicator: Indicator
    previous: str  # this node's own status before the change
    why: str
    own: bool = True  # False: only a peer origin's facts changed (not sent on to peers)
    # What operators see after the change, when the caller has it already: stamping moves only
    # the sequence and the times, which no view shows, so it stays the view to store.
    view: rules.View | None = None


class Lifecycle:
    """One unit of changes to indicators, by one actor at one moment, under the node's policy."""

    def __init__(self, session: Session, policy: rules_config.Policy, actor: Actor, now: datetime):
        """Work in the caller's session; the caller commits."""
        self.session = session
        self.policy = policy
        self.actor = actor
        self.now = now

    @cached_property
    def policies(self) -> dict[str, str]:
        """The peer policies, read once per unit of changes."""
        return peer_policies(self.session)

    def view(self, indicator: Indicator) -> rules.View:
        """What operators see of an indicator now."""
        return rules.merged_view(indicator, self.policy.country, self.policies)

    def shown(self, indicator: Indicator) -> tuple:
        """The fields of an indicator operators receive, to compare before and after a change."""
        return rules.shown(self.view(indicator))

    # --- finding and creating ------------------------------------------------------------------

    def lock(self, wanted: dict[Key, dict]) -> dict[Key, Indicator]:
        """Create the missing indicators (with the facts given) and lock every one named.

        Concurrent submissions of one value meet on the (kind, value) unique key and then queue
        on the row locks, so no report is lost and no count is off; inserting and locking in
        key order keeps two batches from deadlocking.
        """
        rows = [
            {"kind": kind, "value": value, "facts": facts}
            | {"created_at": self.now, "updated_at": self.now}
            for (kind, value), facts in sorted(wanted.items())
        ]
        table = Indicator.__table__
        statement = db.insert_for(self.session)(table).on_conflict_do_nothing(
            index_elements=["kind", "value"]
        )
        for part in chunks(rows, WRITE_CHUNK):
            self.session.execute(statement, part)
        found: dict[Key, Indicator] = {}
        for kind, part in by_kind(wanted):
            query = (
                select(Indicator)
                .where(Indicator.kind == kind, Indicator.value.in_(part))
                .order_by(Indicator.id)
                .with_for_update()
            )
            found.update(((i.kind, i.value), i) for i in self.session.scalars(query))
        return found

    def protected(self, values: list[tuple[Key, dict]]) -> set[Key]:
        """The keys among these (key, facts) that the node protects.

        A URL is protected when its registrable domain is; values normalisation marks unlistable
        (short codes, emergency numbers) are protected whatever the list says.
        """
        wanted = {lookup for key, facts in values for lookup in protection_keys(key, facts)}
        found = set()
        for kind, part in by_kind(wanted):
            query = select(ProtectedValue.kind, ProtectedValue.value).where(
                ProtectedValue.kind == kind, ProtectedValue.value.in_(part)
            )
            found.update(self.session.execute(query).tuples())
        return {
            key
            for key, facts in values
            if facts.get("listable") is False or not found.isdisjoint(protection_keys(key, facts))
        }

    def evidence(self, indicators: list[Indicator]) -> dict[int, rules_config.Evidence]:
        """What the rules need of each indicator: its corroboration and protection."""
        corroboration: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
        table = IndicatorOrganisation
        for part in chunks([indicator.id for indicator in indicators]):
            query = select(table.indicator_id, table.last_at, table.country).where(
                table.indicator_id.in_(part)
            )
            for indicator_id, last_at, country in self.session.execute(query):
                corroboration[indicator_id].append((last_at, country))
        protected = self.protected([((i.kind, i.value), i.facts) for i in indicators])
        return {
            i.id: rules.evidence_for(
                self.policy, i, corroboration[i.id], (i.kind, i.value) in protected, self.now
            )
            for i in indicators
        }

    # --- changing ------------------------------------------------------------------------------

    def settle(
        self, indicators: list[Indicator], why: str, before: dict[int, tuple] | None = None
    ) -> list[Change]:
        """Apply what the rules decide now to each indicator and stamp what operators would see.

        `before` holds each indicator's shown fields from before the caller changed its facts
        (a report's counts, a disconnection's reset); without it, they are taken now.
        """
        with self.session.no_autoflush:
            if before is None:
                before = {indicator.id: self.shown(indicator) for indicator in indicators}
            evidence = self.evidence(indicators)
            changes = [
                change
                for indicator in indicators
                if (change := self._apply_rules(indicator, evidence[indicator.id], before, why))
            ]
            self._stamp(changes)
        self._write(indicators)
        return changes

    def _apply_rules(
        self, indicator: Indicator, evidence: rules_config.Evidence, before: dict, why: str
    ) -> Change | None:
        """Give one indicator what the rules decide; the change to stamp, if operators see one."""
        previous = indicator.status
        derived = rules.derive(self.policy, indicator, evidence, self.now)
        _assign(
            indicator,
            status=derived.status,
            removal_reason=derived.reason,
            risk=derived.risk,
            org_count=derived.org_count,
            country_count=derived.country_count,
        )
        if derived.status in rules.EXPORTED:
            _assign(indicator, expires_at=derived.expires_at)
        after = self.view(indicator)
        if previous != derived.status or _visible_change(before[indicator.id], after):
            return Change(indicator, previous, why, view=after)
        return None

    def set_status(self, indicator: Indicator, status: str, reason: str | None, why: str) -> None:
        """Give an indicator a status a person decided (an appeal's outcome); stamp it."""
        self.set_statuses([(indicator, status, reason, why)])

    def set_statuses(self, decisions: list[tuple[Indicator, str, str | None, str]]) -> None:
        """Give indicators statuses decided outside the rules (indicator, status, reason, why).

        Appeals and disconnection notices decide a status themselves; the stamp is the same.
        """
        changes = []
        with self.session.no_autoflush:
            for indicator, status, reason, why in decisions:
                changes.append(Change(indicator, indicator.status, why))
                _assign(indicator, status=status, removal_reason=reason)
            self._stamp(changes)
        self._write([indicator for indicator, *_ in decisions])

    def merge_origins(
        self, indicators: list[Indicator], foreign: dict[int, list[dict]], why: str
    ) -> list[Change]:
        """Give indicators their peer origins' new facts; stamp those operators would see.

        `foreign` holds every peer origin's entry for each indicator, as rules.peer_origin
        reads them. This node's own facts and its own-origin version stay as they are: peers
        are sent only this node's own changes, so nothing loops.
        """
        changes = []
        with self.session.no_autoflush:
            for indicator in indicators:
                before = self.shown(indicator)
                indicator.foreign = foreign[indicator.id]
                after = self.view(indicator)
                if _visible_change(before, after):
                    changes.append(Change(indicator, indicator.status, why, own=False, view=after))
                else:
                    self.render(indicator, after)  # not shown (yet): keep the stored view current
            self._stamp(changes)
        self._write(indicators)
        return changes

    def refresh_origin(self, country: str, why: str) -> int:
        """Show one origin country's listings under this node's current policy for it.

        The stored lines name each origin's policy (block or warn); registering or removing a
        peer changes it, and operators receive the change as a new version of each listing.
        Returns how many listings changed.
        """
        self.__dict__.pop("policies", None)  # read the peer table afresh
        changed, last = 0, 0
        while True:
            query = (
                select(Indicator)
                .where(
                    Indicator.exported.is_(True),
                    Indicator.origins.contains(f"{country}:"),
                    Indicator.id > last,
                )
                .order_by(Indicator.id)
                .limit(WRITE_CHUNK)
                .with_for_update()
            )
            indicators = list(self.session.scalars(query))
            if not indicators:
                return changed
            last = indicators[-1].id
            stale = [i for i in indicators if self.view(i).origins_text != i.origins]
            with self.session.no_autoflush:
                self._stamp([Change(i, i.status, why, own=False) for i in stale])
            self._write(stale)
            changed += len(stale)

    def _stamp(self, changes: list[Change]) -> None:
        """Give each change the next sequence value, store its view, write history and audit."""
        if not changes:
            return
        first = reserve_sequences(self.session, len(changes))
        events, audits = [], []
        for offset, change in enumerate(changes):
            indicator = change.indicator
            shown_before = indicator.shown_status
            self._mark(change, first + offset)
            self.render(indicator, change.view)
            events.append(self._event(change, shown_before))
            if change.previous != indicator.status or shown_before != indicator.shown_status:
                audits.append(self._audit(change, shown_before))
        self.session.execute(insert(IndicatorEvent.__table__), events)
        if audits:
            self.session.execute(insert(AuditEntry.__table__), audits)

    def _write(self, indicators: list[Indicator]) -> None:
        """Write the indicators of one change in one statement per chunk (db/fast.py).

        A flush would send one statement per row (each row's changed columns differ) and cost
        several times the rest of a report batch; instead every column a change may touch is
        written for each indicator, and the indicators leave the session, which then holds
        nothing of them that the database does not.
        """
        ids = [indicator.id for indicator in indicators]
        rows = [[getattr(indicator, name) for name in WRITTEN] for indicator in indicators]
        fast.update_by_id(self.session, Indicator.__table__, WRITTEN, rows, ids)
        for indicator in indicators:
            if indicator in self.session:
                self.session.expunge(indicator)

    def _mark(self, change: Change, sequence: int) -> None:
        """Set the sequence and the times a change of status moves."""
        indicator = change.indicator
        indicator.sequence = sequence
        indicator.updated_at = self.now
        if change.own:
            indicator.origin_version = sequence
        if indicator.status == "listed" and change.previous not in ("listed", "disputed"):
            indicator.listed_at = self.now
        if indicator.status == "delisted" and change.previous != "delisted":
            indicator.delisted_at = self.now
        if indicator.status not in rules.EXPORTED:
            _assign(indicator, expires_at=None)

    def render(self, indicator: Indicator, view: rules.View | None = None) -> None:
        """Store what operators see of an indicator (its view, when known): view and lines."""
        _assign(indicator, **render.stored(view or self.view(indicator)))

    def _event(self, change: Change, shown_before: str) -> dict:
        """The history row of a change: own statuses, or what operators saw for a peer's."""
        indicator = change.indicator
        from_status, to_status = (
            (change.previous, indicator.status)
            if change.own
            else (shown_before, indicator.shown_status)
        )
        return {
            "indicator_id": indicator.id,
            "sequence": indicator.sequence,
            "at": self.now,
            "from_status": from_status,
            "to_status": to_status,
            "risk": indicator.shown_risk,
            "reason": change.why[:200],
            "organisation_name": self.actor.organisation_name,
        }

    def _audit(self, change: Change, shown_before: str) -> dict:
        """The audit entry of a change of status (own, or as operators see it)."""
        indicator = change.indicator
        status = indicator.status if change.own else indicator.shown_status
        return {
            "at": self.now,
            "organisation_id": self.actor.organisation_id,
            "organisation_name": self.actor.organisation_name,
            "key_id": self.actor.key_id,
            "action": f"indicator.{status}",
            "target": f"indicator:{indicator.id}",
            "outcome": "ok",
            "details": {
                "kind": indicator.kind,
                "value": indicator.value,
                "from": change.previous if change.own else shown_before,
                "to": status,
                "reason": change.why,
                "removal_reason": indicator.removal_reason,
                "sequence": indicator.sequence,
            },
        }


def protection_keys(key: Key, facts: dict) -> list[Key]:
    """The protected values that would protect a value: itself, and a URL's domain."""
    if key[0] == "url" and facts.get("domain"):
        return [key, ("domain", facts["domain"])]
    return [key]


def _visible_change(before: tuple, view: rules.View) -> bool:
    """Whether operators would see a difference: the value is or was exported, and shows anew."""
    after = rules.shown(view)
    exported = before[0] in rules.EXPORTED or after[0] in rules.EXPORTED
    return exported and after != before


def _assign(indicator: Indicator, **values) -> None:
    """Set the columns that differ, so that unchanged indicators stay out of the flush."""
    for name, value in values.items():
        if getattr(indicator, name) != value:
            setattr(indicator, name, value)
