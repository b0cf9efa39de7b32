"""Uplift targeting: who converts because of a campaign, learnt from a past randomized one.

Two models from scikit-learn on what each member was before the campaign (use, bills, service,
archive): a two-model T-learner (the conversion chance with and without treatment, each from its
own arm) and a class-transformation model (Jaskowski & Jaroszewicz 2012: one classifier of
"treated and converted, or held out and not converted", the arms weighted to equal size, whose
probability maps to the uplift). Each is judged on customers it was not fitted on (five-fold
cross-fitting): the Qini curve, and the area between it and random targeting (AUUC, in
incremental conversions) with a bootstrap interval. The base is then scored with models fitted
on every member, and the next target list is the customers whose expected incremental value
exceeds the contact cost.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from core import access
from core.campaigns import balance, members, usage
from core.campaigns.evaluate import CONTROL_ARM
from core.errors import UserError
from core.store import frames, schema

MODELS = ("t_learner", "class_transformation")
FOLDS = 5
BOOTSTRAP_SAMPLES = 200
# Points of the Qini curve a chart draws: enough for its shape, few enough to send.
CURVE_POINTS = 101
# A model needs conversions in both arms to learn anything from them.
MIN_CONVERSIONS_PER_ARM = 5
# The customers a proposed target list holds at most (a campaign a team can run).
PROPOSAL_LIMIT = 5_000
SEED = 20240101
UPLIFT_FEATURES = (*balance.BALANCE_FEATURES, "residential")


def _classifier() -> Pipeline:
    # A logistic model on standardized features: with a few dozen conversions in a small control
    # arm, boosted trees fit the noise of the control arm (their held-out AUUC on the demo's
    # campaigns was about half the logistic model's and its interval held zero).
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=1000),
    )


def covariates(
    conn: sa.Connection, customer_ids: list[str], as_of: dt.date, offer: str | None = None
) -> pd.DataFrame:
    """What each customer was on the day before ``as_of``: :data:`UPLIFT_FEATURES` by id."""
    ids = sorted({str(value) for value in customer_ids})
    spans = usage.Windows(as_of - dt.timedelta(days=usage.PRE_DAYS), as_of, as_of, as_of)
    use = usage.usage(conn, ids, spans, offer)[["customer_id", "pre_kwh_per_day", "pre_peak_share"]]
    history = balance.history(conn, ids, as_of)
    customers = schema.customers
    classes = frames.read_frame(
        conn,
        sa.select(customers.c.customer_id, customers.c.customer_class).where(
            customers.c.customer_id.in_(ids)
        ),
    ).astype({"customer_id": str})
    frame = history.merge(use, on="customer_id", how="left").merge(
        classes, on="customer_id", how="left"
    )
    frame["residential"] = (frame["customer_class"] == "residential").astype(float)
    return frame.set_index("customer_id")[list(UPLIFT_FEATURES)].astype(float)


@dataclass(frozen=True)
class QiniCurve:
    """The Qini curve of one model on held-out customers.

    Attributes:
        model: one of :data:`MODELS`.
        targeted: the share of customers targeted, best-scored first (0 to 1).
        incremental: incremental conversions among them (treated conversions less the control
            conversions scaled to the treated count).
        auuc: the area between the curve and random targeting, in incremental conversions.
        auuc_ci: its 95 % bootstrap interval.
    """

    model: str
    targeted: np.ndarray
    incremental: np.ndarray
    auuc: float
    auuc_ci: tuple[float, float]

    @property
    def beats_random(self) -> bool:
        """Whether the interval of the AUUC lies above zero."""
        return self.auuc_ci[0] > 0


def _qini(treated: np.ndarray, converted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Qini values after each customer (in score order), one row per weight vector."""
    treated_n = np.cumsum(weights * treated, axis=-1)
    control_n = np.cumsum(weights * (1 - treated), axis=-1)
    treated_y = np.cumsum(weights * treated * converted, axis=-1)
    control_y = np.cumsum(weights * (1 - treated) * converted, axis=-1)
    scale = np.divide(treated_n, control_n, out=np.zeros_like(treated_n), where=control_n > 0)
    return treated_y - control_y * scale


def _area(qini: np.ndarray) -> np.ndarray:
    """The mean gap between the curve and the straight line to its end (random targeting)."""
    count = qini.shape[-1]
    line = qini[..., -1:] * np.arange(1, count + 1) / count
    return (qini - line).mean(axis=-1)


def qini_curve(
    model: str, scores: np.ndarray, treated: np.ndarray, converted: np.ndarray, seed: int = SEED
) -> QiniCurve:
    """The Qini curve and AUUC of scores on held-out customers, with a bootstrap interval.

    Args:
        model: the model's name.
        scores: the predicted uplift of each customer.
        treated: 1 for treatment, 0 for control.
        converted: 1 for a conversion.
        seed: the bootstrap's random seed.
    """
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    treated = np.asarray(treated, dtype=float)[order]
    converted = np.asarray(converted, dtype=float)[order]
    qini = _qini(treated, converted, np.ones(len(order)))
    # Poisson resampling: each customer counts a Poisson(1) number of times in each replicate.
    weights = np.random.default_rng(seed).poisson(1.0, (BOOTSTRAP_SAMPLES, len(order)))
    replicates = _area(_qini(treated, converted, weights.astype(float)))
    low, high = np.percentile(replicates, [2.5, 97.5])
    positions = np.linspace(0, len(order), CURVE_POINTS).round().astype(int)
    curve = np.r_[0.0, qini][positions]
    return QiniCurve(
        model=model,
        targeted=positions / len(order),
        incremental=curve,
        auuc=float(_area(qini)),
        auuc_ci=(float(low), float(high)),
    )


def _fit_predict(
    model: str,
    train: np.ndarray,
    treated: np.ndarray,
    converted: np.ndarray,
    score: np.ndarray,
) -> np.ndarray:
    """Fits one uplift model and returns the predicted uplift of the rows of ``score``."""
    if model == "t_learner":
        with_treatment = _classifier().fit(train[treated == 1], converted[treated == 1])
        without = _classifier().fit(train[treated == 0], converted[treated == 0])
        return with_treatment.predict_proba(score)[:, 1] - without.predict_proba(score)[:, 1]
    # Class transformation: Z = 1 for treated converters and held-out non-converters; with the
    # arms weighted to equal size, uplift = 2 P(Z = 1) - 1.
    transformed = (treated * converted + (1 - treated) * (1 - converted)).astype(int)
    share = treated.mean()
    weight = np.where(treated == 1, 0.5 / share, 0.5 / (1 - share))
    classifier = _classifier().fit(train, transformed, logisticregression__sample_weight=weight)
    return 2.0 * classifier.predict_proba(score)[:, 1] - 1.0


@dataclass(frozen=True)
class UpliftResult:
    """Uplift models of one past campaign.

    Attributes:
        campaign_id: the campaign learnt from.
        customers: its members the models were judged on.
        curves: the held-out Qini curve of each model.
        scores: each member's held-out predicted uplift by model (indexed by customer id).
        value_per_conversion: the campaign's mean value of a conversion (CNY).
        cost_per_contact: the campaign's cost of one contact (CNY).
    """

    campaign_id: str
    customers: int
    curves: dict[str, QiniCurve]
    scores: pd.DataFrame
    value_per_conversion: float
    cost_per_contact: float

    @property
    def best_model(self) -> str:
        """The model with the larger AUUC."""
        return max(self.curves, key=lambda name: self.curves[name].auuc)


def _training(conn: sa.Connection, viewer: access.Viewer, campaign_id: str):
    stored = members.stored_members(conn, viewer, campaign_id)
    campaign = conn.execute(
        sa.select(schema.campaigns).where(schema.campaigns.c.campaign_id == campaign_id)
    ).first()
    if campaign is None or stored.empty:
        raise UserError("campaigns.error.uplift_no_campaign", campaign_id=campaign_id)
    treated = (stored["arm"] != CONTROL_ARM).to_numpy(dtype=float)
    converted = stored["converted_at"].notna().to_numpy(dtype=float)
    for arm in (1.0, 0.0):
        if converted[treated == arm].sum() < MIN_CONVERSIONS_PER_ARM:
            raise UserError(
                "campaigns.error.uplift_too_few",
                campaign_id=campaign_id,
                minimum=MIN_CONVERSIONS_PER_ARM,
            )
    features = covariates(conn, stored["customer_id"].tolist(), campaign.start_date, campaign.offer)
    matrix = features.reindex(stored["customer_id"].astype(str)).to_numpy(dtype=float)
    return stored, campaign, matrix, treated, converted


def fit(conn: sa.Connection, viewer: access.Viewer, campaign_id: str) -> UpliftResult:
    """Fits both uplift models on a past campaign and judges them on held-out customers.

    Args:
        conn: a store connection.
        viewer: whose members the models learn from (the members in their scope).
        campaign_id: a randomized campaign with a control arm.

    Returns:
        The held-out Qini curves, AUUCs with bootstrap intervals and scores.

    Raises:
        UserError: no such campaign in scope, or too few conversions in an arm.
    """
    stored, campaign, matrix, treated, converted = _training(conn, viewer, campaign_id)
    strata = (treated * 2 + converted).astype(int)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    scores = {model: np.zeros(len(stored)) for model in MODELS}
    # One thread: small fits spend more on waking a thread pool than on the work.
    with threadpool_limits(1):
        for train, held in folds.split(matrix, strata):
            for model in MODELS:
                scores[model][held] = _fit_predict(
                    model, matrix[train], treated[train], converted[train], matrix[held]
                )
    curves = {model: qini_curve(model, scores[model], treated, converted) for model in MODELS}
    values = pd.to_numeric(stored["value_cny"], errors="coerce")
    value = float(values[converted == 1].mean()) if converted.sum() else 0.0
    return UpliftResult(
        campaign_id=campaign_id,
        customers=len(stored),
        curves=curves,
        scores=pd.DataFrame(scores, index=stored["customer_id"].astype(str).to_numpy()),
        value_per_conversion=value if np.isfinite(value) else 0.0,
        cost_per_contact=float(campaign.cost_per_contact_cny or 0.0),
    )


def propose(
    conn: sa.Connection,
    viewer: access.Viewer,
    campaign_id: str,
    model: str = "t_learner",
    limit: int = PROPOSAL_LIMIT,
) -> pd.DataFrame:
    """The next target list: the customers with the highest uplift net of the contact cost.

    The base scored is the viewer's customers of the classes and tariffs the campaign reached,
    except its converted members, as they are now; the models are fitted on every member.

    Returns:
        customer_id, name, phone, customer_class, region, manager_id, uplift (the predicted
        rise of the conversion chance), expected_value_cny (uplift times the campaign's value
        of a conversion) and net_value_cny (less the cost of one contact); only customers with
        a positive net value, best first, at most ``limit``; masked for the viewer.
    """
    if model not in MODELS:
        raise UserError("campaigns.error.uplift_model", model=model, allowed=", ".join(MODELS))
    stored, campaign, matrix, treated, converted = _training(conn, viewer, campaign_id)
    customers = schema.customers
    reached = stored["customer_id"].astype(str)
    kinds = frames.read_frame(
        conn,
        sa.select(customers.c.customer_class, customers.c.tariff_code)
        .where(customers.c.customer_id.in_(reached.tolist()))
        .distinct(),
    )
    base = frames.read_frame(
        conn,
        sa.select(
            customers.c.customer_id,
            customers.c.name,
            customers.c.phone,
            customers.c.customer_class,
            customers.c.tariff_code,
            customers.c.region,
            customers.c.manager_id,
        ).where(access.customer_scope(viewer)),
    ).astype({"customer_id": str})
    alike = base.merge(kinds, on=["customer_class", "tariff_code"])
    done = set(reached[converted == 1])
    alike = alike[~alike["customer_id"].isin(done)].reset_index(drop=True)
    if alike.empty:
        return alike.assign(uplift=[], expected_value_cny=[], net_value_cny=[])
    last = usage.last_reading(conn)
    as_of = last.date() + dt.timedelta(days=1) if last is not None else dt.date.today()
    now = covariates(conn, alike["customer_id"].tolist(), as_of, campaign.offer)
    scored = now.reindex(alike["customer_id"]).to_numpy(dtype=float)
    with threadpool_limits(1):
        uplift = _fit_predict(model, matrix, treated, converted, scored)
    values = pd.to_numeric(stored["value_cny"], errors="coerce")[converted == 1]
    value = float(values.mean()) if len(values) else 0.0
    cost = float(campaign.cost_per_contact_cny or 0.0)
    alike["uplift"] = uplift
    alike["expected_value_cny"] = uplift * value
    alike["net_value_cny"] = alike["expected_value_cny"] - cost
    chosen = alike[alike["net_value_cny"] > 0].sort_values(
        ["net_value_cny", "customer_id"], ascending=[False, True]
    )
    columns = ["customer_id", "name", "phone", "customer_class", "region", "manager_id"]
    shown = chosen[[*columns, "uplift", "expected_value_cny", "net_value_cny"]].head(limit)
    return access.mask_frame(viewer, shown.reset_index(drop=True))
