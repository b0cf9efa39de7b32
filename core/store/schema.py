"""The store's schema: one explicit MetaData for every entity of the product.

Column names here are the import contract (DESIGN §4); every module refers to them through these
tables rather than spelling them again.
"""

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import next_value

metadata = sa.MetaData()

CUSTOMER_ID_LENGTH = 20

CUSTOMER_CLASSES = ("residential", "commercial", "industrial", "agricultural")
CAMPAIGN_GOALS = ("acquire", "activate", "retain", "upsell")
CAMPAIGN_ARMS = ("treatment", "control")


def _customer_id(*, primary_key: bool = False, nullable: bool = False) -> sa.Column:
    return sa.Column(
        "customer_id", sa.String(CUSTOMER_ID_LENGTH), primary_key=primary_key, nullable=nullable
    )


@compiles(next_value, "sqlite")
def _next_value_sqlite(element, compiler, **kw) -> str:
    # SQLite has no sequences; NULL into an INTEGER PRIMARY KEY takes the next rowid.
    return "NULL"


def _identity(name: str) -> sa.Column:
    # An explicit sequence: DuckDB has no SERIAL, PostgreSQL and DuckDB both honour sequences,
    # SQLite ignores them and falls back to its rowid.
    sequence = sa.Sequence(f"{name}_id_seq")
    return sa.Column(
        "id", sa.Integer, sequence, primary_key=True, server_default=sequence.next_value()
    )


customers = sa.Table(
    "customers",
    metadata,
    _customer_id(primary_key=True),
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

id_map = sa.Table(
    "id_map",
    metadata,
    sa.Column("system", sa.String(40), primary_key=True),
    sa.Column("external_id", sa.String(60), primary_key=True),
    _customer_id(primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
)

readings = sa.Table(
    "readings",
    metadata,
    _customer_id(),
    sa.Column("ts", sa.DateTime, nullable=False),
    sa.Column("kwh", sa.Double, nullable=False),
    sa.Column("kvarh", sa.Double),
)
# DuckDB prunes by zone maps and an ART index over hundreds of millions of readings costs more
# than it saves; the row stores need the index to find one customer's readings.
sa.Index("ix_readings_customer_ts", readings.c.customer_id, readings.c.ts, unique=True).ddl_if(
    dialect=("postgresql", "sqlite")
)

weather = sa.Table(
    "weather",
    metadata,
    sa.Column("region", sa.String(40), primary_key=True),
    sa.Column("ts", sa.DateTime, primary_key=True),
    sa.Column("temperature_c", sa.Float, nullable=False),
)

bills = sa.Table(
    "bills",
    metadata,
    _customer_id(primary_key=True),
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

work_orders = sa.Table(
    "work_orders",
    metadata,
    sa.Column("order_id", sa.String(40), primary_key=True),
    _customer_id(),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("closed_at", sa.DateTime),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(40)),
    sa.Column("satisfaction", sa.Integer),
    sa.Column("description", sa.Text),
)

channel_activity = sa.Table(
    "channel_activity",
    metadata,
    _customer_id(primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("channel", sa.String(40), primary_key=True),
    sa.Column("events", sa.Integer, nullable=False),
)

outages = sa.Table(
    "outages",
    metadata,
    sa.Column("event_id", sa.String(40), primary_key=True),
    _customer_id(primary_key=True),
    sa.Column("start", sa.DateTime, nullable=False),
    sa.Column("end", sa.DateTime),
    sa.Column("planned", sa.Boolean, nullable=False),
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("campaign_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("goal", sa.String(20), nullable=False),
    sa.Column("offer", sa.String(200)),
    sa.Column("channel", sa.String(40)),
    sa.Column("start_date", sa.Date),
    sa.Column("end_date", sa.Date),
    sa.Column("cost_per_contact_cny", sa.Numeric(10, 2)),
)

campaign_members = sa.Table(
    "campaign_members",
    metadata,
    sa.Column("campaign_id", sa.String(40), primary_key=True),
    _customer_id(primary_key=True),
    sa.Column("arm", sa.String(20), nullable=False),
    sa.Column("channel", sa.String(40)),
    sa.Column("contacted_at", sa.DateTime),
    sa.Column("responded_at", sa.DateTime),
    sa.Column("converted_at", sa.DateTime),
    sa.Column("value_cny", sa.Numeric(12, 2)),
)

# What the application itself keeps.

imports = sa.Table(
    "imports",
    metadata,
    _identity("imports"),
    sa.Column("table_name", sa.String(40), nullable=False),
    sa.Column("file_name", sa.String(260), nullable=False),
    sa.Column("source_system", sa.String(40)),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_landed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("user_name", sa.String(60)),
    # The period the landed rows cover, for the lag between a reading's time and its arrival.
    sa.Column("data_start", sa.DateTime),
    sa.Column("data_end", sa.DateTime),
)

rejected_rows = sa.Table(
    "rejected_rows",
    metadata,
    _identity("rejected_rows"),
    sa.Column("import_id", sa.Integer),
    sa.Column("table_name", sa.String(40), nullable=False),
    sa.Column("file_name", sa.String(260), nullable=False),
    # The customer the row is about, when it names one: who may see the row follows from it.
    sa.Column("customer_id", sa.String(CUSTOMER_ID_LENGTH)),
    sa.Column("row_number", sa.Integer),
    sa.Column("column_name", sa.String(60)),
    sa.Column("value", sa.Text),
    # The reason in English words, and as a code with its values (JSON) for other languages.
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reason_code", sa.String(40)),
    sa.Column("reason_values", sa.Text),
    sa.Column("rejected_at", sa.DateTime, nullable=False),
)

# The data-quality figures as they stood after each import: the trend over imports.
quality_snapshots = sa.Table(
    "quality_snapshots",
    metadata,
    _identity("quality_snapshots"),
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

users = sa.Table(
    "users",
    metadata,
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

audit_log = sa.Table(
    "audit_log",
    metadata,
    _identity("audit_log"),
    # "at" is a reserved word in DuckDB; quoting keeps the name the same on every backend.
    sa.Column("at", sa.DateTime, nullable=False, quote=True),
    sa.Column("user_name", sa.String(60)),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target", sa.String(200)),
    sa.Column("detail", sa.Text),
)

# One row: bumped by every write that changes what the pages show, so caches keyed on it expire.
data_version = sa.Table(
    "data_version",
    metadata,
    # A fixed id (1), never generated: DuckDB has no SERIAL type.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

# Per-customer features computed inside the store by core.features.refresh, one current row per
# customer with the period its figures cover. Shares and ratios are fractions (0.48 = 48%).
FEATURE_COLUMNS = (
    # load behaviour
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
    # value
    "annual_revenue_cny",
    "revenue_growth",
    "payment_punctuality",
    "arrears_cny",
    "arrears_days",
    # service preference
    "online_events",
    "online_share",
    "counter_visits",
    # risk
    "late_payments",
    "complaints",
    "complaints_90d",
    "complaints_after_outage_90d",
    "outages",
    "outage_hours",
)

features = sa.Table(
    "features",
    metadata,
    _customer_id(primary_key=True),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("computed_at", sa.DateTime, nullable=False),
    # Double precision: DuckDB's FLOAT is single precision.
    *(sa.Column(name, sa.Double) for name in FEATURE_COLUMNS),
    sa.Column("preferred_channel", sa.String(40)),
)

ENTITY_TABLES = (
    customers,
    id_map,
    readings,
    weather,
    bills,
    work_orders,
    channel_activity,
    outages,
    campaigns,
    campaign_members,
)

# Segments (用户分群): clustering runs and their memberships, saved rule segments, target lists.
# A run is one fit over the customers in its author's scope; readers see its members through
# their own scope like every customer query.
segment_runs = sa.Table(
    "segment_runs",
    metadata,
    _identity("segment_runs"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(60), nullable=False),
    # The run whose segment ids this run's segments kept (Hungarian matching on centroids).
    sa.Column("previous_run_id", sa.Integer),
    sa.Column("period_end", sa.Date),
    sa.Column("customers", sa.Integer, nullable=False),
    sa.Column("k", sa.Integer, nullable=False),
    # "criterion" when k came from the silhouette and the business rules, "analyst" when set.
    sa.Column("k_chosen_by", sa.String(20), nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("criterion", sa.String(20), nullable=False),
    sa.Column("criterion_value", sa.Double),
    sa.Column("shape_k", sa.Integer),
    # The fitted model as JSON: features, scaler, centroids in feature units, criterion by k,
    # the typical load shapes.
    sa.Column("model", sa.Text, nullable=False),
)

segments = sa.Table(
    "segments",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("segment_id", sa.Integer, primary_key=True),
    # The name's catalog code (segments.name.<code>); the rules behind it as JSON.
    sa.Column("name_code", sa.String(60), nullable=False),
    sa.Column("customers", sa.Integer, nullable=False),
    sa.Column("rules", sa.Text, nullable=False),
)

segment_members = sa.Table(
    "segment_members",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    _customer_id(primary_key=True),
    sa.Column("segment_id", sa.Integer, nullable=False),
    sa.Column("shape_cluster", sa.Integer),
    # Distance to the segment's centroid in standardized units: how typical the member is.
    sa.Column("distance", sa.Double),
)

segment_rules = sa.Table(
    "segment_rules",
    metadata,
    _identity("segment_rules"),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("expression", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(60), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

target_lists = sa.Table(
    "target_lists",
    metadata,
    _identity("target_lists"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_by", sa.String(60), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # segment, rule or file (core.target_lists.SOURCE_KINDS), and which one: a run and segment,
    # a rule's name, a file's name.
    sa.Column("source_kind", sa.String(20), nullable=False),
    sa.Column("source_ref", sa.String(200)),
    sa.Column("note", sa.Text),
    sa.Column("customers", sa.Integer, nullable=False),
)

target_list_members = sa.Table(
    "target_list_members",
    metadata,
    sa.Column("list_id", sa.Integer, primary_key=True),
    _customer_id(primary_key=True),
    sa.Column("segment", sa.String(200)),
    sa.Column("reason", sa.Text),
    sa.Column("offer", sa.String(200)),
)
# Business expansion (业扩报装): one row per application, with the date each stage was reached.
# A new connection names its applicant until the connected customer's id is known.
APPLICATION_TYPES = (
    "new_connection",
    "capacity_increase",
    "capacity_decrease",
    "temporary",
    "closure",
)
# The stages in the order an application passes them: 受理, 勘查, 答复, 验收, 装表接电.
APPLICATION_STAGES = ("accepted", "surveyed", "answered", "inspected", "connected")

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("application_id", sa.String(40), primary_key=True),
    _customer_id(nullable=True),
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

ENTITY_TABLES = (*ENTITY_TABLES, applications)
# Campaign plans (core.campaigns): how a campaign's members were drawn, and its arms. The
# members themselves are campaign_members rows; the outcomes come back by import.
CAMPAIGN_CHANNELS = ("sms", "app_push", "wechat", "phone", "visit")

campaign_plans = sa.Table(
    "campaign_plans",
    metadata,
    sa.Column("campaign_id", sa.String(40), primary_key=True),
    # The holdout's share of the members, and the seed that reproduces the draw.
    sa.Column("holdout_share", sa.Float, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    # The strata the draw was balanced within, comma-separated (segment, usage_decile).
    sa.Column("strata", sa.String(100)),
    # Where the members came from: a target list, a segment or a list of customer ids.
    sa.Column("source_kind", sa.String(20), nullable=False),
    sa.Column("source_ref", sa.String(200)),
    # Online non-responders become an offline follow-up list after this many days.
    sa.Column("follow_up_days", sa.Integer),
    sa.Column("created_by", sa.String(60)),
    sa.Column("created_at", sa.DateTime),
)

campaign_arms = sa.Table(
    "campaign_arms",
    metadata,
    sa.Column("campaign_id", sa.String(40), primary_key=True),
    sa.Column("arm", sa.String(20), primary_key=True),
    sa.Column("offer", sa.String(200)),
    sa.Column("channel", sa.String(40)),
    sa.Column("cost_per_contact_cny", sa.Numeric(10, 2)),
    sa.Column("planned_share", sa.Float, nullable=False),
)

# Abnormal use and inspection (反窃查违 / 稽查): transformer-area supply-meter energy, the risk
# scores of each customer, the models behind them, and the inspection orders with their history.
area_readings = sa.Table(
    "area_readings",
    metadata,
    # The energy through a transformer area's supply meter (台区总表): what its customers' meters
    # should add up to, less the technical line loss.
    sa.Column("transformer_area", sa.String(40), primary_key=True),
    sa.Column("ts", sa.DateTime, primary_key=True),
    sa.Column("kwh", sa.Double, nullable=False),
)
ENTITY_TABLES = (*ENTITY_TABLES, area_readings)

RISK_KINDS = ("abnormal", "arrears", "churn", "complaint")

risk_scores = sa.Table(
    "risk_scores",
    metadata,
    _customer_id(primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    # A probability (0-1) for the models; the combined likelihood for abnormal use.
    sa.Column("score", sa.Double, nullable=False),
    sa.Column("model_version", sa.String(40), nullable=False),
    # The last day of data the score was computed from.
    sa.Column("scored_on", sa.Date, nullable=False),
    sa.Column("computed_at", sa.DateTime, nullable=False),
    sa.Column("revenue_at_risk_cny", sa.Double),
    # Arrears: "assistance" (can't pay) or "collection" (won't pay).
    sa.Column("triage", sa.String(20)),
    # The reasons as catalog keys and their values (JSON), rendered in the reader's language.
    sa.Column("factors", sa.Text),
)

risk_models = sa.Table(
    "risk_models",
    metadata,
    sa.Column("model_version", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("trained_at", sa.DateTime, nullable=False),
    sa.Column("trained_by", sa.String(60)),
    # Training rows come from snapshots before this day, the holdout from the snapshot on it.
    sa.Column("holdout_cutoff", sa.Date),
    sa.Column("holdout_auc", sa.Double),
    sa.Column("brier", sa.Double),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("positives", sa.Integer, nullable=False),
    # Predicted against observed rate per bin, and the model's weights, as JSON.
    sa.Column("calibration", sa.Text),
    sa.Column("details", sa.Text),
)

INSPECTION_STATES = ("created", "dispatched", "on_site", "resolved")
INSPECTION_OUTCOMES = ("confirmed_theft", "meter_fault", "vacancy", "no_issue")

inspection_orders = sa.Table(
    "inspection_orders",
    metadata,
    _identity("inspection_orders"),
    _customer_id(),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("assignee", sa.String(60), nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(60), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("outcome", sa.String(20)),
    sa.Column("recovered_cny", sa.Numeric(14, 2)),
    sa.Column("resolved_at", sa.DateTime),
    # What the list said when the order was made: the evidence the outcome is judged against.
    sa.Column("score", sa.Double),
    sa.Column("revenue_at_risk_cny", sa.Double),
    sa.Column("reasons", sa.Text),
    sa.Column("model_version", sa.String(40)),
    # The chance that this customer was picked for inspection at all, for weighting its outcome
    # as a label (the inspected are a biased sample of all customers).
    sa.Column("selection_propensity", sa.Double),
)

inspection_events = sa.Table(
    "inspection_events",
    metadata,
    _identity("inspection_events"),
    sa.Column("order_id", sa.Integer, nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("user_name", sa.String(60), nullable=False),
    sa.Column("from_state", sa.String(20)),
    sa.Column("to_state", sa.String(20), nullable=False),
    sa.Column("outcome", sa.String(20)),
    sa.Column("recovered_cny", sa.Numeric(14, 2)),
    sa.Column("note", sa.Text),
)

# Sign-in sessions and the organisation tree (migration 0003_sessions_org).

# A signed-in browser's session, found again after a reload by its token; only the token's
# SHA-256 is kept, so the table gives nobody a way in.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(60), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime),
)

# The utility's organisation: the city, its districts, their service offices (供电所) and the
# transformer areas (台区) each office serves. A unit's path is its parents' names and its own,
# joined by "/" ("" for the city); scopes of accounts are paths.
ORG_LEVELS = ("city", "district", "service_office", "transformer_area")
org_units = sa.Table(
    "org_units",
    metadata,
    sa.Column("path", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("level", sa.String(20), nullable=False),
    sa.Column("parent", sa.String(200)),
)

# The organisation tree is imported like the other tables.
ENTITY_TABLES = (*ENTITY_TABLES, org_units)
