"""The standardized feature matrix segments are fitted on, read from the ``features`` table.

Shares and ratios enter as they are; sizes (kWh, revenue, arrears) and counts enter on a log
scale so that a handful of large industrial customers do not stretch the axis every household
sits on; ratios around one (night/day, weekday/weekend, season) on a log scale so that twice and
half are equally far from one. Every column is then centred and scaled, and clipped at a few
standard deviations: an outlier joins the nearest segment instead of claiming one of its own.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access
from core.store import frames, schema

# The features a segment is made of: load behaviour, value, service and risk (DESIGN §2).
CLUSTER_FEATURES = (
    "annual_kwh",
    "load_factor",
    "peak_share",
    "valley_share",
    "night_day_ratio",
    "weekday_weekend_ratio",
    "volatility",
    "summer_ratio",
    "winter_ratio",
    "yoy_growth",
    "annual_revenue_cny",
    "payment_punctuality",
    "arrears_cny",
    "online_share",
    "complaints",
    "late_payments",
)
# Sizes and counts: log(1 + x). Ratios around one: log(x).
LOG1P_FEATURES = ("annual_kwh", "annual_revenue_cny", "arrears_cny", "complaints", "late_payments")
LOG_RATIO_FEATURES = ("night_day_ratio", "weekday_weekend_ratio", "summer_ratio", "winter_ratio")
# A ratio this small (or a missing denominator) is read as this floor before the log.
RATIO_FLOOR = 0.01
# Growth beyond ±100 % is a meter change or a new connection, not behaviour.
GROWTH_LIMIT = 1.0
# What a missing value means: no online contact is no online share, no bill due is nothing late,
# no year before is no growth. Other gaps take the column's median.
MISSING_MEANS = {"online_share": 0.0, "payment_punctuality": 1.0, "yoy_growth": 0.0}
# Standardized values are clipped here (see the module's docstring).
CLIP_SD = 3.0
# The archive columns read beside the features: for names, maps and drill-downs.
ARCHIVE_COLUMNS = ("customer_class", "region", "transformer_area", "lat", "lon", "tariff_code")


@dataclass(frozen=True)
class Scaler:
    """How raw features become standardized columns; kept with a run to compare runs.

    Attributes:
        features: the feature names, in column order.
        fill: the value put in for a missing feature (raw units).
        mean: the mean of each transformed column.
        scale: the standard deviation of each transformed column (1 where it is constant).
    """

    features: tuple[str, ...]
    fill: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def transform(self, raw: pd.DataFrame) -> np.ndarray:
        """Standardized, clipped columns of the raw features in ``raw``."""
        values = transformed(
            raw.loc[:, list(self.features)].fillna(dict(zip(self.features, self.fill, strict=True)))
        )
        standard = (values - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.clip(standard, -CLIP_SD, CLIP_SD)

    def to_standard(self, transformed_values: np.ndarray) -> np.ndarray:
        """Transformed (log-scaled) values in this scaler's standard units, unclipped."""
        return (np.asarray(transformed_values) - np.asarray(self.mean)) / np.asarray(self.scale)

    def to_transformed(self, standard: np.ndarray) -> np.ndarray:
        """Standard units back to transformed (log-scaled) values."""
        return np.asarray(standard) * np.asarray(self.scale) + np.asarray(self.mean)

    def as_dict(self) -> dict:
        """The scaler as JSON-ready lists, kept in a run's model."""
        return {
            "features": list(self.features),
            "fill": list(self.fill),
            "mean": list(self.mean),
            "scale": list(self.scale),
        }

    @classmethod
    def from_dict(cls, stored: dict) -> "Scaler":
        """The scaler :meth:`as_dict` kept."""
        return cls(
            tuple(stored["features"]),
            tuple(stored["fill"]),
            tuple(stored["mean"]),
            tuple(stored["scale"]),
        )


def transformed(raw: pd.DataFrame) -> np.ndarray:
    """The raw feature columns of ``raw`` on the scales clustering uses (see module docstring)."""
    columns = []
    for name in raw.columns:
        values = raw[name].to_numpy(dtype=float)
        if name in LOG1P_FEATURES:
            values = np.log1p(np.maximum(values, 0.0))
        elif name in LOG_RATIO_FEATURES:
            values = np.log(np.maximum(values, RATIO_FLOOR))
        elif name == "yoy_growth":
            values = np.clip(values, -GROWTH_LIMIT, GROWTH_LIMIT)
        columns.append(values)
    return np.column_stack(columns) if columns else np.empty((len(raw), 0))


def fit_scaler(raw: pd.DataFrame, features: tuple[str, ...] = CLUSTER_FEATURES) -> Scaler:
    """The scaler of ``raw``'s features: fill values, means and standard deviations.

    Args:
        raw: one row per customer with the feature columns.
        features: the columns to use.
    """
    fill = []
    for name in features:
        if name in MISSING_MEANS:
            fill.append(MISSING_MEANS[name])
        else:
            median = raw[name].median()
            fill.append(0.0 if pd.isna(median) else float(median))
    filled = raw.loc[:, list(features)].fillna(dict(zip(features, fill, strict=True)))
    values = transformed(filled)
    mean = values.mean(axis=0) if len(values) else np.zeros(len(features))
    scale = values.std(axis=0) if len(values) else np.ones(len(features))
    scale = np.where(scale > 1e-12, scale, 1.0)
    return Scaler(tuple(features), tuple(fill), tuple(map(float, mean)), tuple(map(float, scale)))


def read_features(
    conn: sa.Connection, viewer: access.Viewer, customer_ids: list[str] | None = None
) -> pd.DataFrame:
    """The stored features of the customers in ``viewer``'s scope, with their archive columns.

    Args:
        conn: a store connection.
        viewer: whose customers.
        customer_ids: only these customers; all in scope when None.

    Returns:
        customer_id, period_end, the :data:`ARCHIVE_COLUMNS` and every feature column, in
        customer-id order.
    """
    features, customers = schema.features, schema.customers
    query = (
        sa.select(
            features.c.customer_id,
            features.c.period_end,
            *(customers.c[name] for name in ARCHIVE_COLUMNS),
            *(features.c[name] for name in schema.FEATURE_COLUMNS),
        )
        .join(customers, customers.c.customer_id == features.c.customer_id)
        .where(access.customer_scope(viewer))
        .order_by(features.c.customer_id)
    )
    if customer_ids is not None:
        query = query.where(features.c.customer_id.in_(customer_ids))
    frame = frames.read_frame(conn, query)
    numeric = list(schema.FEATURE_COLUMNS) + ["lat", "lon"]
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
    return frame


def untransformed(values: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """Transformed values (rows × ``features``) back in raw units: a centroid as a profile.

    The mean of log values comes back as a geometric mean, which is what a typical member of a
    segment of skewed sizes looks like.
    """
    raw = np.array(values, dtype=float, copy=True, ndmin=2)
    for position, name in enumerate(features):
        if name in LOG1P_FEATURES:
            raw[:, position] = np.expm1(raw[:, position])
        elif name in LOG_RATIO_FEATURES:
            raw[:, position] = np.exp(raw[:, position])
    return raw
