"""console accounts: people who sign in to the console, and the indexes its pages read

Revision ID: 0011
Revises: 0010

A user belongs to one organisation and acts with its role; only an argon2 hash of the password
is stored. session_generation is raised at sign-out, so an old session cookie stops working.
The review queue orders reported indicators by distinct organisations and recency, the
dashboard counts what operators receive per kind and reports, listings, expiries and delistings
per day: each reads an index instead of the rows (bench/console.py, a million indicators).
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the users table and the indexes the console's pages read."""
    id_type = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table(
        'users',
        sa.Column('id', id_type, primary_key=True),
        sa.Column('username', sa.String(64), nullable=False),
        sa.Column('organisation_id', id_type, sa.ForeignKey('organisations.id'), nullable=False),
        sa.Column('password_hash', sa.String(200), nullable=False),
        sa.Column('session_generation', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('username'),
    )
    op.create_index('ix_users_organisation_id', 'users', ['organisation_id'])
    op.create_index(
        'ix_indicators_review', 'indicators', ['status', 'org_count', 'last_reported_at']
    )
    op.create_index('ix_indicators_exported_kind', 'indicators', ['exported', 'kind'])
    op.create_index(
        'ix_reports_received_extracted', 'reports', ['received_at', 'extracted_from_id']
    )
    op.create_index(
        'ix_indicator_events_status_at', 'indicator_events', ['to_status', 'at', 'from_status']
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_index('ix_indicator_events_status_at', table_name='indicator_events')
    op.drop_index('ix_reports_received_extracted', table_name='reports')
    op.drop_index('ix_indicators_exported_kind', table_name='indicators')
    op.drop_index('ix_indicators_review', table_name='indicators')
    op.drop_index('ix_users_organisation_id', table_name='users')
    op.drop_table('users')
