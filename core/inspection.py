"""Inspection orders (稽查工单): from the abnormal-use list to the field and back.

An order is made for a customer on the list, with an assignee and a due date, and moves
created → dispatched → on site → resolved, one step at a time; resolving it records the outcome
(confirmed theft, meter fault, vacancy, no issue) and the revenue recovered. A resolved order is
reopened only with a reason, and goes back to dispatched. Every change is an event of the order
and an entry of the audit log. What the list said when the order was made (score, revenue at
risk, reasons, the chance the customer was picked) stays with the order, so its outcome can be
judged against it and become a label for the next ranking (:mod:`core.risk.labels`).

Who may do what: managers and analysts plan (create, dispatch, reopen, and anything else on the
orders of their customers); an inspector sees and moves only the orders assigned to them;
customer managers read the orders of their customers.
"""

import datetime as dt
import json
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access
from core.errors import Notice, UserError
from core.risk import abnormal, labels
from core.risk import settings as risk_settings
from core.store import engine as store_engine
from core.store import schema

STATES = schema.INSPECTION_STATES
OUTCOMES = schema.INSPECTION_OUTCOMES
OPEN_STATES = ("created", "dispatched", "on_site")
# The one step each state may take; "resolved" goes back only by reopening.
NEXT_STATE = {"created": "dispatched", "dispatched": "on_site", "on_site": "resolved"}
REOPENED_STATE = "dispatched"
PLANNER_ROLES = ("manager", "analyst")
ASSIGNEE_ROLES = ("inspector", "manager")
HIT_OUTCOMES = labels.HIT_OUTCOMES
EARTH_RADIUS_KM = 6371.0
# A board on screen shows at most this many orders.
ORDERS_LIMIT = 2000


def _now() -> dt.datetime:
    return access.now()


def _require_planner(viewer: access.Viewer) -> None:
    if viewer.role not in PLANNER_ROLES:
        raise access.AccessError("inspection.error.planners_only")


def assignees(bind: sa.Engine | sa.Connection) -> list[str]:
    """The active accounts an order can be assigned to (inspectors, then managers), by name."""
    users = schema.users
    with store_engine.connected(bind) as conn:
        rows = conn.execute(
            sa.select(users.c.user_name, users.c.role)
            .where(users.c.active, users.c.role.in_(ASSIGNEE_ROLES))
            .order_by(users.c.user_name)
        ).all()
    return [
        name for name, role in sorted(rows, key=lambda row: (ASSIGNEE_ROLES.index(row[1]), row[0]))
    ]


def _visible_orders(viewer: access.Viewer) -> sa.ColumnElement:
    """The orders a viewer may see: an inspector their own, everyone else their customers'."""
    orders, customers = schema.inspection_orders, schema.customers
    if viewer.role == "inspector":
        return orders.c.assignee == viewer.user_name
    return orders.c.customer_id.in_(
        sa.select(customers.c.customer_id).where(access.customer_scope(viewer))
    )


def _selection_propensity(conn: sa.Connection, customer_id: str, settings) -> float | None:
    """The chance the list picks this customer: 1 within the weekly capacity, less further down.

    With ``n`` orders a week and the customer at rank ``r`` of the stored scores, ``min(1, n/r)``.
    """
    scores = schema.risk_scores
    case_value = settings.ranking["case_value_cny"]
    priority = scores.c.score * (sa.func.coalesce(scores.c.revenue_at_risk_cny, 0.0) + case_value)
    own = (
        sa.select(priority)
        .where(scores.c.kind == abnormal.KIND, scores.c.customer_id == customer_id)
        .scalar_subquery()
    )
    rank = conn.execute(
        sa.select(sa.func.count()).where(scores.c.kind == abnormal.KIND, priority >= own)
    ).scalar_one()
    if not rank:
        return None
    return min(1.0, settings.list_length / rank)


def create_orders(
    engine: sa.Engine,
    viewer: access.Viewer,
    customer_ids: list[str],
    assignee: str,
    due_date: dt.date,
) -> list[int]:
    """Creates one inspection order per customer, with the evidence of the stored scores.

    Args:
        engine: the store.
        viewer: who creates them: a manager or analyst with the customers in scope.
        customer_ids: the customers to inspect.
        assignee: the account the orders go to (see :func:`assignees`).
        due_date: when the visit is due; today or later.

    Returns:
        The new orders' ids, in the order of ``customer_ids``.

    Raises:
        AccessError: the viewer may not plan inspections or a customer is outside their scope.
        UserError: no customers, an unknown assignee, a due date in the past, or a customer
            with an open order already.
    """
    _require_planner(viewer)
    if not customer_ids:
        raise UserError("inspection.error.no_customers")
    if due_date < _now().date():
        raise UserError("inspection.error.due_in_past", due=f"{due_date}")
    if assignee not in assignees(engine):
        raise UserError("inspection.error.unknown_assignee", assignee=assignee)
    settings = risk_settings.load()
    orders, scores = schema.inspection_orders, schema.risk_scores
    created = []
    with engine.begin() as conn:
        for customer_id in customer_ids:
            if not access.may_see_customer(conn, viewer, customer_id):
                raise access.AccessError("inspection.error.out_of_scope", customer=customer_id)
            open_order = conn.execute(
                sa.select(orders.c.id).where(
                    orders.c.customer_id == customer_id, orders.c.state.in_(OPEN_STATES)
                )
            ).scalar()
            if open_order is not None:
                raise UserError(
                    "inspection.error.already_open", customer=customer_id, order=open_order
                )
            evidence = conn.execute(
                sa.select(
                    scores.c.score,
                    scores.c.revenue_at_risk_cny,
                    scores.c.factors,
                    scores.c.model_version,
                ).where(scores.c.kind == abnormal.KIND, scores.c.customer_id == customer_id)
            ).first()
            now = _now()
            order_id = conn.execute(
                orders.insert()
                .values(
                    customer_id=customer_id,
                    state="created",
                    assignee=assignee,
                    due_date=due_date,
                    created_at=now,
                    created_by=viewer.user_name,
                    updated_at=now,
                    score=evidence.score if evidence else None,
                    revenue_at_risk_cny=evidence.revenue_at_risk_cny if evidence else None,
                    reasons=evidence.factors if evidence else None,
                    model_version=evidence.model_version if evidence else None,
                    selection_propensity=_selection_propensity(conn, customer_id, settings),
                )
                .returning(orders.c.id)
            ).scalar_one()
            _event(conn, viewer, order_id, None, "created")
            access.record(
                conn,
                viewer,
                "inspection_order_created",
                customer_id,
                {"order": order_id, "assignee": assignee, "due_date": f"{due_date}"},
            )
            created.append(int(order_id))
        store_engine.bump_data_version(conn)
    return created


def _event(
    conn: sa.Connection,
    viewer: access.Viewer,
    order_id: int,
    from_state: str | None,
    to_state: str,
    *,
    outcome: str | None = None,
    recovered_cny: Decimal | None = None,
    note: str | None = None,
) -> None:
    conn.execute(
        schema.inspection_events.insert().values(
            order_id=order_id,
            changed_at=_now(),
            user_name=viewer.user_name,
            from_state=from_state,
            to_state=to_state,
            outcome=outcome,
            recovered_cny=recovered_cny,
            note=note,
        )
    )


def _order_for_change(conn: sa.Connection, viewer: access.Viewer, order_id: int):
    orders = schema.inspection_orders
    row = conn.execute(
        sa.select(orders).where(orders.c.id == order_id, _visible_orders(viewer))
    ).first()
    if row is None:
        raise access.AccessError("inspection.error.not_yours", order=order_id)
    if viewer.role not in (*PLANNER_ROLES, "inspector"):
        raise access.AccessError("inspection.error.read_only")
    return row


def _money(value: float | Decimal | None) -> Decimal:
    if value is None:
        return Decimal("0.00")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise UserError("inspection.error.recovered_amount", value=f"{value}")
    return Decimal(f"{number:.2f}")


def advance(
    engine: sa.Engine,
    viewer: access.Viewer,
    order_id: int,
    to_state: str,
    *,
    outcome: str | None = None,
    recovered_cny: float | Decimal | None = None,
    note: str | None = None,
) -> None:
    """Moves an order one step on: created → dispatched → on site → resolved.

    Args:
        engine: the store.
        viewer: who moves it: a planner with the customer in scope, or its assignee.
        order_id: the order.
        to_state: the state it goes to; only the next one is allowed.
        outcome: for ``resolved``: one of :data:`OUTCOMES`.
        recovered_cny: for ``resolved``: the revenue recovered (back-billing, penalty), CNY.
        note: what the person wants to add.

    Raises:
        AccessError: the order is not the viewer's to move.
        UserError: a step skipped or backwards, or a resolution without a known outcome or with
            a negative amount.
    """
    orders = schema.inspection_orders
    with engine.begin() as conn:
        row = _order_for_change(conn, viewer, order_id)
        expected = NEXT_STATE.get(row.state)
        if to_state != expected:
            raise UserError(
                "inspection.error.no_skipping",
                order=order_id,
                current=_state_words(row.state),
                target=_state_words(to_state) if to_state in STATES else to_state,
            )
        if to_state == "dispatched" and viewer.role not in PLANNER_ROLES:
            raise access.AccessError("inspection.error.planners_only")
        values: dict[str, object] = {"state": to_state, "updated_at": _now()}
        amount = None
        if to_state == "resolved":
            if outcome not in OUTCOMES:
                raise UserError("inspection.error.outcome_needed", order=order_id)
            amount = _money(recovered_cny)
            values.update(outcome=outcome, recovered_cny=amount, resolved_at=_now())
        conn.execute(orders.update().where(orders.c.id == order_id).values(**values))
        _event(
            conn,
            viewer,
            order_id,
            row.state,
            to_state,
            outcome=outcome,
            recovered_cny=amount,
            note=note,
        )
        access.record(
            conn,
            viewer,
            "inspection_order_changed",
            row.customer_id,
            {
                "order": order_id,
                "from": row.state,
                "to": to_state,
                "outcome": outcome,
                "recovered_cny": None if amount is None else f"{amount}",
            },
        )
        store_engine.bump_data_version(conn)


def reopen(engine: sa.Engine, viewer: access.Viewer, order_id: int, reason: str) -> None:
    """Reopens a resolved order (back to dispatched), for a reason that is kept with it.

    Raises:
        AccessError: the viewer may not plan inspections, or the order is not theirs.
        UserError: the reason is empty, or the order is not resolved.
    """
    _require_planner(viewer)
    reason = (reason or "").strip()
    if not reason:
        raise UserError("inspection.error.reason_needed", order=order_id)
    orders = schema.inspection_orders
    with engine.begin() as conn:
        row = _order_for_change(conn, viewer, order_id)
        if row.state != "resolved":
            raise UserError(
                "inspection.error.not_resolved", order=order_id, current=_state_words(row.state)
            )
        conn.execute(
            orders.update()
            .where(orders.c.id == order_id)
            .values(
                state=REOPENED_STATE,
                outcome=None,
                recovered_cny=None,
                resolved_at=None,
                updated_at=_now(),
            )
        )
        _event(conn, viewer, order_id, row.state, REOPENED_STATE, note=reason)
        access.record(
            conn,
            viewer,
            "inspection_order_changed",
            row.customer_id,
            {"order": order_id, "from": row.state, "to": REOPENED_STATE, "reason": reason},
        )
        store_engine.bump_data_version(conn)


def _state_words(state: str) -> Notice:
    """A state's name, told in the reader's language inside a message."""
    return Notice(f"inspection.state.{state}")


def orders(
    engine: sa.Engine,
    viewer: access.Viewer,
    states: tuple[str, ...] | None = None,
    limit: int = ORDERS_LIMIT,
) -> pd.DataFrame:
    """The orders the viewer may see, newest first, personal fields masked.

    Returns:
        ``id``, ``customer_id``, ``name``, ``region``, ``transformer_area``, ``lat``, ``lon``,
        ``state``, ``assignee``, ``due_date``, ``created_at``, ``created_by``, ``outcome``,
        ``recovered_cny``, ``resolved_at``, ``score``, ``revenue_at_risk_cny``, ``reasons``
        (catalog keys and values).
    """
    table, customers = schema.inspection_orders, schema.customers
    query = (
        sa.select(
            table.c.id,
            table.c.customer_id,
            customers.c.name,
            customers.c.region,
            customers.c.transformer_area,
            customers.c.lat,
            customers.c.lon,
            table.c.state,
            table.c.assignee,
            table.c.due_date,
            table.c.created_at,
            table.c.created_by,
            table.c.outcome,
            sa.cast(table.c.recovered_cny, sa.Double).label("recovered_cny"),
            table.c.resolved_at,
            table.c.score,
            table.c.revenue_at_risk_cny,
            table.c.reasons,
        )
        .join(customers, customers.c.customer_id == table.c.customer_id)
        .where(_visible_orders(viewer))
        .order_by(table.c.created_at.desc(), table.c.id.desc())
        .limit(limit)
    )
    if states:
        query = query.where(table.c.state.in_(states))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))
    frame["reasons"] = [json.loads(text) if text else [] for text in frame["reasons"]]
    frame["recovered_cny"] = pd.to_numeric(frame["recovered_cny"], errors="coerce")
    return access.mask_frame(viewer, frame)


def events(engine: sa.Engine, viewer: access.Viewer, order_id: int) -> pd.DataFrame:
    """The history of one order the viewer may see, oldest first."""
    table, orders_table = schema.inspection_events, schema.inspection_orders
    query = (
        sa.select(
            table.c.changed_at,
            table.c.user_name,
            table.c.from_state,
            table.c.to_state,
            table.c.outcome,
            sa.cast(table.c.recovered_cny, sa.Double).label("recovered_cny"),
            table.c.note,
        )
        .join(orders_table, orders_table.c.id == table.c.order_id)
        .where(table.c.order_id == order_id, _visible_orders(viewer))
        .order_by(table.c.changed_at, table.c.id)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))


def distance_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km (haversine), elementwise."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def route(stops: pd.DataFrame, office: tuple[float, float]) -> pd.DataFrame:
    """Orders the stops by nearest neighbour from the office: always the closest one not visited.

    Args:
        stops: rows with ``lat`` and ``lon``; rows without coordinates go last, as they came.
        office: ``(lat, lon)`` where the route starts.

    Returns:
        The stops in visiting order with ``stop`` (1, 2, ...), ``leg_km`` and ``route_km``.
    """
    located = stops[stops["lat"].notna() & stops["lon"].notna()]
    unlocated = stops.drop(located.index)
    remaining = list(located.index)
    order, legs = [], []
    here = office
    while remaining:
        candidates = located.loc[remaining]
        distances = distance_km(here[0], here[1], candidates["lat"], candidates["lon"])
        nearest = int(np.argmin(distances))
        chosen = remaining.pop(nearest)
        order.append(chosen)
        legs.append(float(distances[nearest]))
        here = (float(located.at[chosen, "lat"]), float(located.at[chosen, "lon"]))
    visited = located.loc[order].assign(leg_km=legs)
    result = pd.concat([visited, unlocated.assign(leg_km=np.nan)], ignore_index=True)
    result.insert(0, "stop", np.arange(1, len(result) + 1))
    result["route_km"] = result["leg_km"].cumsum()
    return result


def office_of(
    engine: sa.Engine, viewer: access.Viewer, stops: pd.DataFrame
) -> tuple[float, float] | None:
    """Where the worklist starts: the centre of the customers of the first stop's district.

    The service office sits among the customers it serves; without an address of its own, the
    mean position of its district's customers stands for it.
    """
    if stops.empty:
        return None
    customers = schema.customers
    region = stops["region"].dropna()
    with engine.connect() as conn:
        query = sa.select(sa.func.avg(customers.c.lat), sa.func.avg(customers.c.lon)).where(
            access.customer_scope(viewer) if viewer.role != "inspector" else sa.true()
        )
        if not region.empty:
            query = query.where(customers.c.region == region.iloc[0])
        lat, lon = conn.execute(query).one()
    if lat is None or lon is None:
        return None
    return float(lat), float(lon)


def worklist(
    engine: sa.Engine,
    viewer: access.Viewer,
    assignee: str | None = None,
    office: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """An assignee's open orders in route order from the office (nearest neighbour).

    Args:
        engine: the store.
        viewer: who is asking; an inspector always gets their own worklist.
        assignee: whose worklist; the viewer's own by default.
        office: where the route starts; by default :func:`office_of`.

    Returns:
        The open orders (see :func:`orders`) with ``stop``, ``leg_km`` and ``route_km``.
    """
    who = viewer.user_name if viewer.role == "inspector" or assignee is None else assignee
    open_orders = orders(engine, viewer, OPEN_STATES)
    mine = open_orders[open_orders["assignee"] == who].reset_index(drop=True)
    start = office or office_of(engine, viewer, mine)
    if start is None:
        return mine.assign(stop=pd.Series(dtype=int), leg_km=np.nan, route_km=np.nan)
    return route(mine, start)


def results(engine: sa.Engine, viewer: access.Viewer) -> dict[str, object]:
    """How the inspections went: the hit rate and the revenue recovered, by outcome.

    Returns:
        ``resolved`` (orders with an outcome), ``hits`` (confirmed theft or meter fault),
        ``hit_rate`` (hits over resolved; None before the first), ``recovered_cny``,
        ``open`` (orders not resolved yet) and ``by_outcome`` (outcome → orders).
    """
    table = schema.inspection_orders
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                table.c.state,
                table.c.outcome,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.cast(table.c.recovered_cny, sa.Double)), 0.0),
            )
            .where(_visible_orders(viewer))
            .group_by(table.c.state, table.c.outcome)
        ).all()
    resolved = sum(count for state, _, count, _ in rows if state == "resolved")
    hits = sum(
        count
        for state, outcome, count, _ in rows
        if state == "resolved" and outcome in HIT_OUTCOMES
    )
    recovered = sum(float(amount) for state, _, _, amount in rows if state == "resolved")
    by_outcome = {outcome: 0 for outcome in OUTCOMES}
    for state, outcome, count, _ in rows:
        if state == "resolved" and outcome in by_outcome:
            by_outcome[outcome] += count
    return {
        "resolved": resolved,
        "hits": hits,
        "hit_rate": hits / resolved if resolved else None,
        "recovered_cny": round(recovered, 2),
        "open": sum(count for state, _, count, _ in rows if state in OPEN_STATES),
        "by_outcome": by_outcome,
    }
