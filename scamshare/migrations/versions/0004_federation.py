"""federation

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('contributions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('origin_node', sa.String(length=100), nullable=False),
    sa.Column('origin_country', sa.String(length=2), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=2048), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('removal_reason', sa.String(length=16), nullable=True),
    sa.Column('risk', sa.String(length=16), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('report_count', sa.Integer(), nullable=False),
    sa.Column('org_count', sa.Integer(), nullable=False),
    sa.Column('first_reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('origin_version', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('origin_node', 'kind', 'value', name='uq_contributions_origin_kind_value')
    )
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.create_index('ix_contributions_kind_value', ['kind', 'value'], unique=False)

    op.create_table('peers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('public_key', sa.String(length=100), nullable=False),
    sa.Column('policy', sa.String(length=8), nullable=False),
    sa.Column('cursor', sa.BigInteger(), nullable=False),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('node_id')
    )
    op.create_table('received_batches',
    sa.Column('sender', sa.String(length=100), nullable=False),
    sa.Column('batch_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sender', 'batch_id')
    )
    with op.batch_alter_table('received_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_received_batches_received_at'), ['received_at'], unique=False)

    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_version', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('foreign', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('exported', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_indicators_exported'), ['exported'], unique=False)
        batch_op.create_index(batch_op.f('ix_indicators_origin_version'), ['origin_version'], unique=False)

    # Indicators from before federation: their own state is the whole merged view.
    op.execute(
        "UPDATE indicators SET origin_version = sequence, "
        "exported = (status IN ('listed', 'disputed'))"
    )



def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicators_origin_version'))
        batch_op.drop_index(batch_op.f('ix_indicators_exported'))
        batch_op.drop_column('exported')
        batch_op.drop_column('foreign')
        batch_op.drop_column('origin_version')

    with op.batch_alter_table('received_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_received_batches_received_at'))

    op.drop_table('received_batches')
    op.drop_table('peers')
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_index('ix_contributions_kind_value')

    op.drop_table('contributions')
