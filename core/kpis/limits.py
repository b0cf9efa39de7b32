"""The time limits (时限) of ``data/time_limits.toml``: applications, work orders, staleness."""

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import sqlalchemy as sa

from core import config
from core.errors import UserError
from core.store import schema

DEFAULT_LIMITS = config.DATA_DIR / "time_limits.toml"

ApplicantGroup = Literal["residential", "low_voltage", "high_voltage"]
APPLICANT_GROUPS: tuple[ApplicantGroup, ...] = get_args(ApplicantGroup)
# The stages after acceptance; "accepted" starts every application.
TIMED_STAGES = schema.APPLICATION_STAGES[1:]
FRESHNESS_SOURCES = ("readings", "bills", "work_orders", "applications", "campaigns", "abnormal")


@dataclass(frozen=True)
class TimeLimits:
    """The limits the windows measure against.

    Attributes:
        high_voltage_from_kva: applications asking for this much or more are high-voltage.
        stages: application type → the stages it passes after acceptance, in order.
        stage_days: applicant group → stage → days the stage may take.
        order_hours: work-order type → hours to close it.
        default_order_hours: the limit of a work-order type not listed.
        stale_after_days: data source → days its newest record may be behind.
    """

    high_voltage_from_kva: float
    stages: dict[str, tuple[str, ...]]
    stage_days: dict[str, dict[str, int]]
    order_hours: dict[str, float]
    default_order_hours: float
    stale_after_days: dict[str, float]

    def previous_stage(self, application_type: str, stage: str) -> str | None:
        """The stage an application of this type reaches just before ``stage``, or None.

        Returns:
            ``accepted`` for the first stage, None when the type does not pass ``stage``.
        """
        passed = self.stages.get(application_type, ())
        if stage not in passed:
            return None
        position = passed.index(stage)
        return "accepted" if position == 0 else passed[position - 1]

    def applicant_group(self, applications: sa.FromClause) -> sa.ColumnElement[str]:
        """The SQL expression of each application's applicant group."""
        return sa.case(
            (applications.c.customer_class == "residential", "residential"),
            (applications.c.requested_kva >= self.high_voltage_from_kva, "high_voltage"),
            else_="low_voltage",
        )

    def stage_limit(self, applications: sa.FromClause, stage: str) -> sa.ColumnElement[int]:
        """The SQL expression of the days ``stage`` may take for each application."""
        group = self.applicant_group(applications)
        return sa.case(
            *((group == name, self.stage_days[name][stage]) for name in APPLICANT_GROUPS),
        )

    def order_limit(self, orders: sa.FromClause) -> sa.ColumnElement[float]:
        """The SQL expression of the hours each work order may stay open."""
        if not self.order_hours:
            return sa.literal(self.default_order_hours)
        return sa.case(
            *((orders.c.type == kind, hours) for kind, hours in self.order_hours.items()),
            else_=self.default_order_hours,
        )


def load(path: Path | None = None) -> TimeLimits:
    """The time limits of a limits file, validated.

    Args:
        path: the TOML file; ``data/time_limits.toml`` by default.

    Raises:
        UserError: the file is not valid TOML, lacks an entry, or names an unknown type,
            stage or source; the message names the file and the entry.
    """
    path = path or DEFAULT_LIMITS
    return _load_cached(str(path), path.stat().st_mtime_ns)


@functools.cache
def _load_cached(path: str, _mtime_ns: int) -> TimeLimits:
    try:
        with open(path, "rb") as handle:
            content = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise UserError("kpis.error.limits_unreadable", path=path, error=str(error)) from error
    applications = _table(content, "applications", path)
    stages = _table(applications, "applications.stages", path)
    for kind, passed in stages.items():
        _known(kind, schema.APPLICATION_TYPES, "applications.stages", path)
        for stage in passed:
            _known(stage, TIMED_STAGES, f"applications.stages.{kind}", path)
    days = _table(applications, "applications.days", path)
    stage_days: dict[str, dict[str, int]] = {}
    for group in APPLICANT_GROUPS:
        limits = _table(days, f"applications.days.{group}", path, key=group)
        stage_days[group] = {}
        for stage in TIMED_STAGES:
            entry = f"applications.days.{group}.{stage}"
            stage_days[group][stage] = int(_number(limits, stage, entry, path))
    orders = _table(content, "work_orders", path)
    stale = _table(content, "stale_after_days", path)
    for source in stale:
        _known(source, FRESHNESS_SOURCES, "stale_after_days", path)
    return TimeLimits(
        high_voltage_from_kva=_number(
            applications, "high_voltage_from_kva", "applications.high_voltage_from_kva", path
        ),
        stages={kind: tuple(passed) for kind, passed in stages.items()},
        stage_days=stage_days,
        order_hours={
            str(kind): float(hours) for kind, hours in dict(orders.get("hours", {})).items()
        },
        default_order_hours=_number(orders, "default_hours", "work_orders.default_hours", path),
        stale_after_days={
            source: _number(stale, source, f"stale_after_days.{source}", path)
            for source in FRESHNESS_SOURCES
        },
    )


def _table(content: dict, entry: str, path: str, *, key: str | None = None) -> dict:
    value = content.get(key or entry.rsplit(".", 1)[-1])
    if not isinstance(value, dict):
        raise UserError("kpis.error.limits_missing", path=path, entry=entry)
    return value


def _number(content: dict, key: str, entry: str, path: str) -> float:
    value = content.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UserError("kpis.error.limits_missing", path=path, entry=entry)
    return float(value)


def _known(value: str, allowed: tuple[str, ...], entry: str, path: str) -> None:
    if value not in allowed:
        raise UserError(
            "kpis.error.limits_unknown",
            path=path,
            entry=entry,
            value=value,
            allowed=", ".join(allowed),
        )
