"""The store as the product first shipped it: entities, imports and quality, accounts, features.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-01-05

Written out in full rather than derived from ``core.store.schema``, so that this revision keeps
creating the same tables when the schema moves on.
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

CUSTOMER_ID = sa.String(20)
SEQUENCES = (
    "imports_id_seq",
    "rejected_rows_id_seq",
    "quality_snapshots_id_seq",
    "audit_log_id_seq",
)
FEATURE_COLUMNS = (
    "days_with_readings",
    "annual_kwh",
    "avg_daily_kwh",
    "max_demand_kw",
    "load_factor",
    "critical_share",
    "peak_share",
    "flat_share",
    "valley_share",
    "night_day_ratio",
    "weekday_weekend_ratio",
    "volatility",
    "summer_ratio",
    "winter_ratio",
    "cooling_kwh_per_degree_day",
    "heating_kwh_per_degree_day",
    "yoy_growth",
    "power_factor",
    "annual_revenue_cny",
    "revenue_growth",
    "payment_punctuality",
    "arrears_cny",
    "arrears_days",
    "online_events",
    "online_share",
    "counter_visits",
    "late_payments",
    "complaints",
    "complaints_90d",
    "complaints_after_outage_90d",
    "outages",
    "outage_hours",
)


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
    """Creates every table of the baseline and the data-version row."""
    bind = op.get_bind()
    if bind.dialect.supports_sequences:
        for name in SEQUENCES:
            op.execute(sa.schema.CreateSequence(sa.Sequence(name)))

    op.create_table(
        "customers",
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("customer_class", sa.String(20), nullable=False),
        sa.Column("industry", sa.String(60)),
        sa.Column("voltage_kv", sa.Float),
        sa.Column("contract_capacity_kva", sa.Float),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("transformer_area", sa.String(40)),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("tariff_code", sa.String(40), nullable=False),
        sa.Column("open_date", sa.Date),
        sa.Column("manager_id", sa.String(40)),
        sa.Column("phone", sa.String(40)),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    )
    op.create_table(
        "id_map",
        sa.Column("system", sa.String(40), primary_key=True),
        sa.Column("external_id", sa.String(60), primary_key=True),
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "readings",
        sa.Column("customer_id", CUSTOMER_ID, nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
        sa.Column("kwh", sa.Double, nullable=False),
        sa.Column("kvarh", sa.Double),
    )
    # DuckDB prunes by zone maps; the row stores need the index to find a customer's readings.
    if bind.dialect.name in ("postgresql", "sqlite"):
        op.create_index("ix_readings_customer_ts", "readings", ["customer_id", "ts"], unique=True)
    op.create_table(
        "weather",
        sa.Column("region", sa.String(40), primary_key=True),
        sa.Column("ts", sa.DateTime, primary_key=True),
        sa.Column("temperature_c", sa.Float, nullable=False),
    )
    op.create_table(
        "bills",
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("kwh_peak", sa.Double),
        sa.Column("kwh_flat", sa.Double),
        sa.Column("kwh_valley", sa.Double),
        sa.Column("kwh_critical", sa.Double),
        sa.Column("kwh_total", sa.Double, nullable=False),
        sa.Column("amount_cny", sa.Numeric(14, 2), nullable=False),
        sa.Column("due_date", sa.Date),
        sa.Column("paid_date", sa.Date),
        sa.Column("paid_cny", sa.Numeric(14, 2)),
    )
    op.create_table(
        "work_orders",
        sa.Column("order_id", sa.String(40), primary_key=True),
        sa.Column("customer_id", CUSTOMER_ID, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(40)),
        sa.Column("satisfaction", sa.Integer),
        sa.Column("description", sa.Text),
    )
    op.create_table(
        "channel_activity",
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("channel", sa.String(40), primary_key=True),
        sa.Column("events", sa.Integer, nullable=False),
    )
    op.create_table(
        "outages",
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("start", sa.DateTime, nullable=False),
        sa.Column("end", sa.DateTime),
        sa.Column("planned", sa.Boolean, nullable=False),
    )
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("goal", sa.String(20), nullable=False),
        sa.Column("offer", sa.String(200)),
        sa.Column("channel", sa.String(40)),
        sa.Column("start_date", sa.Date),
        sa.Column("end_date", sa.Date),
        sa.Column("cost_per_contact_cny", sa.Numeric(10, 2)),
    )
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.String(40), primary_key=True),
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("arm", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(40)),
        sa.Column("contacted_at", sa.DateTime),
        sa.Column("responded_at", sa.DateTime),
        sa.Column("converted_at", sa.DateTime),
        sa.Column("value_cny", sa.Numeric(12, 2)),
    )
    op.create_table(
        "imports",
        _identity("imports_id_seq"),
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("file_name", sa.String(260), nullable=False),
        sa.Column("source_system", sa.String(40)),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_landed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("user_name", sa.String(60)),
        sa.Column("data_start", sa.DateTime),
        sa.Column("data_end", sa.DateTime),
    )
    op.create_table(
        "rejected_rows",
        _identity("rejected_rows_id_seq"),
        sa.Column("import_id", sa.Integer),
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("file_name", sa.String(260), nullable=False),
        sa.Column("row_number", sa.Integer),
        sa.Column("column_name", sa.String(60)),
        sa.Column("value", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reason_code", sa.String(40)),
        sa.Column("reason_values", sa.Text),
        sa.Column("rejected_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "quality_snapshots",
        _identity("quality_snapshots_id_seq"),
        sa.Column("import_id", sa.Integer),
        sa.Column("taken_at", sa.DateTime, nullable=False),
        sa.Column("dimension", sa.String(20), nullable=False),
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("source_system", sa.String(40)),
        sa.Column("metric", sa.String(60), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("numerator", sa.Float),
        sa.Column("denominator", sa.Float),
    )
    op.create_table(
        "users",
        sa.Column("user_name", sa.String(60), primary_key=True),
        sa.Column("display_name", sa.String(100)),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("org_unit", sa.String(60)),
        sa.Column("manager_id", sa.String(40)),
        sa.Column("contact_grant", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime),
        sa.Column("created_at", sa.DateTime),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "audit_log",
        _identity("audit_log_id_seq"),
        sa.Column("at", sa.DateTime, nullable=False, quote=True),
        sa.Column("user_name", sa.String(60)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200)),
        sa.Column("detail", sa.Text),
    )
    data_version = op.create_table(
        "data_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "features",
        sa.Column("customer_id", CUSTOMER_ID, primary_key=True),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("computed_at", sa.DateTime, nullable=False),
        *(sa.Column(name, sa.Double) for name in FEATURE_COLUMNS),
        sa.Column("preferred_channel", sa.String(40)),
    )
    # The one data-version row every import bumps.
    started = dt.datetime.now().replace(microsecond=0)
    op.bulk_insert(data_version, [{"id": 1, "version": 0, "updated_at": started}])


def downgrade() -> None:
    """Drops every table of the baseline, leaving an empty store."""
    for name in (
        "features",
        "data_version",
        "audit_log",
        "users",
        "quality_snapshots",
        "rejected_rows",
        "imports",
        "campaign_members",
        "campaigns",
        "outages",
        "channel_activity",
        "work_orders",
        "bills",
        "weather",
        "readings",
        "id_map",
        "customers",
    ):
        op.drop_table(name)
    if op.get_bind().dialect.supports_sequences:
        for name in SEQUENCES:
            op.execute(sa.schema.DropSequence(sa.Sequence(name)))
