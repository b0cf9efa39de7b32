"""The five tag families: named rules over customer features, thresholds in ``data/tags.toml``.

A tag is one comparison of one feature (or customer attribute) with a threshold. The rules are
evaluated as SQL over the features table, so a segment filter over every customer and the tag
chips of one customer come from the same expression; the reason a customer carries a tag is the
feature's value set beside the threshold, rendered in the user's language.
"""

import functools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import sqlalchemy as sa

from core import access, config, i18n
from core.store import engine as store_engine
from core.store import schema

DEFAULT_RULES = config.DATA_DIR / "tags.toml"
FAMILIES = ("basic", "load", "value", "service", "risk")
OPERATORS = (">=", "<=")
UNITS = ("percent", "ratio", "kwh", "kw", "kva", "kv", "cny", "count", "days", "years")
# Attributes of the customer archive that rules may use beside the features table.
ATTRIBUTES = ("contract_capacity_kva", "voltage_kv", "tenure_years")
DAYS_PER_YEAR = 365.25

Family = Literal["basic", "load", "value", "service", "risk"]


@dataclass(frozen=True)
class Rule:
    """One tag: ``feature op threshold``, for the given classes.

    Attributes:
        name: the tag's code; its display name is the i18n key ``tags.name.<name>``.
        family: one of :data:`FAMILIES`.
        feature: a features-table column or one of :data:`ATTRIBUTES`.
        op: ``>=`` or ``<=``.
        threshold: the value compared with.
        unit: how values are shown (one of :data:`UNITS`).
        per: divide the feature by this feature before comparing, or None.
        classes: customer classes that can carry the tag; empty for all.
    """

    name: str
    family: Family
    feature: str
    op: str
    threshold: float
    unit: str
    per: str | None = None
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A tag a customer carries and why.

    Attributes:
        rule: the tag's rule.
        value: the customer's value of the rule's feature.
    """

    rule: Rule
    value: float


def load_rules(path: Path | None = None) -> tuple[Rule, ...]:
    """The tag rules of a rules file, validated.

    Args:
        path: the TOML file; ``data/tags.toml`` by default.

    Returns:
        The rules in file order.

    Raises:
        ValueError: a rule names an unknown family, feature, operator or unit, lacks a field,
            or repeats a name; the message names the file and the rule.
    """
    path = path or DEFAULT_RULES
    return _load_rules_cached(str(path), path.stat().st_mtime_ns)


@functools.cache
def _load_rules_cached(path: str, _mtime_ns: int) -> tuple[Rule, ...]:
    try:
        with open(path, "rb") as handle:
            content = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from error
    entries = content.get("tags")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: no [[tags]] entries")
    rules, seen = [], set()
    for number, entry in enumerate(entries, start=1):
        rule = _parse_rule(path, number, entry)
        if rule.name in seen:
            raise ValueError(f"{path}: tag {number} repeats the name '{rule.name}'")
        seen.add(rule.name)
        rules.append(rule)
    return tuple(rules)


def _parse_rule(path: str, number: int, entry: dict) -> Rule:
    where = f"{path}: tag {number} ({entry.get('name', 'without name')})"
    for key in ("name", "family", "feature", "op", "threshold", "unit"):
        if key not in entry:
            raise ValueError(f"{where}: '{key}' is missing")
    known = set(schema.FEATURE_COLUMNS) | set(ATTRIBUTES)
    checks = (
        ("family", entry["family"], FAMILIES),
        ("feature", entry["feature"], known),
        ("op", entry["op"], OPERATORS),
        ("unit", entry["unit"], UNITS),
    )
    for key, value, allowed in checks:
        if value not in allowed:
            listed = ", ".join(sorted(allowed))
            raise ValueError(f"{where}: {key} '{value}' must be one of {listed}")
    per = entry.get("per")
    if per is not None and per not in schema.FEATURE_COLUMNS:
        raise ValueError(f"{where}: per '{per}' is not a feature")
    classes = tuple(entry.get("classes", ()))
    unknown = [name for name in classes if name not in schema.CUSTOMER_CLASSES]
    if unknown:
        raise ValueError(f"{where}: classes {', '.join(unknown)} are not customer classes")
    if not isinstance(entry["threshold"], int | float) or isinstance(entry["threshold"], bool):
        raise ValueError(f"{where}: threshold must be a number")
    return Rule(
        name=str(entry["name"]),
        family=entry["family"],
        feature=entry["feature"],
        op=entry["op"],
        threshold=float(entry["threshold"]),
        unit=entry["unit"],
        per=per,
        classes=classes,
    )


def _value(rule: Rule, period_end: sa.ColumnElement) -> sa.ColumnElement:
    features, customers = schema.features, schema.customers
    if rule.feature == "tenure_years":
        seconds = sa.cast(sa.extract("epoch", period_end), sa.Double) - sa.cast(
            sa.extract("epoch", customers.c.open_date), sa.Double
        )
        value = seconds / (86400.0 * DAYS_PER_YEAR)
    elif rule.feature in ATTRIBUTES:
        value = sa.cast(customers.c[rule.feature], sa.Double)
    else:
        value = sa.cast(features.c[rule.feature], sa.Double)
    if rule.per is not None:
        value = value / sa.func.nullif(sa.cast(features.c[rule.per], sa.Double), 0.0)
    return value


def condition(rule: Rule) -> sa.ColumnElement:
    """The rule as a boolean SQL expression over ``features`` joined with ``customers``.

    Args:
        rule: the tag's rule.

    Returns:
        True where the customer carries the tag; NULL features never match.
    """
    value = _value(rule, schema.features.c.period_end)
    compared = value >= rule.threshold if rule.op == ">=" else value <= rule.threshold
    if rule.classes:
        compared = sa.and_(schema.customers.c.customer_class.in_(rule.classes), compared)
    return sa.and_(value.is_not(None), compared)


def _source() -> sa.FromClause:
    return schema.features.join(
        schema.customers, schema.customers.c.customer_id == schema.features.c.customer_id
    )


def assign(
    engine: sa.Engine,
    viewer: access.Viewer,
    customer_ids: list[str] | None = None,
    rules: tuple[Rule, ...] | None = None,
) -> pd.DataFrame:
    """Which customers carry which tags, evaluated in the store.

    Args:
        engine: the store.
        viewer: who is asking; only customers in scope are returned.
        customer_ids: only these customers; every visible customer with features when None.
        rules: the rules to apply; :func:`load_rules` by default.

    Returns:
        One row per customer: ``customer_id`` and one boolean column per tag name.
    """
    rules = rules or load_rules()
    query = (
        sa.select(
            schema.features.c.customer_id,
            *(sa.case((condition(rule), 1), else_=0).label(rule.name) for rule in rules),
        )
        .select_from(_source())
        .where(access.customer_scope(viewer))
        .order_by(schema.features.c.customer_id)
    )
    if customer_ids is not None:
        query = query.where(schema.features.c.customer_id.in_(customer_ids))
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    for rule in rules:
        frame[rule.name] = frame[rule.name].astype(bool)
    return frame


def for_customer(
    bind: sa.Engine | sa.Connection,
    viewer: access.Viewer,
    customer_id: str,
    rules: tuple[Rule, ...] | None = None,
) -> list[Hit]:
    """The tags one customer carries, with the value behind each, in family order.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking.
        customer_id: the customer.
        rules: the rules to apply; :func:`load_rules` by default.

    Returns:
        The hits; empty when the customer has no features or is not visible to the viewer.
    """
    rules = rules or load_rules()
    period_end = schema.features.c.period_end
    query = (
        sa.select(
            *(
                sa.case((condition(rule), _value(rule, period_end)), else_=None).label(rule.name)
                for rule in rules
            )
        )
        .select_from(_source())
        .where(schema.features.c.customer_id == customer_id, access.customer_scope(viewer))
    )
    with store_engine.connected(bind) as conn:
        row = conn.execute(query).first()
    if row is None:
        return []
    values = row._mapping
    hits = [Hit(rule, float(values[rule.name])) for rule in rules if values[rule.name] is not None]
    return sorted(hits, key=lambda hit: FAMILIES.index(hit.rule.family))


def counts(engine: sa.Engine, viewer: access.Viewer) -> dict[str, int]:
    """How many visible customers carry each tag."""
    rules = load_rules()
    query = (
        sa.select(*(sa.func.sum(sa.case((condition(rule), 1), else_=0)) for rule in rules))
        .select_from(_source())
        .where(access.customer_scope(viewer))
    )
    with engine.connect() as conn:
        row = conn.execute(query).one()
    return {rule.name: int(value or 0) for rule, value in zip(rules, row, strict=True)}


def format_value(value: float, unit: str, language: str) -> str:
    """A feature value in words and units for the user.

    Args:
        value: the number (shares as fractions).
        unit: one of :data:`UNITS`.
        language: ``zh`` or ``en``.

    Returns:
        The value with its unit, e.g. ``48%``, ``1,234 kWh``, ``¥12,345``.
    """
    if unit == "percent":
        return f"{value:.0%}" if abs(value) >= 0.1 else f"{value:.1%}"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "cny":
        return f"¥{value:,.0f}"
    if unit in ("kwh", "kw", "kva", "kv"):
        # The unit as the language writes it (千瓦时 beside 千瓦时 on the same page).
        symbol = i18n.translate(f"domain.unit.{unit}", language)
        return f"{value:,.0f} {symbol}" if abs(value) >= 100 else f"{value:,.1f} {symbol}"
    if unit in ("days", "years"):
        return i18n.translate(f"tags.unit_{unit}", language, value=f"{value:,.0f}")
    return f"{value:,.0f}"


def tag_name(rule: Rule, language: str) -> str:
    """The tag's display name."""
    return i18n.translate(f"tags.name.{rule.name}", language)


def reason(hit: Hit, language: str) -> str:
    """Why the customer carries the tag, e.g. "Peak share 48% — above the 45% threshold ...".

    Args:
        hit: the tag and the customer's value.
        language: ``zh`` or ``en``.

    Returns:
        One sentence in the user's language.
    """
    rule = hit.rule
    feature = i18n.translate(f"tags.feature.{rule.feature}", language)
    if rule.per is not None:
        feature = i18n.translate("tags.per_day", language, feature=feature)
    if math.isclose(hit.value, rule.threshold, rel_tol=1e-9, abs_tol=1e-12):
        key = "tags.reason_at"
    else:
        key = "tags.reason_above" if rule.op == ">=" else "tags.reason_below"
    return i18n.translate(
        key,
        language,
        feature=feature,
        value=format_value(hit.value, rule.unit, language),
        threshold=format_value(rule.threshold, rule.unit, language),
        tag=tag_name(rule, language),
    )
