"""Clustering: k-means fits, the choice of k, and stable segment ids across runs.

Small stores are fitted with full-batch k-means (exact and cheap below a few tens of thousands of
rows); larger ones with mini-batch k-means, which keeps a million customers in memory and in
minutes. k is chosen on a sample by the silhouette, subject to the business rules: no segment
smaller than a share of the customers, at most a number of segments.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import calinski_harabasz_score, silhouette_score

DEFAULT_SEED = 20240101
# Business rules of a segmentation: each segment large enough to act on, few enough to tell apart.
MIN_SEGMENT_SHARE = 0.02
MAX_SEGMENTS = 8
# The seeds name four operable groups; fewer segments cannot hold them, so k starts at four
# whenever the business rules allow it (silhouette alone favours the split of households from
# businesses).
MIN_SEGMENTS = 4
# The most segments an analyst may ask for.
MAX_SEGMENTS_OVERRIDE = 20
# Above this many rows the fit is mini-batch (see module docstring).
FULL_BATCH_ROWS = 20_000
MINI_BATCH_SIZE = 4096
# k is chosen on at most this many customers, the silhouette scored on at most this many
# (its cost grows with the square of the rows).
SELECTION_SAMPLE = 20_000
SILHOUETTE_SAMPLE = 5_000
# Restarts of each fit: the best of them (least inertia) is kept. Choosing k compares many fits
# on a sample, where fewer restarts do.
RESTARTS = 5
SELECTION_RESTARTS = 2
# A new segment is the same group as a previous one when their centroids are at most this far
# apart (standard units of the features, Euclidean).
MATCH_DISTANCE = 1.5


@dataclass(frozen=True)
class KChoice:
    """How k was chosen.

    Attributes:
        k: the number of segments.
        chosen_by: ``criterion`` or ``analyst``.
        criterion: the name of the criterion (``silhouette`` or ``calinski_harabasz``).
        values: the criterion's value for each k tried; None where a business rule rejected k.
        smallest_share: the smallest segment's share for each k tried.
    """

    k: int
    chosen_by: str
    criterion: str
    values: dict[int, float | None]
    smallest_share: dict[int, float]


def kmeans(
    data: np.ndarray,
    k: int,
    seed: int,
    restarts: int = RESTARTS,
    init: np.ndarray | None = None,
):
    """A fitted k-means model of ``data`` (full-batch when small, mini-batch when large).

    Args:
        data: standardized rows.
        k: the number of clusters.
        seed: the random seed.
        restarts: fits from k-means++ starts, the best kept.
        init: start from these k centroids instead (a refit starts from the previous run's, so
            that the groups that stayed the same are found again); one fit.
    """
    start = "k-means++" if init is None else np.asarray(init, dtype=float)
    runs = restarts if init is None else 1
    if len(data) <= FULL_BATCH_ROWS:
        return KMeans(n_clusters=k, init=start, n_init=runs, random_state=seed).fit(data)
    return MiniBatchKMeans(
        n_clusters=k,
        init=start,
        n_init=runs,
        random_state=seed,
        batch_size=MINI_BATCH_SIZE,
        max_no_improvement=20,
    ).fit(data)


def _sample(data: np.ndarray, size: int, seed: int) -> np.ndarray:
    if len(data) <= size:
        return data
    chosen = np.random.default_rng(seed).choice(len(data), size=size, replace=False)
    return data[np.sort(chosen)]


def choose_k(
    data: np.ndarray,
    seed: int,
    *,
    k_range: range,
    min_share: float = MIN_SEGMENT_SHARE,
    criterion: str = "silhouette",
    min_k: int = MIN_SEGMENTS,
) -> KChoice:
    """The k of the best criterion value among the k the business rules allow.

    Args:
        data: standardized rows.
        seed: the random seed of the fits and the samples.
        k_range: the k to try.
        min_share: a k whose smallest segment holds less than this share is rejected
            (0 keeps every k).
        criterion: ``silhouette`` (segments) or ``calinski_harabasz`` (load shapes).
        min_k: prefer k of at least this many when one is allowed.

    Returns:
        The choice, with the criterion value of every k tried.
    """
    sample = _sample(data, SELECTION_SAMPLE, seed)
    values: dict[int, float | None] = {}
    smallest: dict[int, float] = {}
    for k in k_range:
        if k >= len(sample):
            break
        labels = kmeans(sample, k, seed, SELECTION_RESTARTS).labels_
        shares = np.bincount(labels, minlength=k) / len(labels)
        smallest[k] = float(shares.min())
        if len(np.unique(labels)) < 2 or shares.min() < min_share:
            values[k] = None
            continue
        values[k] = _criterion(sample, labels, criterion, seed)
    allowed = {k: value for k, value in values.items() if value is not None}
    preferred = {k: value for k, value in allowed.items() if k >= min_k} or allowed
    if preferred:
        k = max(preferred, key=lambda key: (preferred[key], -key))
    else:
        k = min(values) if values else min(2, max(len(data) - 1, 1))
    return KChoice(k, "criterion", criterion, values, smallest)


def _criterion(sample: np.ndarray, labels: np.ndarray, criterion: str, seed: int) -> float:
    if criterion == "calinski_harabasz":
        return float(calinski_harabasz_score(sample, labels))
    size = min(len(sample), SILHOUETTE_SAMPLE)
    return float(silhouette_score(sample, labels, sample_size=size, random_state=seed))


def criterion_value(
    data: np.ndarray, labels: np.ndarray, criterion: str, seed: int
) -> float | None:
    """The criterion of a fitted partition, on a sample; None for fewer than two groups."""
    if len(np.unique(labels)) < 2:
        return None
    if len(data) > SELECTION_SAMPLE:
        chosen = np.random.default_rng(seed).choice(len(data), SELECTION_SAMPLE, replace=False)
        data, labels = data[chosen], labels[chosen]
        if len(np.unique(labels)) < 2:
            return None
    return _criterion(data, labels, criterion, seed)


def match_ids(
    previous: np.ndarray,
    previous_ids: list[int],
    current: np.ndarray,
    next_id: int,
    sizes: np.ndarray,
    max_distance: float = MATCH_DISTANCE,
) -> list[int]:
    """Ids for the current clusters: a previous cluster's id where it is the same group.

    Clusters are paired by the Hungarian assignment on the distances between centroids
    (``scipy.optimize.linear_sum_assignment``); a pair further apart than ``max_distance`` is two
    different groups. Unpaired clusters get new ids from ``next_id`` up, the largest first.

    Args:
        previous: the previous run's centroids, in the current run's standard units.
        previous_ids: the previous clusters' ids, one per row of ``previous``.
        current: the current centroids.
        next_id: the first id never used before.
        sizes: the current clusters' sizes (to number the new ones).
        max_distance: the furthest a pair may be to count as the same group.

    Returns:
        One id per current cluster.
    """
    ids: list[int | None] = [None] * len(current)
    if len(previous) and len(current):
        cost = np.linalg.norm(current[:, None, :] - previous[None, :, :], axis=2)
        rows, columns = linear_sum_assignment(cost)
        for row, column in zip(rows, columns, strict=True):
            if cost[row, column] <= max_distance:
                ids[row] = int(previous_ids[column])
    fresh = next_id
    for index in sorted(range(len(current)), key=lambda position: (-sizes[position], position)):
        if ids[index] is None:
            ids[index] = fresh
            fresh += 1
    return [int(value) for value in ids]
