"""Confirmed inspection outcomes as labels: a supervised score that takes over as they grow.

Only inspected customers have labels, and they were inspected because they ranked high: a model
fitted on them as they come learns the list's own bias. Each label is therefore weighted by the
inverse of the chance that its customer was picked (stored with the order when it was made), so
the few customers inspected against the list's advice count for the many like them that were
not. The supervised probability is blended into the rules' likelihood with a weight that grows
with the number of labels, once there are enough of each outcome.
"""

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from core.risk.settings import Settings
from core.store import schema

# What counts as a hit: the inspection found revenue lost to theft or a faulty meter. A vacancy
# explains low use without loss; no issue is a miss.
HIT_OUTCOMES = ("confirmed_theft", "meter_fault")
# A weight is at most this many times the weight of a customer the list surely picked.
MAX_WEIGHT = 20.0


def outcomes(conn: sa.Connection) -> pd.DataFrame:
    """Each inspected customer's latest resolved outcome and the chance they were picked.

    Returns:
        ``customer_id``, ``hit`` (1 or 0), ``weight`` (inverse selection propensity).
    """
    orders = schema.inspection_orders
    rows = conn.execute(
        sa.select(
            orders.c.customer_id,
            orders.c.outcome,
            orders.c.selection_propensity,
            orders.c.resolved_at,
            orders.c.id,
        )
        .where(orders.c.state == "resolved", orders.c.outcome.is_not(None))
        .order_by(orders.c.customer_id, orders.c.resolved_at, orders.c.id)
    ).all()
    frame = pd.DataFrame(
        rows, columns=["customer_id", "outcome", "propensity", "resolved_at", "id"]
    ).drop_duplicates("customer_id", keep="last")
    propensity = pd.to_numeric(frame["propensity"], errors="coerce").fillna(1.0)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "hit": frame["outcome"].isin(HIT_OUTCOMES).astype(int).to_numpy(),
            "weight": np.clip(1.0 / propensity.clip(lower=1e-6), 1.0, MAX_WEIGHT).to_numpy(),
        }
    )


def blend_weight(labels: int, hits: int, settings: Settings) -> float:
    """How much the supervised score counts: nothing below the minimum, all from full weight."""
    options = settings.labels
    misses = labels - hits
    if labels < options["min_labels"] or min(hits, misses) < options["min_each_outcome"]:
        return 0.0
    return float(min(1.0, labels / options["full_weight_at"]))


def supervised_likelihood(
    conn: sa.Connection, frame: pd.DataFrame, matrix: np.ndarray, settings: Settings
) -> tuple[np.ndarray, float] | None:
    """The probability of a hit for every scored customer, and the weight it gets.

    Args:
        conn: a store connection.
        frame: the scored customers (``customer_id``), in the order of ``matrix``'s rows.
        matrix: their measures as the isolation forest sees them.
        settings: the label thresholds.

    Returns:
        ``(probability, weight)``, or None while there are too few labels.
    """
    known = outcomes(conn)
    position = pd.Series(np.arange(len(frame)), index=frame["customer_id"].to_numpy())
    known = known[known["customer_id"].isin(position.index)]
    weight = blend_weight(len(known), int(known["hit"].sum()), settings)
    if weight == 0.0:
        return None
    rows = position.loc[known["customer_id"]].to_numpy()
    model = LogisticRegression(max_iter=1000)
    model.fit(matrix[rows], known["hit"].to_numpy(), sample_weight=known["weight"].to_numpy())
    return model.predict_proba(matrix)[:, 1], weight
