"""Segment runs: fit, name and store the segments of the viewer's customers; read them back.

A run clusters the standardized features (:mod:`core.segments.matrix`) into operable segments
and the load profiles (:mod:`core.segments.shapes`) into typical shapes. Its segments keep the ids
(and names) of the previous run's segments they match (:func:`core.segments.model.match_ids`),
so an analyst sees the same group under the same name after a refit, and who moved between them.
"""

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, errors
from core.segments import matrix, model, naming, shapes
from core.store import engine as store_engine
from core.store import frames, schema

Progress = Callable[[str, float], None]

# Fewer customers than this make no segmentation worth naming.
MIN_CUSTOMERS = 10
# The customers of a run listed on screen or taken away at once.
MEMBERS_LIMIT = 1_000_000
# Two typical shapes are the same when their normalized curves are this close (Euclidean over
# the 144 points of mean 1).
SHAPE_MATCH_DISTANCE = 1.5


class SegmentError(errors.UserError):
    """A segmentation that cannot be run or read as asked."""


@dataclass(frozen=True)
class Segment:
    """One segment of a run.

    Attributes:
        segment_id: its id, kept across runs while it is the same group.
        name_code: the name's code (:data:`core.segments.naming.NAME_CODES`).
        customers: its members.
        share: its share of the run's customers.
        profile: its centroid in raw units, by feature.
        facts: the features that justify its name.
        kept: whether the id (and name) came from the previous run.
        classes: the share of each customer class among its members.
    """

    segment_id: int
    name_code: str
    customers: int
    share: float
    profile: dict[str, float]
    facts: tuple[str, ...]
    kept: bool
    classes: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """What a fit made and stored.

    Attributes:
        run_id: the stored run.
        previous_run_id: the run whose ids it kept, or None for the first.
        customers: customers segmented.
        choice: how k was chosen, with the criterion of every k tried.
        segments: the segments, largest first.
        base: the centroid of all customers in raw units.
        shape_choice: how the number of typical shapes was chosen; None without readings.
        seconds: wall time of the fit.
    """

    run_id: int
    previous_run_id: int | None
    customers: int
    choice: model.KChoice
    segments: tuple[Segment, ...]
    base: dict[str, float]
    shape_choice: model.KChoice | None
    seconds: float


def _check_k(k: int | None, customers: int) -> None:
    if k is None:
        return
    most = min(model.MAX_SEGMENTS_OVERRIDE, customers - 1)
    if not 2 <= k <= most:
        raise SegmentError("segments.bad_k", k=k, most=most)


def latest_run(conn: sa.Connection) -> int | None:
    """The newest run's id, or None when nothing was segmented yet."""
    return conn.execute(sa.select(sa.func.max(schema.segment_runs.c.id))).scalar()


def run_model(conn: sa.Connection, run_id: int) -> dict:
    """A run's stored model (scaler, centroids, criterion, shapes) as a dictionary.

    Raises:
        SegmentError: there is no such run.
    """
    stored = conn.execute(
        sa.select(schema.segment_runs.c.model).where(schema.segment_runs.c.id == int(run_id))
    ).scalar()
    if stored is None:
        raise SegmentError("segments.unknown_run", run_id=run_id)
    return json.loads(stored)


def _previous(conn: sa.Connection) -> tuple[int | None, dict | None, dict[int, str], int]:
    run_id = latest_run(conn)
    used = conn.execute(sa.select(sa.func.max(schema.segments.c.segment_id))).scalar()
    next_id = int(used or 0) + 1
    if run_id is None:
        return None, None, {}, next_id
    names = dict(
        conn.execute(
            sa.select(schema.segments.c.segment_id, schema.segments.c.name_code).where(
                schema.segments.c.run_id == run_id
            )
        ).all()
    )
    return int(run_id), run_model(conn, run_id), names, next_id


def _class_shares(classes: pd.Series, labels: np.ndarray, k: int) -> list[dict[str, float]]:
    shares = []
    for index in range(k):
        counts = classes[labels == index].value_counts(normalize=True)
        shares.append({str(name): float(share) for name, share in counts.items()})
    return shares


def fit(
    engine: sa.Engine,
    viewer: access.Viewer = access.SYSTEM,
    *,
    k: int | None = None,
    seed: int = model.DEFAULT_SEED,
    min_share: float = model.MIN_SEGMENT_SHARE,
    max_segments: int = model.MAX_SEGMENTS,
    shape_k: int | None = None,
    progress: Progress | None = None,
) -> Run:
    """Segments the customers in ``viewer``'s scope and stores the run.

    Args:
        engine: the store, with features refreshed.
        viewer: whose customers; the run is audited under their name.
        k: the number of segments; chosen by the silhouette and the business rules when None.
        seed: the random seed: the same seed on the same data gives the same run.
        min_share: the smallest share a segment may have when k is chosen.
        max_segments: the most segments k may be when chosen.
        shape_k: the number of typical load shapes; chosen when None.
        progress: called with a step (``features``, ``choose_k``, ``fit``, ``shapes``,
            ``store``, ``done``) and the fraction done.

    Returns:
        The stored run.

    Raises:
        SegmentError: too few customers with features, or a k out of range.
    """
    started = time.perf_counter()
    report = progress or (lambda _step, _fraction: None)
    report("features", 0.0)
    with engine.connect() as conn:
        raw = matrix.read_features(conn, viewer)
    if len(raw) < MIN_CUSTOMERS:
        raise SegmentError("segments.too_few_customers", count=len(raw), minimum=MIN_CUSTOMERS)
    _check_k(k, len(raw))
    _check_k(shape_k, len(raw))
    scaler = matrix.fit_scaler(raw)
    data = scaler.transform(raw)
    report("choose_k", 0.1)
    k_range = range(2, max(2, min(max_segments, len(raw) - 1)) + 1)
    choice = model.choose_k(data, seed, k_range=k_range, min_share=min_share)
    if k is not None:
        choice = model.KChoice(k, "analyst", choice.criterion, choice.values, choice.smallest_share)
    with engine.connect() as conn:
        previous_run_id, previous_model, previous_names, next_id = _previous(conn)
    previous_ids, previous_centres = _previous_centres(previous_model, scaler)
    report("fit", 0.4)
    # A refit with as many segments starts from the previous run's centres.
    init = previous_centres if len(previous_centres) == choice.k else None
    fitted = model.kmeans(data, choice.k, seed, init=init)
    labels = fitted.labels_.astype(int)
    centres = fitted.cluster_centers_
    distances = np.linalg.norm(data - centres[labels], axis=1)
    fitted_value = model.criterion_value(data, labels, choice.criterion, seed)

    filled = raw.loc[:, list(scaler.features)].fillna(
        dict(zip(scaler.features, scaler.fill, strict=True))
    )
    values = matrix.transformed(filled)
    base_transformed = values.mean(axis=0)
    base_raw = matrix.untransformed(base_transformed, scaler.features)[0]
    base = dict(zip(scaler.features, map(float, base_raw), strict=True))
    sizes = np.bincount(labels, minlength=choice.k)
    # A segment's profile is the mean of its members' values (the centres are clipped).
    profiles = matrix.untransformed(
        np.vstack([values[labels == index].mean(axis=0) for index in range(choice.k)]),
        scaler.features,
    )
    classes = _class_shares(raw["customer_class"].astype(str), labels, choice.k)
    ids = model.match_ids(previous_centres, previous_ids, centres, next_id, sizes)
    segments = []
    for index, segment_id in enumerate(ids):
        profile = dict(zip(scaler.features, map(float, profiles[index]), strict=True))
        named = naming.name(profile, base, naming.dominant_class(classes[index]))
        kept = segment_id in previous_names
        code = previous_names[segment_id] if kept else named.code
        facts = named.facts if not kept or code == named.code else _facts_of(code)
        segments.append(
            Segment(
                segment_id,
                code,
                int(sizes[index]),
                float(sizes[index] / len(raw)),
                profile,
                facts,
                kept,
                classes[index],
            )
        )

    report("shapes", 0.6)
    shape_result, shape_ids = _shapes(engine, viewer, seed, shape_k, previous_model)
    report("store", 0.9)
    by_index = np.asarray(ids)[labels]
    members = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str).to_numpy(),
            "segment_id": by_index,
            "distance": distances,
        }
    )
    if shape_result is not None:
        shape_of = dict(
            zip(
                shape_result.customer_ids,
                np.asarray(shape_ids)[shape_result.labels],
                strict=True,
            )
        )
        members["shape_cluster"] = members["customer_id"].map(shape_of).astype("Int64")
    else:
        members["shape_cluster"] = pd.array([pd.NA] * len(members), dtype="Int64")
    stored_model = {
        "scaler": scaler.as_dict(),
        "base": base_transformed.tolist(),
        "segments": {
            str(segment_id): {"centre": scaler.to_transformed(centres[index]).tolist()}
            for index, segment_id in enumerate(ids)
        },
        "criterion": _choice_dict(choice),
        "criterion_value": fitted_value,
        "rules": {"min_share": min_share, "max_segments": max_segments},
        "shapes": None
        if shape_result is None
        else {
            "ids": [int(value) for value in shape_ids],
            "centroids": shape_result.centroids.round(5).tolist(),
            "low": shape_result.low.round(5).tolist(),
            "high": shape_result.high.round(5).tolist(),
            "sizes": np.bincount(shape_result.labels, minlength=shape_result.choice.k).tolist(),
            "criterion": _choice_dict(shape_result.choice),
        },
    }
    period_end = pd.Timestamp(raw["period_end"].max()).date()
    with engine.begin() as conn:
        run_id = _store(
            conn,
            viewer,
            previous_run_id,
            period_end,
            choice,
            fitted_value,
            seed,
            shape_result,
            stored_model,
            segments,
            base,
            members,
        )
    report("done", 1.0)
    ordered = tuple(sorted(segments, key=lambda segment: (-segment.customers, segment.segment_id)))
    return Run(
        run_id,
        previous_run_id,
        len(raw),
        choice,
        ordered,
        base,
        None if shape_result is None else shape_result.choice,
        time.perf_counter() - started,
    )


def _previous_centres(
    previous_model: dict | None, scaler: matrix.Scaler
) -> tuple[list[int], np.ndarray]:
    """The previous run's segment ids and centres in ``scaler``'s standard units.

    Centres are kept in transformed (unstandardized) units, so that a run on data that moved
    compares them on its own scale. A run on other features compares with nothing.
    """
    empty = np.empty((0, len(scaler.features)))
    if previous_model is None:
        return [], empty
    if tuple(previous_model["scaler"]["features"]) != scaler.features:
        return [], empty
    ids = [int(key) for key in previous_model["segments"]]
    centres = np.array([previous_model["segments"][str(key)]["centre"] for key in ids])
    return ids, np.clip(scaler.to_standard(centres), -matrix.CLIP_SD, matrix.CLIP_SD)


def _facts_of(code: str) -> tuple[str, ...]:
    for rule_code, _rule, facts in naming.RULES:
        if rule_code == code:
            return facts
    return naming.CLASS_FACTS


def _choice_dict(choice: model.KChoice) -> dict:
    return {
        "k": choice.k,
        "chosen_by": choice.chosen_by,
        "name": choice.criterion,
        "values": {str(k): value for k, value in choice.values.items()},
        "smallest_share": {str(k): value for k, value in choice.smallest_share.items()},
    }


def _shapes(
    engine: sa.Engine,
    viewer: access.Viewer,
    seed: int,
    shape_k: int | None,
    previous_model: dict | None,
) -> tuple[shapes.Shapes | None, list[int]]:
    with engine.connect() as conn:
        profile = shapes.profiles(conn, viewer)
    if len(profile) < MIN_CUSTOMERS:
        return None, []
    result = shapes.cluster(profile, seed, shape_k)
    previous = (previous_model or {}).get("shapes") or {"ids": [], "centroids": []}
    previous_centroids = np.array(previous["centroids"], dtype=float).reshape(-1, shapes.POINTS)
    next_id = max(previous["ids"], default=0) + 1
    sizes = np.bincount(result.labels, minlength=result.choice.k)
    ids = model.match_ids(
        previous_centroids,
        previous["ids"],
        result.centroids,
        next_id,
        sizes,
        SHAPE_MATCH_DISTANCE,
    )
    return result, ids


def _store(
    conn: sa.Connection,
    viewer: access.Viewer,
    previous_run_id: int | None,
    period_end: dt.date,
    choice: model.KChoice,
    fitted_value: float | None,
    seed: int,
    shape_result: shapes.Shapes | None,
    stored_model: dict,
    segments: list[Segment],
    base: dict[str, float],
    members: pd.DataFrame,
) -> int:
    run_id = conn.execute(
        schema.segment_runs.insert().values(
            created_at=access.now(),
            created_by=viewer.user_name,
            previous_run_id=previous_run_id,
            period_end=period_end,
            customers=len(members),
            k=choice.k,
            k_chosen_by=choice.chosen_by,
            seed=seed,
            criterion=choice.criterion,
            criterion_value=fitted_value,
            shape_k=None if shape_result is None else shape_result.choice.k,
            model=json.dumps(stored_model),
        )
    ).inserted_primary_key[0]
    conn.execute(
        schema.segments.insert(),
        [
            {
                "run_id": run_id,
                "segment_id": segment.segment_id,
                "name_code": segment.name_code,
                "customers": segment.customers,
                "rules": json.dumps(
                    {
                        "facts": [
                            {
                                "feature": feature,
                                "value": segment.profile[feature],
                                "base": base[feature],
                            }
                            for feature in segment.facts
                        ],
                        "profile": segment.profile,
                        "classes": segment.classes,
                        "kept": segment.kept,
                    }
                ),
            }
            for segment in segments
        ],
    )
    store_engine.bulk_insert(
        conn,
        schema.segment_members,
        members.assign(run_id=int(run_id))[
            ["run_id", "customer_id", "segment_id", "shape_cluster", "distance"]
        ],
    )
    access.record(
        conn,
        viewer,
        "segment_run",
        f"segment_run:{run_id}",
        {"k": choice.k, "chosen_by": choice.chosen_by, "customers": len(members)},
    )
    store_engine.bump_data_version(conn)
    return int(run_id)


def all_runs(conn: sa.Connection) -> pd.DataFrame:
    """Every stored run, newest first: id, when, who, how many customers, k and how chosen."""
    table = schema.segment_runs
    query = sa.select(
        table.c.id,
        table.c.created_at,
        table.c.created_by,
        table.c.previous_run_id,
        table.c.period_end,
        table.c.customers,
        table.c.k,
        table.c.k_chosen_by,
        table.c.criterion,
        table.c.criterion_value,
        table.c.shape_k,
    ).order_by(table.c.id.desc())
    return frames.read_frame(conn, query)


def _scoped_members(viewer: access.Viewer, run_id: int) -> sa.Select:
    members, customers = schema.segment_members, schema.customers
    return (
        sa.select(members)
        .join(customers, customers.c.customer_id == members.c.customer_id)
        .where(members.c.run_id == int(run_id), access.customer_scope(viewer))
    )


def segments_of(conn: sa.Connection, viewer: access.Viewer, run_id: int) -> pd.DataFrame:
    """A run's segments as ``viewer`` sees them: sizes counted within their scope.

    Returns:
        segment_id, name_code, customers (in scope), share (of the run's customers in scope),
        run_customers (all the segment's members), facts (list of feature, value, base),
        profile (feature → value), classes, kept; largest first. Segments with nobody in
        scope are left out.
    """
    members = _scoped_members(viewer, run_id).subquery("scoped")
    counts = (
        sa.select(members.c.segment_id, sa.func.count().label("visible"))
        .group_by(members.c.segment_id)
        .subquery("counts")
    )
    table = schema.segments
    rows = conn.execute(
        sa.select(
            table.c.segment_id,
            table.c.name_code,
            table.c.customers,
            table.c.rules,
            counts.c.visible,
        )
        .join(counts, counts.c.segment_id == table.c.segment_id)
        .where(table.c.run_id == int(run_id))
    ).all()
    total = sum(int(row.visible) for row in rows)
    records = []
    for row in rows:
        rules = json.loads(row.rules)
        records.append(
            {
                "segment_id": int(row.segment_id),
                "name_code": row.name_code,
                "customers": int(row.visible),
                "share": int(row.visible) / total if total else 0.0,
                "run_customers": int(row.customers),
                "facts": rules["facts"],
                "profile": rules["profile"],
                "classes": rules["classes"],
                "kept": bool(rules["kept"]),
            }
        )
    columns = [
        "segment_id",
        "name_code",
        "customers",
        "share",
        "run_customers",
        "facts",
        "profile",
        "classes",
        "kept",
    ]
    frame = pd.DataFrame(records, columns=columns)
    return frame.sort_values(["customers", "segment_id"], ascending=[False, True]).reset_index(
        drop=True
    )


def display_names(segments: pd.DataFrame, language: str) -> dict[int, str]:
    """Each segment's display name; two of one name are told apart by their ids."""
    counts = segments["name_code"].value_counts()
    return {
        int(row.segment_id): naming.label(
            row.name_code, int(row.segment_id), counts[row.name_code] > 1, language
        )
        for row in segments.itertuples(index=False)
    }


def reasons(segments: pd.DataFrame, language: str) -> dict[int, str]:
    """Each segment's justifying rules in words, joined: ``Peak share 72% vs 61% overall; …``."""
    separator = "；" if language == "zh" else "; "
    return {
        int(row.segment_id): separator.join(
            naming.fact_text(fact["feature"], fact["value"], fact["base"], language)
            for fact in row.facts
        )
        for row in segments.itertuples(index=False)
    }


def members(
    conn: sa.Connection,
    viewer: access.Viewer,
    run_id: int,
    segment_ids: list[int] | None = None,
    limit: int = MEMBERS_LIMIT,
) -> pd.DataFrame:
    """The members of a run (or of some of its segments) in ``viewer``'s scope, masked.

    Returns:
        customer_id, segment_id, shape_cluster, distance and the archive's name, phone,
        customer_class, region, transformer_area, tariff_code, lat, lon; in customer-id order.
    """
    table, customers = schema.segment_members, schema.customers
    query = (
        sa.select(
            table.c.customer_id,
            table.c.segment_id,
            table.c.shape_cluster,
            table.c.distance,
            customers.c.name,
            customers.c.phone,
            customers.c.customer_class,
            customers.c.region,
            customers.c.transformer_area,
            customers.c.tariff_code,
            customers.c.lat,
            customers.c.lon,
        )
        .join(customers, customers.c.customer_id == table.c.customer_id)
        .where(table.c.run_id == int(run_id), access.customer_scope(viewer))
        .order_by(table.c.customer_id)
        .limit(limit)
    )
    if segment_ids is not None:
        query = query.where(table.c.segment_id.in_([int(value) for value in segment_ids]))
    frame = frames.read_frame(conn, query)
    frame["shape_cluster"] = pd.to_numeric(frame["shape_cluster"]).astype("Int64")
    frame["segment_id"] = frame["segment_id"].astype("int64")
    return access.mask_frame(viewer, frame)


def migration(
    conn: sa.Connection, viewer: access.Viewer, run_id: int, previous_run_id: int | None = None
) -> pd.DataFrame:
    """Who moved from which segment to which between two runs, in ``viewer``'s scope.

    Args:
        conn: a store connection.
        viewer: whose customers are counted.
        run_id: the later run.
        previous_run_id: the earlier run; the one ``run_id`` kept its ids from by default.

    Returns:
        A matrix of customer counts: rows the previous run's segment ids, columns the later
        run's; customers new in the later run are in row ``-1``, those gone from it in column
        ``-1``. Empty when there is no earlier run.
    """
    if previous_run_id is None:
        previous_run_id = conn.execute(
            sa.select(schema.segment_runs.c.previous_run_id).where(
                schema.segment_runs.c.id == int(run_id)
            )
        ).scalar()
    if previous_run_id is None:
        return pd.DataFrame()
    now = _scoped_members(viewer, run_id).subquery("now")
    before = _scoped_members(viewer, previous_run_id).subquery("before")
    moved = conn.execute(
        sa.select(before.c.segment_id, now.c.segment_id, sa.func.count())
        .select_from(now.outerjoin(before, before.c.customer_id == now.c.customer_id))
        .group_by(before.c.segment_id, now.c.segment_id)
    ).all()
    gone = conn.execute(
        sa.select(before.c.segment_id, sa.func.count())
        .where(~sa.exists().where(now.c.customer_id == before.c.customer_id))
        .group_by(before.c.segment_id)
    ).all()
    rows = [(-1 if a is None else int(a), int(b), int(c)) for a, b, c in moved] + [
        (int(a), -1, int(c)) for a, c in gone
    ]
    long = pd.DataFrame(rows, columns=["source", "target", "customers"])
    moves = long.pivot_table(
        index="source", columns="target", values="customers", aggfunc="sum", fill_value=0
    )
    return moves.astype(int)


def base_profile(stored_model: dict) -> dict[str, float]:
    """The centroid of all the run's customers in raw units, by feature (the "overall" figures)."""
    features_ = tuple(stored_model["scaler"]["features"])
    values = matrix.untransformed(np.asarray(stored_model["base"], dtype=float), features_)[0]
    return dict(zip(features_, map(float, values), strict=True))


def by_area(members: pd.DataFrame) -> pd.DataFrame:
    """Members gathered by transformer area (台区): where the map shows areas instead of points.

    Args:
        members: :func:`members` rows (``transformer_area``, ``lat``, ``lon``, ``segment_id``).

    Returns:
        transformer_area, lat, lon (the members' mean position), customers, segment_id (the
        segment most of them are in) and its share of the area's members.
    """
    located = members.dropna(subset=["lat", "lon"]).assign(
        transformer_area=lambda frame: frame["transformer_area"].fillna("—")
    )
    if located.empty:
        return pd.DataFrame(
            columns=["transformer_area", "lat", "lon", "customers", "segment_id", "share"]
        )
    grouped = located.groupby("transformer_area", sort=True)
    areas = grouped.agg(
        lat=("lat", "mean"), lon=("lon", "mean"), customers=("customer_id", "count")
    )
    counts = located.groupby(["transformer_area", "segment_id"]).size().rename("members")
    top = counts.reset_index().sort_values(
        ["transformer_area", "members", "segment_id"], ascending=[True, False, True]
    )
    top = top.drop_duplicates("transformer_area").set_index("transformer_area")
    areas["segment_id"] = top["segment_id"].astype("int64")
    areas["share"] = top["members"] / areas["customers"]
    return areas.reset_index()


def member_features(
    conn: sa.Connection,
    viewer: access.Viewer,
    run_id: int,
    columns: tuple[str, ...] = matrix.CLUSTER_FEATURES,
    limit: int = MEMBERS_LIMIT,
) -> pd.DataFrame:
    """Each member's segment and stored features, for distributions against the whole base.

    Returns:
        customer_id, segment_id and ``columns``; at most ``limit`` rows in customer-id order.
    """
    table, stored = schema.segment_members, schema.features
    query = (
        sa.select(table.c.customer_id, table.c.segment_id, *(stored.c[name] for name in columns))
        .join(stored, stored.c.customer_id == table.c.customer_id)
        .join(schema.customers, schema.customers.c.customer_id == table.c.customer_id)
        .where(table.c.run_id == int(run_id), access.customer_scope(viewer))
        .order_by(table.c.customer_id)
        .limit(limit)
    )
    frame = frames.read_frame(conn, query)
    frame[list(columns)] = frame[list(columns)].apply(pd.to_numeric, errors="coerce").astype(float)
    return frame
