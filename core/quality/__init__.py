"""Data-quality figures: completeness, consistency, timeliness and validity, measured in the store.

Every figure is a share (1.0 = all good) or a lag, per table and where it applies per source
system, computed by SQL inside the store; each has a drill-down to the offending customers or
rows. A snapshot of the figures is recorded after every import, which gives the trend.

The parts: :mod:`~core.quality.metrics` (the figures and their limits), one module per kind of
figure (:mod:`~core.quality.readings`, :mod:`~core.quality.consistency`,
:mod:`~core.quality.ids`, :mod:`~core.quality.imports`, :mod:`~core.quality.validity`) and
:mod:`~core.quality.summary` (the report, snapshots, trend and drill-down). Callers use the names
below (``quality.report``), not the parts.
"""

from core.quality.ids import (
    id_conflicts,
    multiple_contracts,
    shared_external_ids,
    unknown_mapped_customers,
)
from core.quality.imports import imports_history, recent_imports
from core.quality.metrics import (
    BILL_TOLERANCE,
    BILL_TOLERANCE_KWH,
    CLASS_FIELDS,
    CONTRACT_SYSTEM,
    CUSTOMER_ID_TABLES,
    DIMENSIONS,
    DRILL_DOWN_LIMIT,
    EXPECTED_FIELDS,
    METRIC_COLUMNS,
    METRICS,
    READINGS_PER_DAY,
    STALE_DAYS,
    Dimension,
)
from core.quality.readings import last_readings, readings_coverage
from core.quality.summary import drill_down, record_snapshot, report, trend
from core.quality.validity import RULE_TABLES, vocabularies

__all__ = [
    "BILL_TOLERANCE",
    "BILL_TOLERANCE_KWH",
    "CLASS_FIELDS",
    "CONTRACT_SYSTEM",
    "CUSTOMER_ID_TABLES",
    "DIMENSIONS",
    "DRILL_DOWN_LIMIT",
    "EXPECTED_FIELDS",
    "METRICS",
    "METRIC_COLUMNS",
    "READINGS_PER_DAY",
    "RULE_TABLES",
    "STALE_DAYS",
    "Dimension",
    "drill_down",
    "id_conflicts",
    "imports_history",
    "last_readings",
    "multiple_contracts",
    "readings_coverage",
    "recent_imports",
    "record_snapshot",
    "report",
    "shared_external_ids",
    "trend",
    "unknown_mapped_customers",
    "vocabularies",
]
