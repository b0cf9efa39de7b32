"""Business expansion (业扩报装): the applications and the dates of their stages.

Revision ID: 0007_applications
Revises: 0002_import_scope
Create Date: 2026-01-12

One row per application (new connection, capacity increase or decrease, temporary supply,
closure) with the requested capacity, the applicant's industry and district, and the date each
stage was reached: accepted, surveyed, scheme answered, inspected, connected.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_applications"
down_revision = "0006_risk_inspection"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Creates ``applications``."""
    op.create_table(
        "applications",
        sa.Column("application_id", sa.String(40), primary_key=True),
        sa.Column("customer_id", sa.String(20)),
        sa.Column("name", sa.String(100)),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("customer_class", sa.String(20)),
        sa.Column("industry", sa.String(60)),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("requested_kva", sa.Float),
        sa.Column("accepted_date", sa.Date, nullable=False),
        sa.Column("surveyed_date", sa.Date),
        sa.Column("answered_date", sa.Date),
        sa.Column("inspected_date", sa.Date),
        sa.Column("connected_date", sa.Date),
    )


def downgrade() -> None:
    """Drops ``applications``."""
    op.drop_table("applications")
