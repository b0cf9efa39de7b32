"""Plain-language names of segments from their profiles, with the rules that justify each name.

A profile is a segment's centroid in raw units (shares as fractions, sizes as their typical value);
the base is the centroid of all customers. The rules are tried in order, the groups the data
shows most clearly first (night charging, seasonal use, continuous production), then the four
operable groups of the seeds (high-value stable, price-sensitive peak-shiftable, service-sensitive
complaint-prone, low-activity churn-prone), then a name by the customers' class. Each rule says
which figures made it fire, so that the page and the command line can show them in words.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core import i18n, tags

Profile = Mapping[str, float]

NAME_CODES = (
    "night_chargers",
    "seasonal_irrigation",
    "seasonal_production",
    "continuous_industry",
    "service_sensitive",
    "payment_risk",
    "high_value_stable",
    "low_activity",
    "price_sensitive",
    "weekday_business",
    "residential_base",
    "commercial_base",
    "industrial_base",
    "agricultural_base",
    "mixed",
)
# How each profile figure is written (core.tags.format_value units); counts are per customer.
FEATURE_UNITS = {
    "annual_kwh": "kwh",
    "load_factor": "percent",
    "peak_share": "percent",
    "valley_share": "percent",
    "night_day_ratio": "ratio",
    "weekday_weekend_ratio": "ratio",
    "volatility": "percent",
    "summer_ratio": "ratio",
    "winter_ratio": "ratio",
    "yoy_growth": "percent",
    "annual_revenue_cny": "cny",
    "payment_punctuality": "percent",
    "arrears_cny": "cny",
    "online_share": "percent",
    "complaints": "mean_count",
    "late_payments": "mean_count",
}
# Night use at least this many times day use, and twice the base's: a charger on the meter.
NIGHT_RATIO = 1.5
# Summer at least this many times spring/autumn, or winter at most this share of it.
SEASONAL_SUMMER_RATIO = 1.8
SEASONAL_WINTER_RATIO = 0.5
# Round-the-clock production: a high load factor, workdays and rest days alike.
CONTINUOUS_LOAD_FACTOR = 0.5
CONTINUOUS_WEEK_RATIO = (0.8, 1.25)
# Complaint-prone: at least one complaint per two customers a year, twice the base's rate.
COMPLAINTS_PER_CUSTOMER = 0.5
# Payment risk: at least two late bills a year per customer, twice the base's.
LATE_PAYMENTS_PER_CUSTOMER = 2.0
# High value: revenue many times the base's typical customer, paid on time, steady load.
HIGH_VALUE_REVENUE_FACTOR = 5.0
HIGH_VALUE_PUNCTUALITY = 0.9
# Low activity: use well below the base's and shrinking, or offline and small.
LOW_ACTIVITY_KWH_FACTOR = 0.6
LOW_ACTIVITY_GROWTH = -0.1
LOW_ACTIVITY_ONLINE_GAP = 0.1
# Price-sensitive, peak-shiftable: a peak share this much above the base's.
PEAK_SHARE_MARGIN = 0.05
# A weekday business uses this many times as much on workdays as on rest days.
WEEKDAY_RATIO = 1.8
# A segment's class is its class when at least half its customers have it.
DOMINANT_CLASS_SHARE = 0.5
# Figures compared "times the base" are shown as such only for sizes; the rest as values.
SIZE_FEATURES = ("annual_kwh", "annual_revenue_cny", "arrears_cny")


@dataclass(frozen=True)
class Named:
    """A segment's name and why.

    Attributes:
        code: one of :data:`NAME_CODES`; its text is ``segments.name.<code>``.
        facts: the features that justify it, each compared with the base.
    """

    code: str
    facts: tuple[str, ...]


Rule = Callable[[Profile, Profile, str | None], bool]


def _night(p: Profile, b: Profile, _cls: str | None) -> bool:
    ratio = p["night_day_ratio"]
    return ratio >= NIGHT_RATIO and ratio >= 2 * b["night_day_ratio"]


def _seasonal(p: Profile, _b: Profile, _cls: str | None) -> bool:
    return p["summer_ratio"] >= SEASONAL_SUMMER_RATIO or p["winter_ratio"] <= SEASONAL_WINTER_RATIO


def _irrigation(p: Profile, b: Profile, cls: str | None) -> bool:
    return _seasonal(p, b, cls) and cls == "agricultural"


def _production(p: Profile, b: Profile, cls: str | None) -> bool:
    return _seasonal(p, b, cls) and cls != "agricultural"


def _continuous(p: Profile, _b: Profile, _cls: str | None) -> bool:
    low, high = CONTINUOUS_WEEK_RATIO
    return p["load_factor"] >= CONTINUOUS_LOAD_FACTOR and low <= p["weekday_weekend_ratio"] <= high


def _service(p: Profile, b: Profile, _cls: str | None) -> bool:
    return p["complaints"] >= COMPLAINTS_PER_CUSTOMER and p["complaints"] >= 2 * b["complaints"]


def _payment(p: Profile, b: Profile, _cls: str | None) -> bool:
    late = p["late_payments"]
    return late >= LATE_PAYMENTS_PER_CUSTOMER and late >= 2 * b["late_payments"]


def _high_value(p: Profile, b: Profile, _cls: str | None) -> bool:
    return (
        p["annual_revenue_cny"] >= HIGH_VALUE_REVENUE_FACTOR * b["annual_revenue_cny"]
        and p["payment_punctuality"] >= HIGH_VALUE_PUNCTUALITY
        and p["volatility"] <= b["volatility"]
    )


def _low_activity(p: Profile, b: Profile, _cls: str | None) -> bool:
    small = p["annual_kwh"] <= LOW_ACTIVITY_KWH_FACTOR * b["annual_kwh"]
    shrinking = p["yoy_growth"] <= LOW_ACTIVITY_GROWTH
    offline = p["online_share"] <= b["online_share"] - LOW_ACTIVITY_ONLINE_GAP
    return shrinking or (small and offline)


def _price(p: Profile, b: Profile, _cls: str | None) -> bool:
    return p["peak_share"] >= b["peak_share"] + PEAK_SHARE_MARGIN


def _weekday(p: Profile, _b: Profile, _cls: str | None) -> bool:
    return p["weekday_weekend_ratio"] >= WEEKDAY_RATIO


# (code, rule, the facts shown) in the order they are tried.
RULES: tuple[tuple[str, Rule, tuple[str, ...]], ...] = (
    ("night_chargers", _night, ("night_day_ratio", "valley_share")),
    ("seasonal_irrigation", _irrigation, ("summer_ratio", "winter_ratio")),
    ("seasonal_production", _production, ("summer_ratio", "winter_ratio")),
    ("continuous_industry", _continuous, ("load_factor", "weekday_weekend_ratio")),
    ("service_sensitive", _service, ("complaints", "online_share")),
    ("payment_risk", _payment, ("late_payments", "arrears_cny")),
    (
        "high_value_stable",
        _high_value,
        ("annual_revenue_cny", "payment_punctuality", "volatility"),
    ),
    ("low_activity", _low_activity, ("annual_kwh", "yoy_growth", "online_share")),
    ("price_sensitive", _price, ("peak_share", "valley_share")),
    ("weekday_business", _weekday, ("weekday_weekend_ratio", "load_factor")),
)
CLASS_NAMES = {
    "residential": "residential_base",
    "commercial": "commercial_base",
    "industrial": "industrial_base",
    "agricultural": "agricultural_base",
}
CLASS_FACTS = ("annual_kwh", "peak_share")


def dominant_class(shares: Mapping[str, float]) -> str | None:
    """The class most of a segment's customers have, or None when none has a clear majority."""
    if not shares:
        return None
    customer_class, share = max(shares.items(), key=lambda item: (item[1], item[0]))
    return customer_class if share >= DOMINANT_CLASS_SHARE else None


def name(profile: Profile, base: Profile, customer_class: str | None = None) -> Named:
    """The name of a segment with ``profile`` among customers whose profile is ``base``.

    Args:
        profile: the segment's centroid in raw units, by feature.
        base: the centroid of all customers.
        customer_class: the segment's dominant class (:func:`dominant_class`), or None.

    Returns:
        The first rule of :data:`RULES` that fires, else a name by the class.
    """
    for code, rule, facts in RULES:
        if rule(profile, base, customer_class):
            return Named(code, facts)
    return Named(CLASS_NAMES.get(customer_class or "", "mixed"), CLASS_FACTS)


def format_figure(feature: str, value: float, language: str) -> str:
    """One profile figure with its unit, as the name's rules show it."""
    unit = FEATURE_UNITS.get(feature, "ratio")
    if unit == "mean_count":
        return f"{value:,.1f}"
    return tags.format_value(value, unit, language)


def fact_text(feature: str, value: float, base: float, language: str) -> str:
    """One rule in words: ``Peak share 41% vs 29% overall``."""
    return i18n.translate(
        "segments.fact",
        language,
        feature=i18n.translate(f"tags.feature.{feature}", language),
        value=format_figure(feature, value, language),
        base=format_figure(feature, base, language),
    )


def label(code: str, segment_id: int, duplicated: bool, language: str) -> str:
    """A segment's display name; two segments of one name are told apart by their ids."""
    text = i18n.translate(f"segments.name.{code}", language)
    return (
        i18n.translate("segments.numbered", language, name=text, id=segment_id)
        if duplicated
        else text
    )
