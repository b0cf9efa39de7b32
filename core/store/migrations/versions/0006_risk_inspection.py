"""Abnormal use and inspection: area supply-meter readings, risk scores, inspection orders.

Revision ID: 0006_risk_inspection
Revises: 0002_import_scope
Create Date: 2026-01-08

``area_readings`` holds the energy through each transformer area's supply meter (台区总表), from
which the area's line loss follows. ``risk_scores`` keeps each customer's current score of each
kind with the model version and day it came from, ``risk_models`` the models' holdout figures.
``inspection_orders`` and ``inspection_events`` are the inspection orders (稽查工单) and every
change of their state.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_risk_inspection"
down_revision = "0005_campaigns"
branch_labels = None
depends_on = None

CUSTOMER_ID = sa.String(20)
SEQUENCES = ("inspection_orders_id_seq", "inspection_events_id_seq")


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
    """Creates the area readings, risk and inspection tables."""
    if op.get_bind().dialect.supports_sequences:
        for name in SEQUENCES:
            op.execute(sa.schema.CreateSequence(sa.Sequence(name)))
    op.create_table(
        "area_readings",
        sa.Column("transformer_area", sa.String(40), primary_key=True),
        sa.Column("ts", sa.DateTime, primary_key=True),
        sa.Column("kwh", sa.Double, nullable=False),
    )
    op.create_table(
        "risk_scores",
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("model_version", sa.String(40), nullable=False),
        sa.Column("scored_on", sa.Date, nullable=False),
        sa.Column("computed_at", sa.DateTime, nullable=False),
        sa.Column("revenue_at_risk_cny", sa.Double),
        sa.Column("triage", sa.String(20)),
        sa.Column("factors", sa.Text),
    )
    op.create_table(
        "risk_models",
        sa.Column("model_version", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("trained_at", sa.DateTime, nullable=False),
        sa.Column("trained_by", sa.String(60)),
        sa.Column("holdout_cutoff", sa.Date),
        sa.Column("holdout_auc", sa.Double),
        sa.Column("brier", sa.Double),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("positives", sa.Integer, nullable=False),
        sa.Column("calibration", sa.Text),
        sa.Column("details", sa.Text),
    )
    op.create_table(
        "inspection_orders",
        _identity("inspection_orders_id_seq"),
        sa.Column("customer_id", CUSTOMER_ID, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("assignee", sa.String(60), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(60), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("recovered_cny", sa.Numeric(14, 2)),
        sa.Column("resolved_at", sa.DateTime),
        sa.Column("score", sa.Double),
        sa.Column("revenue_at_risk_cny", sa.Double),
        sa.Column("reasons", sa.Text),
        sa.Column("model_version", sa.String(40)),
        sa.Column("selection_propensity", sa.Double),
    )
    op.create_table(
        "inspection_events",
        _identity("inspection_events_id_seq"),
        sa.Column("order_id", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("user_name", sa.String(60), nullable=False),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("recovered_cny", sa.Numeric(14, 2)),
        sa.Column("note", sa.Text),
    )


def downgrade() -> None:
    """Drops the area readings, risk and inspection tables."""
    for name in (
        "inspection_events",
        "inspection_orders",
        "risk_models",
        "risk_scores",
        "area_readings",
    ):
        op.drop_table(name)
    if op.get_bind().dialect.supports_sequences:
        for name in SEQUENCES:
            op.execute(sa.schema.DropSequence(sa.Sequence(name)))
