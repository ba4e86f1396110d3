"""scheme-free urls: one URL indicator per host and path, whatever the scheme

Revision ID: 0009
Revises: 0008

URL values lose their scheme and a trailing slash (scamshare.normalise.url): `https://x.top/a`,
`http://x.top/a/` and `x.top/a` are one value, `x.top/a`. This revision rewrites every URL
indicator to its new value. Indicators that collapse to one value are merged into the oldest:
its reports, history, appeals and per-organisation corroboration gain the others' (a second
organisation's report of the http form now corroborates the https form), its counts and dates
are their sums and extremes, and each peer origin's contributions are merged per origin. Then
the lifecycle applies the rules to every rewritten indicator and stamps it (next sequence value,
history row, audit entry, stored download lines), as any other change: two half-corroborated
spellings may list together.

Operators holding a list from before this revision hold the old values, which no delta removes
(the rows carrying them are gone): a delta from a cursor older than the stamps of this revision
is refused with `422 full_list_needed` (the `full_list_since` counter), so every client takes
the full list once.

The lifecycle works on the models of this code; a later revision that changes the indicators
table must keep them loadable as they are here, or come before this one.

Downgrade keeps the new values (a merged indicator cannot be split again) and removes only the
counter.
"""

from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from scamshare import config as node_config
from scamshare import normalise as norm
from scamshare.indicators import lifecycle
from scamshare.models import (
    RISKS,
    Actor,
    Appeal,
    Contribution,
    Counter,
    Indicator,
    IndicatorEvent,
    IndicatorOrganisation,
    Report,
)
from scamshare.policy import Policy

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

WHY = 'URL without its scheme (revision 0009)'
FULL_LIST_SINCE = 'full_list_since'
_CHUNK = 1000
# Which status a merged indicator keeps: the one operators see first.
_SEVERITY = ('reported', 'expired', 'delisted', 'protected', 'disputed', 'listed')


def upgrade() -> None:
    """Rewrite URL values without their scheme, merge the ones that meet, stamp every one."""
    session = Session(bind=op.get_bind(), autoflush=False)
    groups: dict[str, list[int]] = defaultdict(list)
    for indicator_id, value in session.execute(
        sa.select(Indicator.id, Indicator.value).where(Indicator.kind == 'url').order_by(Indicator.id)
    ):
        try:
            groups[norm.normalise('url', value).value].append(indicator_id)
        except norm.NormalisationError:
            continue  # a value this code cannot read stays as it is
    survivors = []
    for new_value, ids in groups.items():
        current = session.scalars(sa.select(Indicator).where(Indicator.id.in_(ids))).all()
        if len(current) == 1 and current[0].value == new_value:
            continue
        survivors.append(_merge(session, new_value, sorted(current, key=lambda i: i.id)))
    if not survivors:
        return
    attributes = op.get_context().config.attributes
    policy = attributes.get('policy') or Policy.from_config(node_config.load())
    life = lifecycle.Lifecycle(session, policy, Actor(organisation_name='node'), _now())
    for part in lifecycle.chunks(survivors, _CHUNK):
        session.expire_all()
        indicators = list(session.scalars(sa.select(Indicator).where(Indicator.id.in_(part))))
        # Every rewritten value is a change operators must receive: its line holds the value.
        life.settle(indicators, WHY, before={indicator.id: (None,) for indicator in indicators})
    sequence = lifecycle.current_sequence(session)
    statement = sa.update(Counter).where(Counter.name == FULL_LIST_SINCE).values(value=sequence)
    if session.execute(statement).rowcount == 0:
        session.execute(sa.insert(Counter).values(name=FULL_LIST_SINCE, value=sequence))
    session.flush()


def _now() -> datetime:
    """The moment of this revision, aware UTC."""
    return datetime.now(UTC)


def _merge(session: Session, new_value: str, indicators: list[Indicator]) -> int:
    """Merge indicators of one new value into the oldest; give it the value; return its id."""
    survivor, others = indicators[0], indicators[1:]
    other_ids = [other.id for other in others]
    old_values = [indicator.value for indicator in indicators]
    if others:
        for model in (Report, IndicatorEvent, Appeal):
            session.execute(
                sa.update(model)
                .where(model.indicator_id.in_(other_ids))
                .values(indicator_id=survivor.id)
            )
        _merge_corroboration(session, survivor.id, [i.id for i in indicators])
    values = _merged_facts(indicators)
    foreign = _merge_contributions(session, new_value, old_values)
    if foreign is not None:
        values['foreign'] = foreign
    if others:
        session.execute(sa.delete(Indicator).where(Indicator.id.in_(other_ids)))
    session.execute(
        sa.update(Indicator)
        .where(Indicator.id == survivor.id)
        .values(value=new_value, facts=norm.normalise('url', new_value).facts, **values)
    )
    session.expunge_all()  # what the session held of these rows is what they were
    return survivor.id


def _merged_facts(indicators: list[Indicator]) -> dict:
    """The survivor's own facts: sums, extremes, and the status operators see first."""
    if len(indicators) == 1:
        return {}
    first = max(indicators, key=lambda i: _SEVERITY.index(i.status))
    return {
        'status': first.status,
        'removal_reason': first.removal_reason,
        'risk': max((i.risk for i in indicators), key=RISKS.index),
        'report_count': sum(i.report_count for i in indicators),
        'spoofed_count': sum(i.spoofed_count for i in indicators),
        'verified_count': sum(i.verified_count for i in indicators),
        'category_counts': _summed(i.category_counts for i in indicators),
        'channel_counts': _summed(i.channel_counts for i in indicators),
        'first_reported_at': _extreme(min, (i.first_reported_at for i in indicators)),
        'last_reported_at': _extreme(max, (i.last_reported_at for i in indicators)),
        'last_verified_at': _extreme(max, (i.last_verified_at for i in indicators)),
        'listed_at': _extreme(min, (i.listed_at for i in indicators)),
        'expires_at': _extreme(max, (i.expires_at for i in indicators)),
        'delisted_at': _extreme(max, (i.delisted_at for i in indicators)),
        'reset_at': _extreme(max, (i.reset_at for i in indicators)),
        'sequence': max(i.sequence for i in indicators),
        'origin_version': max(i.origin_version for i in indicators),
    }


def _merge_corroboration(session: Session, survivor_id: int, ids: list[int]) -> None:
    """One corroboration row per organisation: its reports summed, its first and last kept."""
    table = IndicatorOrganisation
    merged: dict[int, dict] = {}
    for row in session.scalars(sa.select(table).where(table.indicator_id.in_(ids))):
        entry = merged.get(row.organisation_id)
        if entry is None:
            merged[row.organisation_id] = {
                'indicator_id': survivor_id,
                'organisation_id': row.organisation_id,
                'country': row.country,
                'report_count': row.report_count,
                'first_at': row.first_at,
                'last_at': row.last_at,
            }
        else:
            entry['report_count'] += row.report_count
            entry['first_at'] = min(entry['first_at'], row.first_at)
            entry['last_at'] = max(entry['last_at'], row.last_at)
    session.expunge_all()
    session.execute(sa.delete(table).where(table.indicator_id.in_(ids)))
    if merged:
        session.execute(sa.insert(table), list(merged.values()))


def _merge_contributions(session: Session, new_value: str, old_values: list[str]) -> list | None:
    """Each peer origin's contributions of the old values as one of the new; the foreign list.

    Returns the survivor's peer-origin entries as federation.store.entry_of writes them, or
    None when no peer contributed any of the values.
    """
    rows = session.scalars(
        sa.select(Contribution)
        .where(Contribution.kind == 'url', Contribution.value.in_(old_values))
        .order_by(Contribution.id)
    ).all()
    if not rows:
        return None
    by_origin: dict[str, list[Contribution]] = defaultdict(list)
    for row in rows:
        by_origin[row.origin_node].append(row)
    for contributions in by_origin.values():
        keep, rest = contributions[0], contributions[1:]
        first = max(contributions, key=lambda c: _SEVERITY.index(c.status))
        values = {
            'value': new_value,
            'status': first.status,
            'removal_reason': first.removal_reason,
            'risk': max((c.risk for c in contributions), key=RISKS.index),
            'categories': sorted({name for c in contributions for name in c.categories}),
            'report_count': sum(c.report_count for c in contributions),
            'org_count': sum(c.org_count for c in contributions),
            'first_reported_at': _extreme(min, (c.first_reported_at for c in contributions)),
            'last_reported_at': _extreme(max, (c.last_reported_at for c in contributions)),
            'expires_at': _extreme(max, (c.expires_at for c in contributions)),
            'origin_version': max(c.origin_version for c in contributions),
        }
        session.expunge_all()
        if rest:
            session.execute(
                sa.delete(Contribution).where(Contribution.id.in_([c.id for c in rest]))
            )
        session.execute(sa.update(Contribution).where(Contribution.id == keep.id).values(values))
    merged = session.scalars(
        sa.select(Contribution)
        .where(Contribution.kind == 'url', Contribution.value == new_value)
        .order_by(Contribution.origin_country, Contribution.origin_node)
    ).all()
    return [_foreign_entry(contribution) for contribution in merged]


def _foreign_entry(contribution: Contribution) -> dict:
    """A contribution as an indicator's `foreign` entry (ISO text for its datetimes)."""

    def iso(moment: datetime | None) -> str | None:
        """An aware datetime as ISO 8601 text."""
        return None if moment is None else moment.isoformat()

    return {
        'node': contribution.origin_node,
        'country': contribution.origin_country,
        'status': contribution.status,
        'removal_reason': contribution.removal_reason,
        'risk': contribution.risk,
        'categories': sorted(contribution.categories),
        'report_count': contribution.report_count,
        'org_count': contribution.org_count,
        'first_reported': iso(contribution.first_reported_at),
        'last_reported': iso(contribution.last_reported_at),
        'expires_at': iso(contribution.expires_at),
    }


def _summed(counts) -> dict:
    """Per-name counts added up."""
    total: dict[str, int] = defaultdict(int)
    for entry in counts:
        for name, count in (entry or {}).items():
            total[name] += count
    return dict(sorted(total.items()))


def _extreme(pick, moments):
    """The earliest or latest of the moments that are set."""
    known = [moment for moment in moments if moment is not None]
    return pick(known) if known else None


def downgrade() -> None:
    """Keep the new URL values (merged indicators cannot be split); drop the full-list mark."""
    op.execute(sa.delete(Counter.__table__).where(Counter.__table__.c.name == FULL_LIST_SINCE))
