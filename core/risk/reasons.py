"""The reasons behind a score in the reader's language: catalog keys with their values."""

from core import i18n, tags

# How each value of a reason is shown (see :func:`core.tags.format_value`); others as they are.
VALUE_UNITS = {
    "ratio": "percent",
    "share": "percent",
    "variation": "percent",
    "rate": "percent",
    "increase": "percent",
    "recent_kwh": "kwh",
    "reference_kwh": "kwh",
    "kwh": "kwh",
    "correlation": "ratio",
}
# Values whose unit depends on the reason.
REASON_UNITS = {
    "inverted_pattern": {"recent": "ratio", "reference": "ratio"},
    "temperature_mismatch": {"recent": "ratio", "reference": "ratio"},
}
# Values that are codes with words of their own: ``risk.<value>.<code>``.
WORDED = {"reference": "reference", "basis": "basis"}


def text(reason: dict, language: str) -> str:
    """One reason in words, e.g. "Use fell to 26% of its own history ...".

    Args:
        reason: ``{"key": <rule or evidence>, "values": {...}}`` as the scores store it.
        language: ``zh`` or ``en``.
    """
    key = reason["key"]
    units = {**VALUE_UNITS, **REASON_UNITS.get(key, {})}
    shown: dict[str, str] = {}
    for name, value in reason.get("values", {}).items():
        if value is None:
            shown[name] = "—"
        elif name in WORDED and isinstance(value, str) and name not in REASON_UNITS.get(key, {}):
            shown[name] = i18n.translate(f"risk.{WORDED[name]}.{value}", language)
        elif name in units and isinstance(value, int | float):
            shown[name] = tags.format_value(float(value), units[name], language)
        else:
            shown[name] = str(value)
    return i18n.translate(f"risk.reason.{key}", language, **shown)


def texts(reasons: list[dict], language: str) -> list[str]:
    """Every reason in words, in their order."""
    return [text(reason, language) for reason in reasons]


# How a model factor's value is shown.
FACTOR_UNITS = {
    "late_share_12m": "percent",
    "arrears_share_of_bill": "percent",
    "bill_change": "percent",
    "usage_change_3m": "percent",
    "usage_yoy_3m": "percent",
    "usage_yoy_12m": "percent",
    "usage_yoy_vs_peers_3m": "percent",
    "online_share_365d": "percent",
    "arrears_cny": "cny",
    "bill_cny": "cny",
    "outage_hours_365d": "count",
    "tenure_years": "count",
    "days_since_activity": "count",
}


def factor_text(factor: dict, language: str) -> str:
    """One model factor in words, e.g. "3 late payments in 12 months", "Arrears ¥1,240"."""
    name = factor["key"]
    value = factor.get("values", {}).get("value")
    shown = (
        "—"
        if value is None
        else tags.format_value(float(value), FACTOR_UNITS.get(name, "count"), language)
    )
    return i18n.translate(f"risk.factor.{name}", language, value=shown)


def factor_texts(factors: list[dict], language: str) -> list[str]:
    """Every factor in words, in their order."""
    return [factor_text(factor, language) for factor in factors]
