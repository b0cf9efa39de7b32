"""Numbers as people in the utility read them: 万/亿 in Chinese, K/M/B in English."""


def compact(value: float | None, language: str, *, currency: bool = False) -> str:
    """A short form of a large number for a KPI card: ``4,331.2万`` or ``43.3M``."""
    if value is None:
        return "—"
    prefix = "¥" if currency else ""
    magnitude = abs(value)
    if language == "zh":
        steps = ((1e8, 1e8, "亿"), (1e5, 1e4, "万"))
    else:
        steps = ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "K"))
    for threshold, size, suffix in steps:
        if magnitude >= threshold:
            scaled = value / size
            # Four significant figures are plenty on a card; more only widens it.
            digits = 0 if abs(scaled) >= 1000 else 1
            return f"{prefix}{scaled:,.{digits}f}{suffix}"
    return f"{prefix}{value:,.0f}"
