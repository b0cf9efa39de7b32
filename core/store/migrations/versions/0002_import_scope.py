"""Rejected rows name the customer they are about, so that they are scoped like customers.

Revision ID: 0002_import_scope
Revises: 0001_baseline
Create Date: 2026-01-06

A district manager sees the rejected rows of the customers in their scope and of the files they
imported themselves; the customer id of each rejected row decides which. Rows kept before this
revision name no customer and stay visible to unscoped viewers only.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_import_scope"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds ``rejected_rows.customer_id``."""
    op.add_column("rejected_rows", sa.Column("customer_id", sa.String(20)))


def downgrade() -> None:
    """Drops ``rejected_rows.customer_id``."""
    with op.batch_alter_table("rejected_rows") as batch:
        batch.drop_column("customer_id")
