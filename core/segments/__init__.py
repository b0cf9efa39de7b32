"""Segments (用户分群): operable segments, the load-shape lens, rule segments and their economics.

The parts: :mod:`~core.segments.matrix` (the standardized features), :mod:`~core.segments.model`
(k-means, the choice of k, stable ids), :mod:`~core.segments.naming` (names and their rules),
:mod:`~core.segments.shapes` (typical daily load shapes), :mod:`~core.segments.runs` (fit, store,
read, the migration between runs). Callers use the names below (``segments.fit``).
"""

from core.segments.model import DEFAULT_SEED, MAX_SEGMENTS, MIN_SEGMENT_SHARE, KChoice
from core.segments.naming import NAME_CODES, fact_text
from core.segments.runs import (
    MIN_CUSTOMERS,
    Run,
    Segment,
    SegmentError,
    all_runs,
    display_names,
    fit,
    latest_run,
    members,
    migration,
    reasons,
    run_model,
    segments_of,
)

__all__ = [
    "DEFAULT_SEED",
    "MAX_SEGMENTS",
    "MIN_CUSTOMERS",
    "MIN_SEGMENT_SHARE",
    "NAME_CODES",
    "KChoice",
    "Run",
    "Segment",
    "SegmentError",
    "all_runs",
    "display_names",
    "fact_text",
    "fit",
    "latest_run",
    "members",
    "migration",
    "reasons",
    "run_model",
    "segments_of",
]
