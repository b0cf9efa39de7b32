"""Abnormal use (possible theft, meter fault, vacancy): rules, an isolation forest, the line loss.

Each customer's measures (:mod:`core.risk.measures`) are judged by the named rules of
``data/risk.toml``; a rule that holds adds its weight, scaled by how far past its threshold the
customer is, and the rules, the isolation forest's verdict and the customer's share of their
area's line loss combine as independent pieces of evidence (a noisy-or): the likelihood that an
inspection finds something. The list is ranked by likelihood × value at stake: the revenue at
risk per month (:mod:`core.risk.revenue`) plus what any confirmed case is worth.
"""

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.ensemble import IsolationForest

from core import access
from core.risk import labels as outcome_labels
from core.risk import line_loss, measures, revenue
from core.risk import settings as risk_settings
from core.risk.settings import Settings
from core.store import engine as store_engine
from core.store import schema

KIND = "abnormal"
# Rules whose evidence is energy the meter no longer records: expected use is the reference.
MODEL_NAME = "abnormal-rules"
# The measures the isolation forest sees, each made comparable across customers.
FOREST_MEASURES = (
    "log_drop_ratio",
    "log_variation",
    "zero_share",
    "log_night_day_increase",
    "pattern_correlation",
    "hours_down_share",
    "temperature_change",
    "log_peer_ratio",
    "log_variation_change",
)
FACTORS_LIMIT = 6


@dataclass(frozen=True)
class RefreshSummary:
    """What a refresh of the abnormal-use scores did.

    Attributes:
        customers: customers scored.
        flagged: customers at least one rule holds for.
        scored_on: the last day of readings judged.
        model_version: the version written with the scores.
        seconds: wall time.
    """

    customers: int
    flagged: int
    scored_on: dt.date | None
    model_version: str
    seconds: float


def model_version(settings: Settings, supervised: bool) -> str:
    """The version of the scoring: the rules' settings and whether labels took part."""
    rules = settings.rules.items()
    text = json.dumps(
        {
            "rules": {name: [rule.weight, rule.thresholds] for name, rule in rules},
            "line_loss": settings.line_loss,
            "isolation_forest": settings.isolation_forest,
        },
        sort_keys=True,
    )
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{MODEL_NAME}-{digest}" + ("+labels" if supervised else "")


def _severity(excess: np.ndarray) -> np.ndarray:
    """How strongly a rule holds: one half at its threshold, one where it is far past it."""
    return np.clip(0.5 + 0.5 * np.nan_to_num(excess, nan=0.0), 0.5, 1.0)


def _peers(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Each customer's recent use per kVA against the geometric mean of its peers (not itself).

    Peers share the customer class and capacity band, and the transformer area when it has
    enough of them, else the district.
    """
    rule = settings.rules.get("below_peers")
    minimum = int(rule["min_peers"]) if rule else 5
    capacity = frame["contract_capacity_kva"].to_numpy(float)
    per_kva = measures._safe_ratio(frame["recent_daily_kwh"], capacity)
    usable = np.isfinite(per_kva) & (per_kva > 0)
    logged = np.where(usable, np.log(np.where(usable, per_kva, 1.0)), np.nan)
    bands = np.searchsorted(settings.capacity_bands_kva, np.nan_to_num(capacity), side="right")
    work = frame[["customer_id", "customer_class", "transformer_area", "region"]].assign(
        band=bands, logged=logged, usable=usable.astype(int)
    )
    result = pd.DataFrame(index=frame.index)
    result["peer_ratio"] = np.nan
    result["peer_count"] = 0
    result["peer_basis"] = None
    for basis in ("region", "transformer_area"):
        keys = ["customer_class", "band", basis]
        grouped = work.groupby(keys, dropna=False)
        total = grouped["logged"].transform(lambda values: values.sum(min_count=1))
        count = grouped["usable"].transform("sum")
        others = count - work["usable"]
        mean_others = (total - work["logged"].fillna(0.0)) / others.where(others > 0)
        ratio = np.exp(work["logged"] - mean_others)
        enough = (others >= minimum) & work["usable"].astype(bool)
        # The area is the better comparison; it replaces the district where it has enough.
        result.loc[enough, "peer_ratio"] = ratio[enough]
        result.loc[enough, "peer_count"] = others[enough]
        result.loc[enough, "peer_basis"] = basis
    return result


def _rules(frame: pd.DataFrame, settings: Settings) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Which rules hold for whom, and how strongly: rule name → (holds, severity)."""
    minimum = settings.windows["min_reference_kwh_per_day"]
    has_history = frame["reference_daily_kwh"].fillna(0).to_numpy() >= minimum
    active = (frame["status"].fillna("active") == "active").to_numpy()
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, rule in settings.rules.items():
        if name == "sustained_drop":
            ratio = frame["drop_ratio"].to_numpy()
            holds = has_history & (ratio <= rule["max_ratio"])
            excess = (rule["max_ratio"] - ratio) / rule["max_ratio"]
        elif name == "flat_line":
            variation = frame["variation"].to_numpy()
            used = frame["recent_daily_kwh"].fillna(0).to_numpy() > 0
            holds = active & used & (variation <= rule["max_variation"])
            excess = (rule["max_variation"] - variation) / max(rule["max_variation"], 1e-9)
        elif name == "zero_readings":
            share = frame["zero_share"].to_numpy()
            holds = active & has_history & (share >= rule["min_zero_share"])
            excess = (share - rule["min_zero_share"]) / max(1 - rule["min_zero_share"], 1e-9)
        elif name == "inverted_pattern":
            increase = frame["night_day_increase"].to_numpy()
            correlation = frame["pattern_correlation"].to_numpy()
            holds = (
                has_history
                & (increase >= rule["min_ratio_increase"])
                & (correlation <= rule["max_pattern_correlation"])
            )
            excess = (rule["max_pattern_correlation"] - correlation) / (
                1 + rule["max_pattern_correlation"]
            )
        elif name == "hours_bypassed":
            hours = frame["hours_down"].to_numpy()
            holds = has_history & (hours >= rule["min_hours"])
            excess = (hours - rule["min_hours"]) / max(24 - rule["min_hours"], 1)
        elif name == "below_peers":
            ratio = frame["peer_ratio"].to_numpy(float)
            holds = ratio <= rule["max_ratio"]
            excess = (rule["max_ratio"] - ratio) / rule["max_ratio"]
        elif name == "reverse_energy":
            count = frame["reverse_readings"].to_numpy(float)
            holds = count >= rule["min_readings"]
            excess = (count - rule["min_readings"]) / max(rule["min_readings"], 1)
        else:  # temperature_mismatch
            reference = frame["temperature_reference"].to_numpy()
            recent = frame["temperature_recent"].to_numpy()
            spread = frame["temperature_sd"].to_numpy()
            holds = (
                has_history
                & (reference >= rule["min_reference_correlation"])
                & (recent <= rule["max_recent_correlation"])
                & (spread >= rule["min_temperature_sd"])
            )
            limit = rule["max_recent_correlation"]
            excess = (limit - recent) / (1 + limit)
        holds = np.nan_to_num(holds.astype(float), nan=0.0).astype(bool)
        found[name] = (holds, np.where(holds, _severity(excess), 0.0))
    return found


def forest_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The isolation forest's inputs: logs of ratios and shares, neutral where unknown."""

    def log(values) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)

    columns = {
        "log_drop_ratio": log(frame["drop_ratio"]),
        "log_variation": log(frame["variation"].to_numpy(float) + 1e-3),
        "zero_share": frame["zero_share"].to_numpy(float),
        "log_night_day_increase": log(frame["night_day_increase"]),
        "pattern_correlation": frame["pattern_correlation"].to_numpy(float),
        "hours_down_share": frame["hours_down"].to_numpy(float) / 24.0,
        "temperature_change": (
            frame["temperature_recent"].to_numpy(float)
            - frame["temperature_reference"].to_numpy(float)
        ),
        "log_peer_ratio": log(frame["peer_ratio"]),
        "log_variation_change": log(
            measures._safe_ratio(frame["variation"] + 1e-3, frame["reference_variation"] + 1e-3)
        ),
    }
    neutral = {"pattern_correlation": 1.0}
    matrix = np.column_stack(
        [np.nan_to_num(columns[name], nan=neutral.get(name, 0.0)) for name in FOREST_MEASURES]
    )
    # Robust scaling: each measure in units of its own spread across customers.
    centre = np.median(matrix, axis=0)
    spread = np.subtract(*np.percentile(matrix, [75, 25], axis=0))
    return (matrix - centre) / np.where(spread > 1e-9, spread, 1.0)


def forest_percentile(frame: pd.DataFrame, settings: Settings) -> np.ndarray:
    """How isolated each customer is among all scored: 1 for the most isolated, 0 the least."""
    if len(frame) < 2:
        return np.zeros(len(frame))
    options = settings.isolation_forest
    forest = IsolationForest(
        n_estimators=int(options["trees"]), random_state=int(options["seed"]), n_jobs=1
    )
    matrix = forest_matrix(frame)
    forest.fit(matrix)
    # score_samples is lower for the more anomalous; the rank makes it a share of customers.
    anomaly = -forest.score_samples(matrix)
    return pd.Series(anomaly).rank(pct=True, method="average").to_numpy()


def _area_loss(conn: sa.Connection, frame: pd.DataFrame, windows: measures.Windows) -> pd.DataFrame:
    """Each area's recent loss rate against its history (a year before, else the weeks before)."""
    areas = sorted(frame["transformer_area"].dropna().unique().tolist())
    recent = line_loss.area_loss(conn, windows.recent_start, windows.end, areas)
    year = line_loss.area_loss(conn, windows.year_start, windows.year_end, areas)
    before = line_loss.area_loss(conn, windows.before_start, windows.recent_start, areas)
    merged = recent.merge(
        year[["transformer_area", "loss_rate"]].rename(columns={"loss_rate": "year_rate"}),
        on="transformer_area",
        how="left",
    ).merge(
        before[["transformer_area", "loss_rate"]].rename(columns={"loss_rate": "before_rate"}),
        on="transformer_area",
        how="left",
    )
    merged["reference_rate"] = merged["year_rate"].fillna(merged["before_rate"])
    merged["increase"] = merged["loss_rate"] - merged["reference_rate"]
    days = max((windows.end - windows.recent_start).days, 1)
    extra = merged["increase"].clip(lower=0) * merged["supplied_kwh"] / days
    merged["extra_loss_daily_kwh"] = extra.fillna(0.0)
    return merged


def _line_loss_evidence(
    frame: pd.DataFrame, areas: pd.DataFrame, settings: Settings
) -> tuple[np.ndarray, pd.DataFrame]:
    """The line-loss evidence of each customer: their area's loss, scaled by their share of it.

    A customer whose own use fell explains part of their area's extra loss (the energy their
    meter no longer shows); a lossy area weighs on them as far as they explain it.
    """
    options = settings.line_loss
    joined = frame[["transformer_area"]].merge(areas, on="transformer_area", how="left")
    rate = joined["loss_rate"].to_numpy(float)
    increase = joined["increase"].to_numpy(float)
    lossy = (rate >= options["max_rate"]) | (increase >= options["min_increase"])
    lossy = np.nan_to_num(lossy.astype(float)).astype(bool)
    missing = np.clip(
        np.nan_to_num(frame["reference_daily_kwh"].to_numpy(float))
        - np.nan_to_num(frame["recent_daily_kwh"].to_numpy(float)),
        0,
        None,
    )
    extra = joined["extra_loss_daily_kwh"].to_numpy(float)
    share = np.clip(measures._safe_ratio(missing, extra), 0, 1)
    share = np.where(lossy, np.nan_to_num(share), 0.0)
    excess = np.nanmax(
        np.column_stack(
            [
                (rate - options["max_rate"]) / options["max_rate"],
                (increase - options["min_increase"]) / options["min_increase"],
            ]
        ),
        axis=1,
    )
    evidence = np.where(lossy, _severity(excess) * share, 0.0)
    detail = pd.DataFrame(
        {
            "area_loss_rate": rate,
            "area_loss_increase": increase,
            "area_share_explained": share,
            "area_lossy": lossy,
        },
        index=frame.index,
    )
    return evidence, detail


def _expected_profiles(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """What each customer is expected to use per hour of an average day, and what was recorded.

    Expected is the customer's own reference weeks; without them, the recent shape at the
    level of their peers.
    """
    count = len(frame)
    recorded = np.zeros((count, 24))
    expected = np.zeros((count, 24))
    for position, (recent, reference) in enumerate(
        zip(frame["recent_profile"], frame["reference_profile"], strict=True)
    ):
        if isinstance(recent, np.ndarray):
            recorded[position] = recent
        if isinstance(reference, np.ndarray):
            expected[position] = reference
    without = expected.sum(axis=1) <= 0
    peer_ratio = frame["peer_ratio"].to_numpy(float)
    level = np.where(np.isfinite(peer_ratio) & (peer_ratio > 0), 1.0 / peer_ratio, 1.0)
    expected[without] = recorded[without] * level[without, None]
    return expected, recorded


def _reasons(
    frame: pd.DataFrame,
    found: dict[str, tuple[np.ndarray, np.ndarray]],
    forest: np.ndarray,
    forest_evidence: np.ndarray,
    loss_evidence: np.ndarray,
    loss_detail: pd.DataFrame,
    settings: Settings,
) -> list[list[dict]]:
    """Each customer's reasons as catalog keys and values, the strongest first."""
    values_of = {
        "sustained_drop": lambda row: {
            "ratio": row.drop_ratio,
            "reference": row.reference,
            "recent_kwh": row.recent_daily_kwh,
            "reference_kwh": row.reference_daily_kwh,
        },
        "flat_line": lambda row: {"variation": row.variation, "kwh": row.recent_daily_kwh},
        "zero_readings": lambda row: {"share": row.zero_share},
        "inverted_pattern": lambda row: {
            "recent": row.night_day_recent,
            "reference": row.night_day_reference,
            "correlation": row.pattern_correlation,
        },
        "hours_bypassed": lambda row: {"hours": int(row.hours_down)},
        "below_peers": lambda row: {
            "ratio": row.peer_ratio,
            "peers": int(row.peer_count),
            "basis": row.peer_basis,
        },
        "reverse_energy": lambda row: {"readings": int(row.reverse_readings)},
        "temperature_mismatch": lambda row: {
            "reference": row.temperature_reference,
            "recent": row.temperature_recent,
        },
    }
    rows = list(frame.itertuples(index=False))
    # The share of customers at least as isolated: 1/n for the most isolated one.
    forest_share = 1.0 - forest + 1.0 / max(len(rows), 1)
    reasons: list[list[dict]] = []
    for position, row in enumerate(rows):
        items = [
            (
                settings.rules[name].weight * severity[position],
                {"key": name, "values": values_of[name](row)},
            )
            for name, (holds, severity) in found.items()
            if holds[position]
        ]
        if loss_evidence[position] > 0:
            detail = loss_detail.iloc[position]
            items.append(
                (
                    loss_evidence[position],
                    {
                        "key": "line_loss",
                        "values": {
                            "area": row.transformer_area,
                            "rate": detail["area_loss_rate"],
                            "increase": detail["area_loss_increase"],
                            "share": detail["area_share_explained"],
                        },
                    },
                )
            )
        if forest_evidence[position] > 0:
            items.append(
                (
                    forest_evidence[position],
                    {"key": "isolation_forest", "values": {"share": forest_share[position]}},
                )
            )
        items.sort(key=lambda item: -item[0])
        reasons.append([_plain(item) for _, item in items[:FACTORS_LIMIT]])
    return reasons


def _plain(item: dict) -> dict:
    """A reason with plain JSON values (floats rounded, NaN as None)."""
    values = {}
    for name, value in item["values"].items():
        if isinstance(value, float | np.floating):
            value = None if not np.isfinite(value) else round(float(value), 4)
        elif isinstance(value, np.integer):
            value = int(value)
        values[name] = value
    return {"key": item["key"], "values": values}


@dataclass(frozen=True)
class Scored:
    """The scores of one run, one row per customer, before they are stored.

    Attributes:
        frame: ``customer_id``, ``score`` (likelihood), ``revenue_at_risk_cny``,
            ``priority``, ``flagged``, ``reasons`` (list of catalog keys and values), and the
            measures behind them.
        windows: the windows judged.
        areas: each area's line loss (recent, reference, increase).
        model_version: the version the scores are stored with.
    """

    frame: pd.DataFrame
    windows: measures.Windows | None
    areas: pd.DataFrame
    model_version: str


def score(
    conn: sa.Connection,
    viewer: access.Viewer = access.SYSTEM,
    settings: Settings | None = None,
) -> Scored:
    """Scores every customer the viewer may see on the store's current readings.

    Args:
        conn: a connection inside ``engine.begin()``.
        viewer: whose customers to score.
        settings: the rules; ``data/risk.toml`` by default.
    """
    settings = settings or risk_settings.load()
    windows = measures.store_windows(conn, settings)
    if windows is None:
        return Scored(pd.DataFrame(), None, pd.DataFrame(), model_version(settings, False))
    since = (
        access.now() - dt.timedelta(days=int(settings.rules["reverse_energy"]["days"]))
        if ("reverse_energy" in settings.rules)
        else access.now()
    )
    collected = measures.collect(conn, viewer, windows, reverse_since=since)
    frame = measures.derive(collected, settings)
    if frame.empty:
        return Scored(frame, windows, pd.DataFrame(), model_version(settings, False))
    frame = pd.concat([frame, _peers(frame, settings)], axis=1)
    found = _rules(frame, settings)
    forest = forest_percentile(frame, settings)
    top_share = settings.isolation_forest["top_share"]
    forest_evidence = settings.isolation_forest["weight"] * np.clip(
        (forest - (1 - top_share)) / top_share, 0, 1
    )
    areas = _area_loss(conn, frame, windows)
    loss_evidence, loss_detail = _line_loss_evidence(frame, areas, settings)
    loss_evidence = settings.line_loss["weight"] * loss_evidence
    evidence = [settings.rules[name].weight * severity for name, (_, severity) in found.items()]
    evidence += [forest_evidence, loss_evidence]
    likelihood = 1.0 - np.prod([1.0 - np.clip(part, 0, 0.999) for part in evidence], axis=0)
    supervised = outcome_labels.supervised_likelihood(conn, frame, forest_matrix(frame), settings)
    if supervised is not None:
        probability, weight = supervised
        likelihood = (1 - weight) * likelihood + weight * probability
    expected, recorded = _expected_profiles(frame)
    at_risk = revenue.monthly_difference(
        frame, expected, recorded, windows.end, settings.ranking["days_per_month"]
    )
    frame = pd.concat([frame, loss_detail], axis=1)
    frame["forest_percentile"] = forest
    frame["flagged"] = np.any([holds for holds, _ in found.values()], axis=0)
    frame["score"] = np.round(likelihood, 4)
    frame["revenue_at_risk_cny"] = np.round(np.clip(np.nan_to_num(at_risk), 0, None), 2)
    frame["priority"] = frame["score"] * (
        frame["revenue_at_risk_cny"] + settings.ranking["case_value_cny"]
    )
    frame["reasons"] = _reasons(
        frame, found, forest, forest_evidence, loss_evidence, loss_detail, settings
    )
    return Scored(frame, windows, areas, model_version(settings, supervised is not None))


def refresh(
    engine: sa.Engine,
    viewer: access.Viewer = access.SYSTEM,
    settings: Settings | None = None,
) -> RefreshSummary:
    """Recomputes the abnormal-use scores of the viewer's customers and stores them.

    Args:
        engine: the store.
        viewer: whose customers; the batch job runs as :data:`access.SYSTEM`.
        settings: the rules; ``data/risk.toml`` by default.
    """
    started = time.perf_counter()
    scores, customers = schema.risk_scores, schema.customers
    with engine.begin() as conn:
        if store_engine.backend(conn) == "duckdb":
            conn.exec_driver_sql("SET enable_progress_bar = false")
        scored = score(conn, viewer, settings)
        frame = scored.frame
        scoped = sa.select(customers.c.customer_id).where(access.customer_scope(viewer))
        conn.execute(scores.delete().where(scores.c.kind == KIND, scores.c.customer_id.in_(scoped)))
        scored_on = scored.windows.end - dt.timedelta(days=1) if scored.windows else None
        if not frame.empty:
            rows = pd.DataFrame(
                {
                    "customer_id": frame["customer_id"],
                    "kind": KIND,
                    "score": frame["score"].astype(float),
                    "model_version": scored.model_version,
                    "scored_on": scored_on,
                    "computed_at": access.now(),
                    "revenue_at_risk_cny": frame["revenue_at_risk_cny"].astype(float),
                    "triage": None,
                    "factors": [
                        json.dumps(reasons, ensure_ascii=False) for reasons in frame["reasons"]
                    ],
                }
            )
            store_engine.bulk_insert(conn, scores, rows)
        store_engine.bump_data_version(conn)
    return RefreshSummary(
        customers=len(frame),
        flagged=int(frame["flagged"].sum()) if not frame.empty else 0,
        scored_on=scored_on,
        model_version=scored.model_version,
        seconds=time.perf_counter() - started,
    )


def ranked(
    engine: sa.Engine,
    viewer: access.Viewer,
    top: int | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The stored abnormal-use scores of the viewer's customers, most worth inspecting first.

    Args:
        engine: the store.
        viewer: who is asking: only their customers are listed, personal fields masked.
        top: at most this many; the inspectors' weekly capacity by default.
        settings: the list's settings; ``data/risk.toml`` by default.

    Returns:
        ``customer_id``, ``name``, ``customer_class``, ``region``, ``transformer_area``,
        ``lat``, ``lon``, ``score``, ``revenue_at_risk_cny``, ``priority``, ``reasons``
        (catalog keys and values), ``model_version``, ``scored_on``.
    """
    settings = settings or risk_settings.load()
    limit = settings.list_length if top is None else top
    scores, customers = schema.risk_scores, schema.customers
    case_value = settings.ranking["case_value_cny"]
    priority = scores.c.score * (sa.func.coalesce(scores.c.revenue_at_risk_cny, 0.0) + case_value)
    query = (
        sa.select(
            scores.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            customers.c.transformer_area,
            customers.c.lat,
            customers.c.lon,
            scores.c.score,
            scores.c.revenue_at_risk_cny,
            priority.label("priority"),
            scores.c.factors,
            scores.c.model_version,
            scores.c.scored_on,
        )
        .join(customers, customers.c.customer_id == scores.c.customer_id)
        .where(scores.c.kind == KIND, access.customer_scope(viewer))
        .order_by(priority.desc(), scores.c.customer_id)
        .limit(max(int(limit), 0))
    )
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["reasons"] = [json.loads(text) if text else [] for text in frame.pop("factors")]
    return access.mask_frame(viewer, frame)


def area_losses(
    engine: sa.Engine, viewer: access.Viewer, settings: Settings | None = None
) -> pd.DataFrame:
    """The line loss of the transformer areas the viewer's customers are in, lossiest first.

    Returns:
        ``transformer_area``, ``supplied_kwh``, ``metered_kwh``, ``loss_kwh``, ``loss_rate`` of
        the recent weeks, ``reference_rate`` (the same weeks a year before, else the weeks
        before), ``increase`` and ``lossy`` (above the settings' rate or increase).
    """
    settings = settings or risk_settings.load()
    customers = schema.customers
    with engine.connect() as conn:
        windows = measures.store_windows(conn, settings)
        areas = conn.execute(
            sa.select(customers.c.transformer_area)
            .where(access.customer_scope(viewer), customers.c.transformer_area.is_not(None))
            .distinct()
        ).scalars()
        frame = pd.DataFrame({"transformer_area": sorted(areas)})
        if windows is None or frame.empty:
            return pd.DataFrame(columns=[*line_loss.COLUMNS, "reference_rate", "increase", "lossy"])
        losses = _area_loss(conn, frame, windows)
    options = settings.line_loss
    losses["lossy"] = (losses["loss_rate"] >= options["max_rate"]) | (
        losses["increase"] >= options["min_increase"]
    )
    columns = [*line_loss.COLUMNS, "reference_rate", "increase", "lossy"]
    return losses[columns].sort_values("loss_rate", ascending=False).reset_index(drop=True)
