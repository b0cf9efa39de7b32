"""Bills of every customer under every tariff it may choose, one customer per pandas group.

The group function is the tariff page's plan comparison (:func:`core.savings.compare_plans`) on
the customer's readings of the priced months (:func:`core.savings.window_ending`): Spark
cogroups each customer's readings from the lake with its archive row and maps the function over
the groups, so a bill on Spark is the bill the app shows, to the fen.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from core import errors, savings
from core.spark import features as spark_features
from core.spark import lake
from core.store import schema
from core.tariffs import Tariff

# One row per customer and option: the plan comparison's figures, and why a customer that has
# readings could not be billed (``error``, English; the option columns are then empty).
BILL_COLUMNS = (
    ("customer_id", "string"),
    ("code", "string"),
    ("basic_basis", "string"),
    ("kwh_total", "double"),
    ("energy_charge_cny", "double"),
    ("basic_charge_cny", "double"),
    ("pf_adjustment_cny", "double"),
    ("amount_cny", "double"),
    ("saving_cny", "double"),
    ("current", "boolean"),
    ("error", "string"),
)
BILL_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in BILL_COLUMNS)
ARCHIVE = ("customer_id", "customer_class", "tariff_code", "contract_capacity_kva")


@dataclass(frozen=True)
class BillsSummary:
    """What a bills job wrote.

    Attributes:
        customers: customers billed.
        rows: customer-option rows.
        failed: customers with readings that could not be billed.
        start: first instant priced.
        end: the instant after the last month priced.
        output: the Parquet folder of the rows.
        seconds: wall time.
    """

    customers: int
    rows: int
    failed: int
    start: dt.datetime
    end: dt.datetime
    output: str
    seconds: float


def _empty() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=_dtype(kind)) for name, kind in BILL_COLUMNS})


def _dtype(kind: str) -> str:
    return {"string": "object", "double": "float64", "boolean": "bool"}[kind]


def customer_plans(
    customer: pd.DataFrame, readings: pd.DataFrame, catalog: Mapping[str, Tariff]
) -> pd.DataFrame:
    """One customer's bills under every option it may choose, as rows of :data:`BILL_COLUMNS`.

    Args:
        customer: the customer's archive row (:data:`ARCHIVE`); empty for readings of a customer
            the archive does not have (no rows then).
        readings: the customer's readings of the priced months (``ts``, ``kwh``, ``kvarh``);
            empty for a customer without readings (no rows then, as the app has no bill for it).
        catalog: the tariff catalog.
    """
    if customer.empty or readings.empty:
        return _empty()
    row = customer.iloc[0]
    capacity = row["contract_capacity_kva"]
    capacity = None if pd.isna(capacity) else float(capacity)
    ordered = readings.sort_values("ts", ignore_index=True)
    frame = pd.DataFrame(
        {
            "ts": ordered["ts"].astype("datetime64[ns]"),
            "kwh": pd.to_numeric(ordered["kwh"]).astype(float),
            "kvarh": pd.to_numeric(ordered["kvarh"]).astype(float),
        }
    )
    try:
        plans = savings.compare_plans(
            frame, catalog, str(row["customer_class"]), str(row["tariff_code"]), capacity
        )
    except errors.UserError as error:
        failed = _empty().reindex([0])
        failed["customer_id"] = str(row["customer_id"])
        failed["current"] = False
        failed["error"] = str(error)
        return failed
    plans = plans.assign(customer_id=str(row["customer_id"]), error=None)
    return plans[[name for name, _ in BILL_COLUMNS]].astype(
        {"basic_basis": object, "current": bool}
    )


def run(spark, lake_dir: str, catalog: Mapping[str, Tariff], months: int = savings.MONTHS_RANKED):
    """The bills of every customer of the lake, as a Spark DataFrame.

    Args:
        spark: the session.
        lake_dir: the lake; its views are registered with the priced months only.
        catalog: the tariff catalog, shipped to the executors with the function.
        months: calendar months priced (the app's default).

    Returns:
        ``(rows, start, end)``: the DataFrame of :data:`BILL_COLUMNS` and the window priced.
    """
    last = lake.manifest(lake_dir).get("last_reading")
    if last is None:
        raise errors.UserError("spark.error.lake_without_readings")
    start, end = savings.window_ending(dt.datetime.fromisoformat(last), months)
    last_month = end - dt.timedelta(days=1)
    spark_features.register_lake(spark, lake_dir, (f"{start:%Y-%m}", f"{last_month:%Y-%m}"))
    readings = spark.table(schema.readings.name).where(
        f"ts >= TIMESTAMP_NTZ '{start:%Y-%m-%d %H:%M:%S}' "
        f"AND ts < TIMESTAMP_NTZ '{end:%Y-%m-%d %H:%M:%S}'"
    )
    customers = spark.table(schema.customers.name).select(*ARCHIVE)

    def plans(customer: pd.DataFrame, group: pd.DataFrame) -> pd.DataFrame:
        return customer_plans(customer, group, catalog)

    rows = (
        customers.groupBy("customer_id")
        .cogroup(readings.select("customer_id", "ts", "kwh", "kvarh").groupBy("customer_id"))
        .applyInPandas(plans, schema=BILL_SCHEMA)
    )
    return rows, start, end
