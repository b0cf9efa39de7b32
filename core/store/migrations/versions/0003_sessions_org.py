"""Sign-in sessions that survive a reload, and the organisation tree as data.

Revision ID: 0003_sessions_org
Revises: 0002_import_scope
Create Date: 2026-01-07

``sessions`` keeps the hash of each signed-in browser's token, so a reload finds the session
again (the idle timeout and the account's status still apply). ``org_units`` holds the city,
districts, service offices and transformer areas that scope accounts; a store migrated from
before keeps its accounts' scopes, which name districts and offices, once its tree is imported
(the demo fills it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_sessions_org"
down_revision = "0002_import_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Creates ``sessions`` and ``org_units``."""
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_name", sa.String(60), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
    )
    op.create_table(
        "org_units",
        sa.Column("path", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("parent", sa.String(200)),
    )


def downgrade() -> None:
    """Drops ``org_units`` and ``sessions``."""
    op.drop_table("org_units")
    op.drop_table("sessions")
