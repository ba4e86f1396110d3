"""bounded dates: clamp every stored date that came from input into the years 2000-2100

Revision ID: 0006
Revises: 0005

Before this revision a report's observed_at, a disconnection day and a peer's dates could be
any year. On PostgreSQL "0001-01-01T00:00:00+01:00" was stored as 1 BC, which the driver cannot
read back: every later read of that indicator (its reports, lookups, lists, batches) failed.
Far-off years broke date arithmetic on both engines. The API now refuses dates outside
2000-01-01T00:00:00Z to 2100-12-31T23:59:59Z (schemas.common); this repairs a database that
already holds some.

Every such date is clamped to the nearer bound; nothing is deleted:

- A report with a nonsense time is still one organisation's statement about a value: deleting
  it would change counts and listings here and in every peer's copy.
- Clamping commutes with the minimum and maximum that make an indicator's first and last
  reported dates (and each organisation's first and last report) out of its reports, so the
  reports, the indicators and their organisations agree afterwards without recomputing any
  aggregate.
- A date before 2000 compares with every date a node now stores exactly as 2000-01-01 does:
  listings counted from it had long expired, and still have.

The columns clamped are those filled from input (reports.observed_at; the indicators' first,
last and last verified reports, expiry and reset; indicator_organisations' first and last
reports; disconnections.disconnected_on; contributions' dates), and the dates of peers'
contributions held as JSON text in indicators.foreign. Server-made times (received, listed,
created) were never out of range. An indicator whose columns change loses its stored blocklist
line parts (csv_head, csv_tail), which the database renders from the columns until the next
change stamps them again.

Downgrading changes nothing: the original dates are gone, and the older code reads the new ones.
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)
COLUMNS = {
    'reports': ('observed_at',),
    'indicators': (
        'first_reported_at', 'last_reported_at', 'last_verified_at', 'expires_at', 'reset_at'
    ),
    'indicator_organisations': ('first_at', 'last_at'),
    'disconnections': ('disconnected_on',),
    'contributions': ('first_reported_at', 'last_reported_at', 'expires_at'),
}
FOREIGN_DATES = ('first_reported', 'last_reported', 'expires_at')


def _bounds(dialect: str) -> tuple[str, str]:
    """The bounds as SQL literals each engine compares its stored datetimes with."""
    if dialect == 'postgresql':
        return "TIMESTAMPTZ '2000-01-01 00:00:00+00'", "TIMESTAMPTZ '2100-12-31 23:59:59+00'"
    # SQLite holds naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff', which sorts as it reads.
    return "'2000-01-01 00:00:00.000000'", "'2100-12-31 23:59:59.000000'"


def upgrade() -> None:
    """Apply this revision."""
    bind = op.get_bind()
    low, high = _bounds(bind.dialect.name)
    outside = " OR ".join(
        f"{name} < {low} OR {name} > {high}" for name in COLUMNS['indicators']
    )
    op.execute(f"UPDATE indicators SET csv_head = NULL, csv_tail = NULL WHERE {outside}")
    for table, names in COLUMNS.items():
        for name in names:
            op.execute(f"UPDATE {table} SET {name} = {low} WHERE {name} < {low}")
            op.execute(f"UPDATE {table} SET {name} = {high} WHERE {name} > {high}")
    _clamp_foreign(bind)


def _clamp_foreign(bind) -> None:
    """Clamp the dates of peers' contributions in the indicators' merged views (JSON text)."""
    if bind.dialect.name == 'postgresql':
        keys = '|'.join(FOREIGN_DATES)
        where = f"\"foreign\"::text ~ '\"({keys})\": *\"([013-9]|2[1-9])'"
        update = 'UPDATE indicators SET "foreign" = CAST(:view AS JSON) WHERE id = :id'
    else:
        where = ' OR '.join(
            f"\"foreign\" GLOB '*\"{key}\": \"{start}*'"
            for key in FOREIGN_DATES
            for start in ('[013-9]', '2[1-9]')
        )
        update = 'UPDATE indicators SET "foreign" = :view WHERE id = :id'
    rows = bind.execute(sa.text(f'SELECT id, "foreign" FROM indicators WHERE {where}')).all()
    for row_id, stored in rows:
        view = json.loads(stored) if isinstance(stored, str) else stored
        changed = False
        for entry in view:
            for key in FOREIGN_DATES:
                clamped = _clamped_text(entry.get(key))
                if clamped is not None:
                    entry[key], changed = clamped, True
        if changed:
            bind.execute(sa.text(update), {'view': json.dumps(view), 'id': row_id})


def _clamped_text(value) -> str | None:
    """The bound an ISO datetime text outside the years 2000-2100 is clamped to, else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset that leaves the calendar
        return (EARLIEST if moment.year < 2000 else LATEST).isoformat()
    if in_utc < EARLIEST:
        return EARLIEST.isoformat()
    if in_utc > LATEST:
        return LATEST.isoformat()
    return None


def downgrade() -> None:
    """Undo this revision: nothing to undo, the original dates are gone."""
