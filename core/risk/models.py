"""Arrears, churn and complaint risk: models trained on the store's own history, split by time.

Each model learns from monthly snapshots (:mod:`core.risk.snapshots`): the features known
before a cut-off day and what happened after it. The holdout is the latest snapshots whose
outcomes are known; the model it is judged by learns only from snapshots whose outcome windows
closed before the first holdout cut-off, so no row it learns from saw the holdout period. The
model that scores the customers is then fitted on every snapshot with a known outcome and
applied to the features as they stand today.

A logistic regression on standardised features keeps every score explainable: each customer's
top factors are the features that push their score up most, told in words.
"""

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from core import access
from core.errors import Notice, UserError
from core.risk import settings as risk_settings
from core.risk import snapshots
from core.risk.settings import Settings
from core.store import engine as store_engine
from core.store import queries, schema

Kind = Literal["arrears", "churn", "complaint"]
KINDS: tuple[Kind, ...] = ("arrears", "churn", "complaint")
CALIBRATION_BINS = 8
TOP_FACTORS = 3
# The shuffled-time variant of the leakage check draws its snapshots with this seed.
SHUFFLE_SEED = 20240101


@dataclass(frozen=True)
class Spec:
    """How one model is trained.

    Attributes:
        kind: the risk.
        horizon_months: how far after the cut-off its outcome looks.
        history_months: history a snapshot needs before its cut-off.
        holdout_snapshots: the latest snapshots with known outcomes kept for the holdout.
    """

    kind: Kind
    horizon_months: int
    history_months: int
    holdout_snapshots: int


SPECS: dict[Kind, Spec] = {
    "arrears": Spec("arrears", horizon_months=1, history_months=6, holdout_snapshots=3),
    "churn": Spec("churn", horizon_months=3, history_months=16, holdout_snapshots=1),
    "complaint": Spec("complaint", horizon_months=3, history_months=6, holdout_snapshots=2),
}


@dataclass
class Evaluation:
    """A model judged on its holdout.

    Attributes:
        kind: the risk.
        train_cutoffs: the snapshots it learnt from.
        holdout_cutoffs: the snapshots it was judged on.
        rows: training rows; positives among them.
        holdout_rows, holdout_positives: the same for the holdout.
        auc: the area under the ROC curve on the holdout.
        brier: the Brier score on the holdout.
        calibration: per bin: mean predicted probability, observed rate, rows.
        probabilities: the holdout predictions (with ``customer_id``, ``cutoff``, ``label``).
    """

    kind: Kind
    train_cutoffs: list[dt.date]
    holdout_cutoffs: list[dt.date]
    rows: int
    positives: int
    holdout_rows: int
    holdout_positives: int
    auc: float
    brier: float
    calibration: list[dict[str, float]] = field(default_factory=list)
    probabilities: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class Model:
    """A fitted model: standardisation and weights, in feature units.

    Attributes:
        kind: the risk.
        version: the version stored with its scores.
        means, scales: of each feature over the training rows.
        weights: logistic regression coefficients of the standardised features.
        intercept: its intercept.
    """

    kind: Kind
    version: str
    means: np.ndarray
    scales: np.ndarray
    weights: np.ndarray
    intercept: float

    def standardised(self, frame: pd.DataFrame) -> np.ndarray:
        """The features of ``frame`` in the model's units."""
        return (frame[list(snapshots.FEATURES)].to_numpy(float) - self.means) / self.scales

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability of the outcome for each row of ``frame``."""
        logit = self.standardised(frame) @ self.weights + self.intercept
        return 1.0 / (1.0 + np.exp(-logit))

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """How much each feature moves each row's log-odds away from the average customer."""
        return self.standardised(frame) * self.weights


def _kind_words(kind: str) -> Notice:
    """A model's name, told in the reader's language inside a message."""
    return Notice(f"risk.kind.{kind}")


def _labels(conn: sa.Connection, spec: Spec, cutoff: dt.date, until: dt.date, settings: Settings):
    if spec.kind == "arrears":
        return snapshots.arrears_labels(conn, cutoff, until)
    if spec.kind == "churn":
        return snapshots.churn_labels(
            conn, cutoff, spec.horizon_months, settings.models["churn_drop"]
        )
    return snapshots.complaint_labels(conn, cutoff, spec.horizon_months)


def cutoffs(first: dt.date, until: dt.date, spec: Spec) -> tuple[list[dt.date], list[dt.date]]:
    """The training and the holdout cut-offs: month starts between ``first`` and ``until``.

    ``until`` is the day after the store's last day; a cut-off counts when its outcome window
    has closed by then.

    Raises:
        UserError: the store's history is too short for this model.
    """
    earliest = snapshots.month_start(first, spec.history_months + (first.day != 1))
    known = []
    cutoff = earliest
    while snapshots.month_start(cutoff, spec.horizon_months) <= until:
        known.append(cutoff)
        cutoff = snapshots.month_start(cutoff, 1)
    holdout = known[-spec.holdout_snapshots :] if len(known) > spec.holdout_snapshots else []
    train = [
        day
        for day in known
        if holdout and snapshots.month_start(day, spec.horizon_months) <= holdout[0]
    ]
    if not train or not holdout:
        months = spec.history_months + spec.horizon_months * 2 + spec.holdout_snapshots
        raise UserError("risk.error.history_too_short", kind=_kind_words(spec.kind), months=months)
    return train, holdout


class _Snapshots:
    """Features and outcomes of each cut-off, read once per training run."""

    def __init__(self, conn, viewer, spec, until, settings) -> None:
        self.conn, self.viewer, self.spec, self.until, self.settings = (
            conn,
            viewer,
            spec,
            until,
            settings,
        )
        self._features: dict[dt.date, pd.DataFrame] = {}

    def features(self, cutoff: dt.date) -> pd.DataFrame:
        if cutoff not in self._features:
            self._features[cutoff] = snapshots.features_at(self.conn, self.viewer, cutoff)
        return self._features[cutoff]

    def rows(self, cutoff: dt.date) -> pd.DataFrame:
        labels = _labels(self.conn, self.spec, cutoff, self.until, self.settings)
        rows = self.features(cutoff).merge(labels, on="customer_id", how="inner")
        return rows.assign(cutoff=cutoff)


def _fit(rows: pd.DataFrame, kind: Kind) -> Model:
    matrix = rows[list(snapshots.FEATURES)].to_numpy(float)
    labels = rows["label"].to_numpy(int)
    means = matrix.mean(axis=0)
    scales = matrix.std(axis=0)
    scales = np.where(scales > 1e-9, scales, 1.0)
    regression = LogisticRegression(max_iter=2000, C=0.5)
    regression.fit((matrix - means) / scales, labels)
    weights = regression.coef_[0]
    digest = hashlib.sha1(np.round(weights, 6).tobytes()).hexdigest()[:8]
    return Model(
        kind, f"{kind}-lr-{digest}", means, scales, weights, float(regression.intercept_[0])
    )


def _shuffled_in_time(rows: pd.DataFrame, source: _Snapshots, every: list[dt.date]) -> pd.DataFrame:
    """The training rows with each label given the features of a snapshot drawn at random."""
    rng = np.random.default_rng(SHUFFLE_SEED)
    drawn = rng.choice(len(every), size=len(rows))
    parts = []
    for position, cutoff in enumerate(every):
        chosen = rows[drawn == position]
        if chosen.empty:
            continue
        features = source.features(cutoff).drop(columns="customer_class")
        labelled = chosen[["customer_id", "label", "customer_class"]].merge(
            features, on="customer_id", how="inner"
        )
        parts.append(labelled.assign(cutoff=cutoff))
    return pd.concat(parts, ignore_index=True)


def _calibration(labels: np.ndarray, predicted: np.ndarray) -> list[dict[str, float]]:
    bins = min(CALIBRATION_BINS, max(2, len(np.unique(predicted))))
    observed, mean_predicted = calibration_curve(
        labels, predicted, n_bins=bins, strategy="quantile"
    )
    edges = np.quantile(predicted, np.linspace(0, 1, bins + 1))
    counts = np.histogram(predicted, bins=np.unique(edges))[0]
    return [
        {"predicted": float(p), "observed": float(o), "rows": int(n)}
        for p, o, n in zip(mean_predicted, observed, counts[: len(observed)], strict=False)
    ]


def evaluate(
    conn: sa.Connection,
    kind: Kind,
    viewer: access.Viewer = access.SYSTEM,
    settings: Settings | None = None,
    *,
    shuffle_time: bool = False,
) -> tuple[Evaluation, Model, pd.DataFrame]:
    """Trains one model on the snapshots before its holdout and judges it on the holdout.

    Args:
        conn: a store connection.
        kind: the risk.
        viewer: whose customers to learn from.
        settings: the models' settings; ``data/risk.toml`` by default.
        shuffle_time: the leakage check: give each training label the features of a training
            snapshot drawn at random (often one after the label's own) instead of its own; the
            same information in a scrambled time order.

    Returns:
        The evaluation, the model fitted on the training snapshots, and every labelled row
        (training and holdout) for the final fit.

    Raises:
        UserError: the history is too short, or the holdout has only one outcome.
    """
    settings = settings or risk_settings.load()
    spec = SPECS[kind]
    period = queries.data_period(conn)
    if period is None:
        raise UserError("risk.error.no_readings")
    until = period[1].date() + dt.timedelta(days=1)
    first = period[0].date()
    train_cutoffs, holdout_cutoffs = cutoffs(first, until, spec)
    source = _Snapshots(conn, viewer, spec, until, settings)
    train = pd.concat([source.rows(day) for day in train_cutoffs], ignore_index=True)
    holdout = pd.concat([source.rows(day) for day in holdout_cutoffs], ignore_index=True)
    if shuffle_time:
        train = _shuffled_in_time(train, source, train_cutoffs)
    labels = holdout["label"].to_numpy(int)
    if train["label"].nunique() < 2 or len(np.unique(labels)) < 2:
        raise UserError("risk.error.one_outcome", kind=_kind_words(kind))
    model = _fit(train, kind)
    predicted = model.probability(holdout)
    evaluation = Evaluation(
        kind=kind,
        train_cutoffs=train_cutoffs,
        holdout_cutoffs=holdout_cutoffs,
        rows=len(train),
        positives=int(train["label"].sum()),
        holdout_rows=len(holdout),
        holdout_positives=int(labels.sum()),
        auc=float(roc_auc_score(labels, predicted)),
        brier=float(brier_score_loss(labels, predicted)),
        calibration=_calibration(labels, predicted),
        probabilities=holdout[["customer_id", "cutoff", "label"]].assign(predicted=predicted),
    )
    return evaluation, model, pd.concat([train, holdout], ignore_index=True)


def factors(model: Model, frame: pd.DataFrame) -> list[list[dict]]:
    """Each row's top factors: the features raising its score most, with their values."""
    contributions = model.contributions(frame)
    names = list(snapshots.FEATURES)
    listed = []
    for position in range(len(frame)):
        order = np.argsort(-contributions[position])
        chosen = []
        for index in order[:TOP_FACTORS]:
            if contributions[position, index] <= 0:
                break
            value = float(frame[names[index]].iloc[position])
            chosen.append({"key": names[index], "values": {"value": round(value, 4)}})
        listed.append(chosen)
    return listed


def triage(frame: pd.DataFrame, probability: np.ndarray, settings: Settings) -> np.ndarray:
    """Arrears triage: ``assistance`` for who can't pay, ``collection`` for who won't.

    A household whose use is falling or who is in arrears for the first time is routed to
    assistance; steady use with repeated arrears goes to collection. Customers neither in
    arrears nor likely to be get no route.
    """
    options = settings.models
    concerned = (frame["arrears_cny"].to_numpy() > 0) | (
        probability >= options["triage_min_probability"]
    )
    falling = frame["usage_yoy_3m"].to_numpy() <= options["falling_usage"]
    first = frame["late_12m"].to_numpy() <= options["first_arrears_max_late"]
    household = frame["customer_class"].to_numpy() == "residential"
    cannot = household & (falling | first)
    route = np.where(cannot, "assistance", "collection")
    return np.where(concerned, route, None)


@dataclass(frozen=True)
class TrainSummary:
    """What training and scoring one model did."""

    kind: Kind
    model_version: str
    auc: float
    brier: float
    customers: int
    seconds: float


def train_and_score(
    engine: sa.Engine,
    kinds: tuple[Kind, ...] = KINDS,
    viewer: access.Viewer = access.SYSTEM,
    settings: Settings | None = None,
) -> list[TrainSummary]:
    """Trains each model, judges it on its holdout, scores today's customers and stores both.

    Args:
        engine: the store.
        kinds: the models to train.
        viewer: whose customers to learn from and score (the batch job runs as the system).
        settings: the models' settings; ``data/risk.toml`` by default.
    """
    settings = settings or risk_settings.load()
    summaries = []
    for kind in kinds:
        started = time.perf_counter()
        with engine.begin() as conn:
            evaluation, _, labelled = evaluate(conn, kind, viewer, settings)
            model = _fit(labelled, kind)
            period = queries.data_period(conn)
            today = period[1].date() + dt.timedelta(days=1)
            current = snapshots.features_at(conn, viewer, today)
            probability = model.probability(current)
            _store(conn, viewer, model, evaluation, labelled, current, probability, settings, today)
        summaries.append(
            TrainSummary(
                kind,
                model.version,
                evaluation.auc,
                evaluation.brier,
                len(current),
                time.perf_counter() - started,
            )
        )
    return summaries


def _store(conn, viewer, model, evaluation, labelled, current, probability, settings, today):
    scores, customers = schema.risk_scores, schema.customers
    now = access.now()
    scoped = sa.select(customers.c.customer_id).where(access.customer_scope(viewer))
    conn.execute(
        scores.delete().where(scores.c.kind == model.kind, scores.c.customer_id.in_(scoped))
    )
    routes = triage(current, probability, settings) if model.kind == "arrears" else None
    rows = pd.DataFrame(
        {
            "customer_id": current["customer_id"],
            "kind": model.kind,
            "score": np.round(probability, 4),
            "model_version": model.version,
            "scored_on": today - dt.timedelta(days=1),
            "computed_at": now,
            "revenue_at_risk_cny": None,
            "triage": routes,
            "factors": [json.dumps(item, ensure_ascii=False) for item in factors(model, current)],
        }
    )
    store_engine.bulk_insert(conn, scores, rows)
    models = schema.risk_models
    conn.execute(models.delete().where(models.c.model_version == model.version))
    conn.execute(
        models.insert().values(
            model_version=model.version,
            kind=model.kind,
            trained_at=now,
            trained_by=viewer.user_name,
            holdout_cutoff=evaluation.holdout_cutoffs[0],
            holdout_auc=evaluation.auc,
            brier=evaluation.brier,
            rows=len(labelled),
            positives=int(labelled["label"].sum()),
            calibration=json.dumps(evaluation.calibration),
            details=json.dumps(
                {
                    "features": list(snapshots.FEATURES),
                    "weights": [round(float(w), 6) for w in model.weights],
                    "train_cutoffs": [f"{day}" for day in evaluation.train_cutoffs],
                    "holdout_cutoffs": [f"{day}" for day in evaluation.holdout_cutoffs],
                    "holdout_rows": evaluation.holdout_rows,
                    "holdout_positives": evaluation.holdout_positives,
                }
            ),
        )
    )
    store_engine.bump_data_version(conn)


def customer_scores(
    bind: sa.Engine | sa.Connection, viewer: access.Viewer, customer_id: str
) -> pd.DataFrame:
    """One customer's stored risk scores of every kind, when the viewer may see the customer.

    Returns:
        ``kind``, ``score``, ``model_version``, ``scored_on``, ``revenue_at_risk_cny``,
        ``triage`` and ``factors`` (catalog keys and values); empty when none or not visible.
    """
    scores, customers = schema.risk_scores, schema.customers
    query = (
        sa.select(
            scores.c.kind,
            scores.c.score,
            scores.c.model_version,
            scores.c.scored_on,
            scores.c.revenue_at_risk_cny,
            scores.c.triage,
            scores.c.factors,
        )
        .join(customers, customers.c.customer_id == scores.c.customer_id)
        .where(scores.c.customer_id == customer_id, access.customer_scope(viewer))
        .order_by(scores.c.kind)
    )
    with store_engine.connected(bind) as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))
    frame["factors"] = [json.loads(text) if text else [] for text in frame["factors"]]
    return frame


def model_reports(bind: sa.Engine | sa.Connection) -> pd.DataFrame:
    """The latest trained model of each kind with its holdout figures.

    Returns:
        ``kind``, ``model_version``, ``trained_at``, ``holdout_cutoff``, ``holdout_auc``,
        ``brier``, ``rows``, ``positives``, ``calibration`` (list of bins).
    """
    models = schema.risk_models
    with store_engine.connected(bind) as conn:
        frame = pd.read_sql(sa.select(models).order_by(models.c.trained_at.desc()), conn)
    frame = frame.drop_duplicates("kind", keep="first").sort_values("kind")
    frame["calibration"] = [json.loads(text) if text else [] for text in frame["calibration"]]
    return frame.reset_index(drop=True)


def scored_list(engine: sa.Engine, viewer: access.Viewer, kind: Kind, limit: int) -> pd.DataFrame:
    """The viewer's customers with the highest stored score of one kind, masked for them.

    Returns:
        ``customer_id``, ``name``, ``customer_class``, ``region``, ``manager_id``, ``score``,
        ``triage``, ``factors``, ``model_version``, ``scored_on``.
    """
    scores, customers = schema.risk_scores, schema.customers
    query = (
        sa.select(
            scores.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            customers.c.manager_id,
            scores.c.score,
            scores.c.triage,
            scores.c.factors,
            scores.c.model_version,
            scores.c.scored_on,
        )
        .join(customers, customers.c.customer_id == scores.c.customer_id)
        .where(scores.c.kind == kind, access.customer_scope(viewer))
        .order_by(scores.c.score.desc(), scores.c.customer_id)
        .limit(limit)
    )
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["factors"] = [json.loads(text) if text else [] for text in frame["factors"]]
    return access.mask_frame(viewer, frame)
