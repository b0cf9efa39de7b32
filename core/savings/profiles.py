"""Load profiles: every customer's energy per hour class and month, summed in the store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import errors, tariffs
from core.savings.store import MONTHS_RANKED, priced_window
from core.store import engine as store_engine
from core.store import frames, functions, schema
from core.tariffs import PERIODS, Tariff

# Readings per hour that tell a 15-minute, 30-minute and hourly interval, with room for a few
# missing readings (the rule the features use for maximum demand).
_INTERVALS = ((3.0, 15), (1.5, 30), (0.5, 60))
# Intervals whose monthly sums per hour class bill exactly: the energy of a reading lies in the
# hour it starts, and one reading is one demand window. Other customers (30-minute readings,
# whose demand window is an hour of two readings, and daily readings, which are spread over their
# hours) are billed from their readings.
_SUMMED_INTERVALS = (15, 60)

_work = sa.MetaData()
_hour_classes = sa.Table(
    "work_hour_classes",
    _work,
    sa.Column("hour_start", sa.DateTime, nullable=False),
    sa.Column("bucket", sa.Integer, nullable=False),
    sa.Column("hour_of_day", sa.Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class HourClasses:
    """The hours of a window grouped so that every tariff of a catalog prices a group one way.

    Two hours fall in the same class when every tariff puts them in the same period; a catalog
    of a few time-of-use schedules has a handful of classes, so a month of readings sums to a
    handful of figures per customer, from which any tariff's period split follows.

    Attributes:
        start: the first hour.
        end: the hour after the last.
        months: the calendar months of the window, ``YYYY-MM``.
        labels: per tariff code, the index into :data:`core.tariffs.PERIODS` of each class.
        classes: the number of classes.
        bucket_hours: hours in each (month, class) bucket, index ``month * classes + class``.
    """

    start: dt.datetime
    end: dt.datetime
    months: tuple[str, ...]
    labels: dict[str, np.ndarray]
    classes: int
    bucket_hours: np.ndarray

    @classmethod
    def of(
        cls, catalog: Mapping[str, Tariff], start: dt.datetime, end: dt.datetime
    ) -> tuple[HourClasses, pd.DataFrame]:
        """The classes of a catalog over a window, and the hour table (hour_start, bucket)."""
        hours = pd.date_range(start, end, freq="h", inclusive="left", unit="ns")
        codes = list(catalog)
        stacked = np.stack([tariffs.period_index(catalog[code], hours) for code in codes], axis=1)
        distinct, inverse = np.unique(stacked, axis=0, return_inverse=True)
        month = (hours.year - start.year) * 12 + hours.month - start.month
        bucket = month.to_numpy() * len(distinct) + inverse.ravel()
        months = tuple(
            f"{stamp.year}-{stamp.month:02d}"
            for stamp in pd.date_range(start, end, freq="MS", inclusive="left")
        )
        classes = cls(
            start=start,
            end=end,
            months=months,
            labels={code: distinct[:, number] for number, code in enumerate(codes)},
            classes=len(distinct),
            bucket_hours=np.bincount(bucket, minlength=len(months) * len(distinct)),
        )
        table = pd.DataFrame(
            {"hour_start": hours, "bucket": bucket, "hour_of_day": hours.hour.to_numpy()}
        )
        return classes, table


@dataclass(frozen=True)
class LoadProfile:
    """What customers used in a window, in the form any tariff of a catalog can be priced from.

    Built from the store by :func:`load_profile` (one SQL aggregation for every customer) or from
    readings in memory by :meth:`from_readings`; both price the same readings to the same fen.

    Attributes:
        classes: the hour classes of the catalog over the window; None for a profile built from
            readings only.
        sums: one row per customer-month: ``customer_id``, ``month`` (position in
            ``classes.months``), ``class_<n>`` (kWh in each hour class), ``kvarh`` (NaN unless
            every reading of the month has it), ``max_demand_kw`` and ``interval_minutes``.
        readings: the readings of the customers billed from their readings (``customer_id``,
            ``ts``, ``kwh``, ``kvarh``, each customer in time order).
    """

    classes: HourClasses | None
    sums: pd.DataFrame
    readings: pd.DataFrame

    @classmethod
    def from_readings(cls, readings: pd.DataFrame, source: str = "readings") -> LoadProfile:
        """A profile of readings in memory (an upload, a typical profile, one store customer).

        Raises:
            UserError: the readings are invalid.
        """
        clean = tariffs.clean_readings(readings, source)
        return cls(None, pd.DataFrame(columns=["customer_id", "month"]), clean)

    @property
    def customer_ids(self) -> list[str]:
        """The customers with readings in the profile."""
        ids = set(self.sums["customer_id"].astype(str)) | set(
            self.readings["customer_id"].astype(str)
        )
        return sorted(ids)

    def usage(
        self,
        tariff: Tariff,
        capacity_kva: float | Mapping[str, float] | None = None,
        customer_ids: Collection[str] | None = None,
    ) -> pd.DataFrame:
        """The monthly usage frame of the profile's customers under a tariff's periods.

        Args:
            tariff: a tariff of the catalog the profile was built with.
            capacity_kva: contract capacity, one figure or one per customer id.
            customer_ids: only these customers; all when None.

        Returns:
            :data:`core.tariffs.USAGE_COLUMNS` and ``interval_minutes``, one row per
            customer-month, ordered by customer and month.
        """
        sums, readings = self.sums, self.readings
        if customer_ids is not None:
            sums = sums[_among(sums["customer_id"], customer_ids)]
            readings = readings[_among(readings["customer_id"], customer_ids)]
        parts = []
        if len(sums):
            usage = self._summed_usage(tariff, sums, sums["customer_id"].to_numpy())
            parts.append(_with_capacity(usage, capacity_kva))
        if len(readings):
            parts.append(tariffs.monthly_usage(readings, tariff, capacity_kva))
        if not parts:
            return pd.DataFrame(columns=[*tariffs.USAGE_COLUMNS, "interval_minutes"])
        if len(parts) == 1:
            return parts[0]
        usage = pd.concat(parts, ignore_index=True)
        return usage.sort_values(["customer_id", "period"], kind="stable", ignore_index=True)

    def _summed_usage(
        self, tariff: Tariff, sums: pd.DataFrame, customers: np.ndarray
    ) -> pd.DataFrame:
        """Usage rows of the class sums, the customer column filled with ``customers``."""
        classes = self.classes
        if classes is None or tariff.code not in classes.labels:
            raise errors.UserError("savings.error.tariff_not_profiled", tariff=tariff.code)
        onehot = np.zeros((classes.classes, len(PERIODS)))
        onehot[np.arange(classes.classes), classes.labels[tariff.code]] = 1.0
        energy = sums[[f"class_{number}" for number in range(classes.classes)]].to_numpy(float)
        by_period = energy @ onehot
        interval = sums["interval_minutes"].to_numpy(float)
        return pd.DataFrame(
            {
                "customer_id": customers,
                # Categorical: every row names one of a dozen months.
                "period": pd.Categorical.from_codes(
                    sums["month"].to_numpy(int), categories=list(classes.months)
                ),
                **{f"kwh_{period}": by_period[:, n] for n, period in enumerate(PERIODS)},
                "kvarh": sums["kvarh"].to_numpy(float),
                "max_demand_kw": sums["max_demand_kw"].to_numpy(float),
                "demand_interval": pd.Categorical.from_codes(
                    (interval > tariffs.DEMAND_15MIN_MAX_MINUTES).astype(int),
                    categories=["15min", "hourly"],
                ),
                "interval_minutes": interval,
                "contract_capacity_kva": np.nan,
            }
        )[[*tariffs.USAGE_COLUMNS, "interval_minutes"]]


def _with_capacity(
    usage: pd.DataFrame, capacity_kva: float | Mapping[str, float] | None
) -> pd.DataFrame:
    if isinstance(capacity_kva, Mapping):
        capacity = usage["customer_id"].map(capacity_kva).astype(float)
    else:
        capacity = np.nan if capacity_kva is None else float(capacity_kva)
    return usage.assign(contract_capacity_kva=capacity)


class _CodedProfile:
    """A profile whose customers are numbered by their position in an archive.

    The ranking prices every customer under every tariff; integer customer numbers keep the many
    groupings and selections it makes free of string handling.
    """

    def __init__(self, profile: LoadProfile, ids: pd.Index) -> None:
        self.profile = profile
        self.ids = ids
        self.sum_codes = ids.get_indexer(profile.sums["customer_id"].astype(object))
        self.numbers = profile.sums.drop(columns="customer_id")
        self.reading_codes = ids.get_indexer(profile.readings["customer_id"].astype(object))
        self.present = np.zeros(len(ids), dtype=bool)
        self.present[self.sum_codes[self.sum_codes >= 0]] = True
        self.present[self.reading_codes[self.reading_codes >= 0]] = True

    def usage(self, tariff: Tariff, capacity: np.ndarray, wanted: np.ndarray) -> pd.DataFrame:
        """Usage rows of the wanted customers (a mask over the archive), numbered customers."""
        parts = []
        rows = (self.sum_codes >= 0) & wanted[np.maximum(self.sum_codes, 0)]
        if rows.any():
            codes = self.sum_codes[rows]
            usage = self.profile._summed_usage(tariff, self.numbers[rows], codes)
            parts.append(usage.assign(contract_capacity_kva=capacity[codes]))
        rows = (self.reading_codes >= 0) & wanted[np.maximum(self.reading_codes, 0)]
        if rows.any():
            usage = tariffs.monthly_usage(self.profile.readings[rows], tariff)
            codes = self.ids.get_indexer(usage["customer_id"].astype(object))
            parts.append(usage.assign(customer_id=codes, contract_capacity_kva=capacity[codes]))
        if not parts:
            return pd.DataFrame(columns=[*tariffs.USAGE_COLUMNS, "interval_minutes"])
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def load_profile(
    engine: sa.Engine,
    catalog: Mapping[str, Tariff] | None = None,
    months: int = MONTHS_RANKED,
    customer_ids: Collection[str] | None = None,
) -> LoadProfile:
    """Every customer's energy per hour class and month of the priced window, summed in the store.

    One aggregation over the readings, joined to a table of the window's hours and their class,
    returns a few rows per customer-month; customers whose readings those sums cannot bill
    exactly (see :data:`_SUMMED_INTERVALS`) are read reading by reading.

    Args:
        engine: the store.
        catalog: the tariff catalog; the default file when None.
        months: calendar months back from the last reading (see :func:`priced_window`).
        customer_ids: only these customers; every customer when None.

    Returns:
        The profile; empty when the store has no readings.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    r = schema.readings
    with engine.begin() as conn:
        try:
            start, end = priced_window(conn, months)
        except errors.UserError:
            return LoadProfile(None, pd.DataFrame(columns=["customer_id", "month"]), _no_readings())
        classes, hours = HourClasses.of(catalog, start, end)
        # A temporary table lives on its connection; dropped by name, as the inspector of some
        # backends does not list temporary tables.
        conn.execute(sa.schema.DropTable(_hour_classes, if_exists=True))
        conn.execute(sa.schema.CreateTable(_hour_classes))
        try:
            store_engine.bulk_insert(conn, _hour_classes, hours)
            window = sa.and_(r.c.ts >= start, r.c.ts < end)
            if customer_ids is not None:
                window = sa.and_(window, r.c.customer_id.in_(list(customer_ids)))
            h = _hour_classes.c
            query = (
                sa.select(
                    r.c.customer_id,
                    h.bucket,
                    sa.func.sum(r.c.kwh).label("kwh"),
                    sa.func.sum(r.c.kvarh).label("kvarh"),
                    sa.func.count(r.c.kvarh).label("kvarh_readings"),
                    sa.func.count().label("readings"),
                    sa.func.max(r.c.kwh).label("max_kwh"),
                    sa.func.max(h.hour_of_day).label("last_hour"),
                )
                .select_from(r.join(_hour_classes, h.hour_start == functions.hour_start(r.c.ts)))
                .where(window)
                .group_by(r.c.customer_id, h.bucket)
            )
            buckets = frames.read_frame(conn, query)
            sums, detailed = _bucket_sums(buckets, classes)
            readings = _no_readings()
            if detailed:
                readings = _readings_of(conn, detailed, start, end)
        finally:
            conn.execute(sa.schema.DropTable(_hour_classes, if_exists=True))
    return LoadProfile(classes, sums, readings)


def _among(values: pd.Series, wanted: Collection[str]) -> np.ndarray:
    """Whether each value is one of ``wanted``, hashing each wanted id once."""
    index = pd.Index(pd.unique(np.asarray(list(wanted), dtype=object)), dtype=object)
    return index.get_indexer(values.astype(object)) >= 0


def _no_readings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=str),
            "ts": pd.Series(dtype="datetime64[ns]"),
            "kwh": pd.Series(dtype=float),
            "kvarh": pd.Series(dtype=float),
        }
    )


def _bucket_sums(buckets: pd.DataFrame, classes: HourClasses) -> tuple[pd.DataFrame, list[str]]:
    """Customer-month rows from the (customer, bucket) sums, and the customers to read in full."""
    if buckets.empty:
        return pd.DataFrame(columns=["customer_id", "month"]), []
    codes, ids = pd.factorize(buckets["customer_id"].astype(str))
    bucket = buckets["bucket"].to_numpy(np.int64)
    readings = buckets["readings"].to_numpy(float)
    # A month's worth of one class is enough to tell the interval; the fullest bucket decides.
    per_hour = np.zeros(len(ids))
    np.maximum.at(per_hour, codes, readings / classes.bucket_hours[bucket])
    last_hour = np.zeros(len(ids))
    np.maximum.at(last_hour, codes, buckets["last_hour"].to_numpy(float))
    minutes = np.full(len(ids), 1440.0)
    for floor, interval in reversed(_INTERVALS):
        minutes = np.where(per_hour >= floor, interval, minutes)
    minutes = np.where(last_hour == 0, 1440.0, minutes)
    summed = np.isin(minutes, _SUMMED_INTERVALS)
    keep = summed[codes]
    detailed = [str(customer) for customer in ids[~summed]]

    codes, bucket = codes[keep], bucket[keep]
    month, hour_class = bucket // classes.classes, bucket % classes.classes
    row_keys = codes * len(classes.months) + month
    rows, row_of = np.unique(row_keys, return_inverse=True)
    energy = np.zeros((len(rows), classes.classes))
    np.add.at(energy, (row_of, hour_class), buckets["kwh"].to_numpy(float)[keep])
    kvarh = np.bincount(row_of, weights=np.nan_to_num(buckets["kvarh"].to_numpy(float)[keep]))
    metered = np.bincount(row_of, weights=buckets["kvarh_readings"].to_numpy(float)[keep])
    counted = np.bincount(row_of, weights=readings[keep])
    row_customer = rows // len(classes.months)
    factor = 60 / minutes[row_customer]
    max_kwh = np.zeros(len(rows))
    np.maximum.at(max_kwh, row_of, buckets["max_kwh"].to_numpy(float)[keep])
    sums = pd.DataFrame(
        {
            "customer_id": ids[row_customer].astype(str),
            "month": rows % len(classes.months),
            **{f"class_{number}": energy[:, number] for number in range(classes.classes)},
            "kvarh": np.where(metered == counted, kvarh, np.nan),
            "max_demand_kw": max_kwh * factor,
            "interval_minutes": minutes[row_customer],
        }
    )
    return sums.sort_values(["customer_id", "month"], kind="stable", ignore_index=True), detailed


def _readings_of(
    conn: sa.Connection, customer_ids: list[str], start: dt.datetime, end: dt.datetime
) -> pd.DataFrame:
    r = schema.readings
    readings = frames.read_frame(
        conn,
        sa.select(r.c.customer_id, r.c.ts, r.c.kwh, r.c.kvarh)
        .where(r.c.customer_id.in_(customer_ids), r.c.ts >= start, r.c.ts < end)
        .order_by(r.c.customer_id, r.c.ts),
    )
    readings["customer_id"] = readings["customer_id"].astype(str)
    readings["ts"] = readings["ts"].astype("datetime64[ns]")
    for column in ("kwh", "kvarh"):
        readings[column] = pd.to_numeric(readings[column]).astype(float)
    return readings
