"""indicator blocklist text: categories and CSV line parts, stored when exported state is stamped

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# What services.blocklist.stamped_parts writes, rendered by the database for existing rows.
_SQLITE = {
    'categories': (
        "COALESCE((SELECT group_concat(key, ';') FROM "
        "(SELECT key FROM json_each(indicators.category_counts) ORDER BY key)), '')"
    ),
    'time': "COALESCE(replace(substr({0}, 1, 19), ' ', 'T') || 'Z', '')",
}
_POSTGRES = {
    'categories': (
        "COALESCE((SELECT string_agg(k, ';' ORDER BY k COLLATE \"C\") "
        "FROM json_object_keys(indicators.category_counts) AS k), '')"
    ),
    'time': "COALESCE(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')",
}


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('categories', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('csv_head', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('csv_tail', sa.Text(), nullable=True))

    sql = _POSTGRES if op.get_bind().dialect.name == 'postgresql' else _SQLITE
    op.execute(f"UPDATE indicators SET categories = {sql['categories']}")
    times = " || ',' || ".join(
        sql['time'].format(name) for name in ('first_reported_at', 'last_reported_at', 'expires_at')
    )
    op.execute(
        "UPDATE indicators SET csv_head = status || ',' || risk || ',' || categories, "
        f"csv_tail = {times} "
        "WHERE status IN ('listed', 'disputed')"
    )


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.drop_column('csv_tail')
        batch_op.drop_column('csv_head')
        batch_op.drop_column('categories')
