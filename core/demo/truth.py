"""What the demo generator planted: ground truth that tests check the analytics against.

These tables have their own MetaData: they are created only by the demo generator, never by the
product's migrations, so a real store has none of them.
"""

import sqlalchemy as sa

from core.store import schema

metadata = sa.MetaData()

customers = sa.Table(
    "demo_truth_customers",
    metadata,
    sa.Column("customer_id", sa.String(schema.CUSTOMER_ID_LENGTH), primary_key=True),
    sa.Column("archetype", sa.String(40), nullable=False),
    sa.Column("peak_shiftable", sa.Boolean, nullable=False),
    sa.Column("late_payer", sa.Boolean, nullable=False),
)

campaign_effects = sa.Table(
    "demo_truth_campaign_effects",
    metadata,
    sa.Column("campaign_id", sa.String(40), primary_key=True),
    sa.Column("segment", sa.String(60), primary_key=True),
    sa.Column("base_rate", sa.Float, nullable=False),
    sa.Column("uplift", sa.Float, nullable=False),
)

abnormal = sa.Table(
    "demo_truth_abnormal",
    metadata,
    sa.Column("customer_id", sa.String(schema.CUSTOMER_ID_LENGTH), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("start", sa.DateTime, nullable=False),
)

# Converted members of the time-of-use campaign: from which day, and what share of each day's
# peak energy they moved into the valley (core.demo.campaigns).
energy_shifts = sa.Table(
    "demo_truth_energy_shifts",
    metadata,
    sa.Column("campaign_id", sa.String(40), primary_key=True),
    sa.Column("customer_id", sa.String(schema.CUSTOMER_ID_LENGTH), primary_key=True),
    sa.Column("from_day", sa.Date, nullable=False),
    sa.Column("peak_shift_share", sa.Float, nullable=False),
)

area_loss = sa.Table(
    "demo_truth_area_loss",
    metadata,
    sa.Column("transformer_area", sa.String(40), primary_key=True),
    sa.Column("technical_loss_rate", sa.Float, nullable=False),
)

TABLES = (customers, campaign_effects, abnormal, energy_shifts, area_loss)


def create(engine: sa.Engine) -> None:
    """Creates the truth tables, empty (the generator fills them)."""
    metadata.create_all(engine)


def drop(engine: sa.Engine) -> None:
    """Drops the truth tables where they exist."""
    metadata.drop_all(engine)


def is_demo_store(conn: sa.Connection) -> bool:
    """Whether the store holds the synthetic demo utility (it has planted ground truth)."""
    if not sa.inspect(conn).has_table(customers.name):
        return False
    return conn.execute(sa.select(customers.c.customer_id).limit(1)).first() is not None
