"""peer key rotation: a peer's previous public key, accepted until the overlap ends

Revision ID: 0008
Revises: 0007

A peer that rotates its node key announces the new public key in a message signed with the old
one; the receiver keeps the old key here and accepts batches signed by either until
previous_key_until, so that batches already in flight, and schedulers still holding the old
key, are not refused during the switch.
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the previous key and the end of its overlap to peers."""
    with op.batch_alter_table('peers') as batch:
        batch.add_column(sa.Column('previous_public_key', sa.String(100), nullable=True))
        batch.add_column(
            sa.Column('previous_key_until', sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table('peers') as batch:
        batch.drop_column('previous_key_until')
        batch.drop_column('previous_public_key')
