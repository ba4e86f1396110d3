"""indicator views: what operators see of each indicator and its download lines, one writer

Revision ID: 0007
Revises: 0006

The blocklist's CSV fields were stored in two parts (csv_head, csv_tail) and joined with the
rest by SQL per dialect; the merged view of peer origins was computed by SQL at every download.
Now the lifecycle stores the merged view (shown status and risk, categories, origins) and the
whole CSV line and JSON item, rendered by scamshare.indicators.render; this revision renders
them for existing rows with the same code. The node's country (its own origin in each line)
comes from the caller (scamshare.migrations.upgrade), as the app's configuration holds it.
"""

from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

from scamshare.indicators import render, rules
from scamshare.models import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_CHUNK = 5000
_indicators = sa.table(
    'indicators',
    sa.column('id', sa.Integer),
    sa.column('kind', sa.String),
    sa.column('value', sa.String),
    sa.column('status', sa.String),
    sa.column('removal_reason', sa.String),
    sa.column('risk', sa.String),
    sa.column('category_counts', sa.JSON),
    sa.column('report_count', sa.Integer),
    sa.column('org_count', sa.Integer),
    sa.column('country_count', sa.Integer),
    sa.column('first_reported_at', UTCDateTime),
    sa.column('last_reported_at', UTCDateTime),
    sa.column('expires_at', UTCDateTime),
    sa.column('foreign', sa.JSON),
    sa.column('exported', sa.Boolean),
    sa.column('shown_status', sa.String),
    sa.column('shown_risk', sa.String),
    sa.column('categories', sa.Text),
    sa.column('origins', sa.Text),
    sa.column('csv_line', sa.Text),
    sa.column('json_item', sa.Text),
)
_READ = [c for c in _indicators.c if c.name not in (
    'exported', 'shown_status', 'shown_risk', 'categories', 'origins', 'csv_line', 'json_item'
)]


def upgrade() -> None:
    """Apply this revision."""
    # Plain ALTER TABLE on both engines (SQLite 3.35 and later drop a column in place): batch
    # mode would copy the table, and SQLite refuses to drop a table that reports refer to.
    op.add_column(
        'indicators',
        sa.Column('shown_status', sa.String(16), nullable=False, server_default='reported'),
    )
    op.add_column(
        'indicators', sa.Column('shown_risk', sa.String(16), nullable=False, server_default='low')
    )
    for name in ('origins', 'csv_line', 'json_item'):
        op.add_column('indicators', sa.Column(name, sa.Text(), nullable=True))
    op.drop_column('indicators', 'csv_tail')
    op.drop_column('indicators', 'csv_head')
    _render_all(op.get_context().config.attributes.get('country', 'SG'))


def _render_all(country: str) -> None:
    """Store every indicator's view and lines, as lifecycle.Lifecycle.render does."""
    bind = op.get_bind()
    policies = dict(bind.execute(sa.text('SELECT country, policy FROM peers')).tuples().all())
    update = (
        _indicators.update()
        .where(_indicators.c.id == sa.bindparam('row_id'))
        .values({name: sa.bindparam(name) for name in (
            'exported', 'shown_status', 'shown_risk', 'categories', 'origins', 'csv_line',
            'json_item',
        )})
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(*_READ).where(_indicators.c.id > last).order_by('id').limit(_CHUNK)
        ).all()
        if not rows:
            return
        values = [_rendered(SimpleNamespace(**row._mapping), country, policies) for row in rows]
        bind.execute(update, values)
        last = rows[-1].id


def _rendered(indicator, country: str, policies: dict) -> dict:
    """One indicator's stored view."""
    indicator.foreign = indicator.foreign or []
    indicator.category_counts = indicator.category_counts or {}
    view = rules.merged_view(indicator, country, policies)
    return {'row_id': indicator.id, **render.stored(view)}


def downgrade() -> None:
    """Undo this revision (the stored lines of 0005 are left empty: a new stamp fills them)."""
    op.add_column('indicators', sa.Column('csv_head', sa.Text(), nullable=True))
    op.add_column('indicators', sa.Column('csv_tail', sa.Text(), nullable=True))
    for name in ('json_item', 'csv_line', 'origins', 'shown_risk', 'shown_status'):
        op.drop_column('indicators', name)
