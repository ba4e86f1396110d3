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


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('categories', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('csv_head', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('csv_tail', sa.Text(), nullable=True))

    # The stored text is rendered by revision 0007, with the one writer of download lines
    # (scamshare.indicators.render), which replaces these columns.


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.drop_column('csv_tail')
        batch_op.drop_column('csv_head')
        batch_op.drop_column('categories')
