"""Campaign plans and their arms: the randomized draw, its seed, and each arm's offer and cost.

Revision ID: 0005_campaigns
Revises: 0002_import_scope
Create Date: 2026-01-08

A campaign planned in the workbench records how its members were drawn (holdout share, strata,
seed, where the members came from) and its arms (offer × channel, cost per contact, planned
share), so the draw can be reproduced and the arm sizes checked against the plan.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_campaigns"
down_revision = "0004_segments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Creates ``campaign_plans`` and ``campaign_arms``."""
    op.create_table(
        "campaign_plans",
        sa.Column("campaign_id", sa.String(40), primary_key=True),
        sa.Column("holdout_share", sa.Float, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("strata", sa.String(100)),
        sa.Column("source_kind", sa.String(20), nullable=False),
        sa.Column("source_ref", sa.String(200)),
        sa.Column("follow_up_days", sa.Integer),
        sa.Column("created_by", sa.String(60)),
        sa.Column("created_at", sa.DateTime),
    )
    op.create_table(
        "campaign_arms",
        sa.Column("campaign_id", sa.String(40), primary_key=True),
        sa.Column("arm", sa.String(20), primary_key=True),
        sa.Column("offer", sa.String(200)),
        sa.Column("channel", sa.String(40)),
        sa.Column("cost_per_contact_cny", sa.Numeric(10, 2)),
        sa.Column("planned_share", sa.Float, nullable=False),
    )


def downgrade() -> None:
    """Drops ``campaign_arms`` and ``campaign_plans``."""
    op.drop_table("campaign_arms")
    op.drop_table("campaign_plans")
