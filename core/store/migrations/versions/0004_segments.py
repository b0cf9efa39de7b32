"""Segments: clustering runs and their members, saved rule segments, target lists.

Revision ID: 0004_segments
Revises: 0003_sessions_org
Create Date: 2026-01-08

A segment run keeps its fitted model and each customer's segment and load shape, so that a refit
can keep the ids of the segments that stayed the same group and show who moved. Target lists are
the customers an analyst took away from a segment, a rule or a file, which a campaign starts from.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_segments"
down_revision = "0003_sessions_org"
branch_labels = None
depends_on = None

CUSTOMER_ID = sa.String(20)
SEQUENCES = ("segment_runs_id_seq", "segment_rules_id_seq", "target_lists_id_seq")


def _identity(sequence_name: str) -> sa.Column:
    # PostgreSQL and DuckDB number rows from an explicit sequence (DuckDB has no SERIAL);
    # SQLite has no sequences and numbers an INTEGER PRIMARY KEY from its rowid.
    sequence = sa.Sequence(sequence_name)
    with_sequences = op.get_bind().dialect.supports_sequences
    return sa.Column(
        "id",
        sa.Integer,
        sequence,
        primary_key=True,
        server_default=sequence.next_value() if with_sequences else None,
    )


def upgrade() -> None:
    """Creates the segment and target-list tables."""
    if op.get_bind().dialect.supports_sequences:
        for name in SEQUENCES:
            op.execute(sa.schema.CreateSequence(sa.Sequence(name)))
    op.create_table(
        "segment_runs",
        _identity("segment_runs_id_seq"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(60), nullable=False),
        sa.Column("previous_run_id", sa.Integer),
        sa.Column("period_end", sa.Date),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("k", sa.Integer, nullable=False),
        sa.Column("k_chosen_by", sa.String(20), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("criterion", sa.String(20), nullable=False),
        sa.Column("criterion_value", sa.Double),
        sa.Column("shape_k", sa.Integer),
        sa.Column("model", sa.Text, nullable=False),
    )
    op.create_table(
        "segments",
        sa.Column("run_id", sa.Integer, primary_key=True),
        sa.Column("segment_id", sa.Integer, primary_key=True),
        sa.Column("name_code", sa.String(60), nullable=False),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
    )
    op.create_table(
        "segment_members",
        sa.Column("run_id", sa.Integer, primary_key=True),
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("segment_id", sa.Integer, nullable=False),
        sa.Column("shape_cluster", sa.Integer),
        sa.Column("distance", sa.Double),
    )
    op.create_table(
        "segment_rules",
        _identity("segment_rules_id_seq"),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("expression", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(60), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "target_lists",
        _identity("target_lists_id_seq"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(60), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("source_kind", sa.String(20), nullable=False),
        sa.Column("source_ref", sa.String(200)),
        sa.Column("note", sa.Text),
        sa.Column("customers", sa.Integer, nullable=False),
    )
    op.create_table(
        "target_list_members",
        sa.Column("list_id", sa.Integer, primary_key=True),
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("segment", sa.String(200)),
        sa.Column("reason", sa.Text),
        sa.Column("offer", sa.String(200)),
    )


def downgrade() -> None:
    """Drops the segment and target-list tables."""
    for name in (
        "target_list_members",
        "target_lists",
        "segment_rules",
        "segment_members",
        "segments",
        "segment_runs",
    ):
        op.drop_table(name)
    if op.get_bind().dialect.supports_sequences:
        for name in SEQUENCES:
            op.execute(sa.schema.DropSequence(sa.Sequence(name)))
