"""The abnormal-use rules and the list's settings, read from ``data/risk.toml`` and validated."""

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core import config
from core.errors import UserError

DEFAULT_SETTINGS = config.DATA_DIR / "risk.toml"
# Each rule the detector knows, with the thresholds it needs from the file.
RULE_THRESHOLDS: dict[str, tuple[str, ...]] = {
    "sustained_drop": ("max_ratio",),
    "flat_line": ("max_variation",),
    "zero_readings": ("min_zero_share",),
    "inverted_pattern": ("min_ratio_increase", "max_pattern_correlation"),
    "hours_bypassed": ("min_hours", "max_hour_ratio"),
    "below_peers": ("max_ratio", "min_peers"),
    "reverse_energy": ("min_readings", "days"),
    "temperature_mismatch": (
        "min_reference_correlation",
        "max_recent_correlation",
        "min_temperature_sd",
    ),
}
SECTIONS: dict[str, tuple[str, ...]] = {
    "windows": (
        "recent_days",
        "before_days",
        "temperature_days",
        "min_coverage",
        "min_reference_kwh_per_day",
    ),
    "line_loss": ("weight", "max_rate", "min_increase"),
    "isolation_forest": ("weight", "top_share", "trees", "seed"),
    "ranking": ("orders_per_week", "case_value_cny", "days_per_month"),
    "labels": ("min_labels", "min_each_outcome", "full_weight_at"),
    "models": ("churn_drop", "triage_min_probability", "falling_usage", "first_arrears_max_late"),
}


@dataclass(frozen=True)
class Rule:
    """One abnormal-use rule.

    Attributes:
        name: the rule's code; its words are the catalog keys ``risk.rule.<name>`` and
            ``risk.reason.<name>``.
        weight: how likely a case is when the rule alone holds at its threshold (0-1).
        thresholds: the rule's thresholds by name (see :data:`RULE_THRESHOLDS`).
    """

    name: str
    weight: float
    thresholds: dict[str, float]

    def __getitem__(self, name: str) -> float:
        return self.thresholds[name]

    def __hash__(self) -> int:
        return hash((self.name, self.weight, tuple(sorted(self.thresholds.items()))))


@dataclass(frozen=True)
class Settings:
    """Everything the detector and the list read from the settings file.

    Attributes:
        rules: the rules by name, in file order.
        capacity_bands_kva: where each capacity band of the peer groups starts.
        windows, line_loss, isolation_forest, ranking, labels, models: the sections, by key.
    """

    rules: dict[str, Rule]
    windows: dict[str, float]
    capacity_bands_kva: tuple[float, ...]
    line_loss: dict[str, float]
    isolation_forest: dict[str, float]
    ranking: dict[str, float]
    labels: dict[str, float]
    models: dict[str, float]

    def __hash__(self) -> int:
        return hash(tuple(self.rules.values()))

    @property
    def recent_days(self) -> int:
        """Days of the recent window, in whole weeks."""
        return int(self.windows["recent_days"]) // 7 * 7

    @property
    def list_length(self) -> int:
        """How long the inspection list is: the orders the inspectors handle in a week."""
        return int(self.ranking["orders_per_week"])


def load(path: Path | None = None) -> Settings:
    """The settings of a settings file, validated.

    Args:
        path: the TOML file; ``data/risk.toml`` by default.

    Raises:
        UserError: the file is not TOML, names an unknown rule, or lacks a setting or gives one
            that is not a number; the message names the file and the place.
    """
    path = path or DEFAULT_SETTINGS
    return _load_cached(str(path), path.stat().st_mtime_ns)


@functools.cache
def _load_cached(path: str, _mtime_ns: int) -> Settings:
    try:
        with open(path, "rb") as handle:
            content = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise UserError("risk.error.settings_unreadable", path=path, error=str(error)) from error
    rules: dict[str, Rule] = {}
    for entry in content.get("rules", []):
        name = str(entry.get("name", ""))
        if name not in RULE_THRESHOLDS:
            raise UserError(
                "risk.error.unknown_rule", path=path, name=name, rules=", ".join(RULE_THRESHOLDS)
            )
        place = f"rules.{name}"
        weight = _number(path, place, entry, "weight")
        thresholds = {key: _number(path, place, entry, key) for key in RULE_THRESHOLDS[name]}
        rules[name] = Rule(name, weight, thresholds)
    sections = {
        section: {key: _number(path, section, content.get(section, {}), key) for key in keys}
        for section, keys in SECTIONS.items()
    }
    bands = content.get("peers", {}).get("capacity_bands_kva")
    if not isinstance(bands, list) or not bands or not all(_is_number(b) for b in bands):
        raise UserError("risk.error.settings_missing", path=path, place="peers.capacity_bands_kva")
    return Settings(
        rules=rules,
        windows=sections["windows"],
        capacity_bands_kva=tuple(sorted(float(band) for band in bands)),
        line_loss=sections["line_loss"],
        isolation_forest=sections["isolation_forest"],
        ranking=sections["ranking"],
        labels=sections["labels"],
        models=sections["models"],
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(path: str, section: str, entry: dict, key: str) -> float:
    if key not in entry:
        raise UserError("risk.error.settings_missing", path=path, place=f"{section}.{key}")
    value = entry[key]
    if not _is_number(value):
        raise UserError("risk.error.settings_number", path=path, place=f"{section}.{key}")
    return float(value)
