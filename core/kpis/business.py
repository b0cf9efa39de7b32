"""Business (营业) and business expansion (业扩报装): sales against last year, applications, stages.

Sales are the bills' energy and amounts. Applications count in the month they were accepted;
capacity added is what new connections and capacity increases asked for. Each stage of an
application (:data:`~core.kpis.limits.TIMED_STAGES`) runs from the date the previous stage of its
type was reached to its own date, and is on time when it took no more days than its limit in
``data/time_limits.toml``; a stage not yet reached is pending, and overdue once it has waited
longer than its limit.
"""

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from core import access
from core.kpis import drill
from core.kpis import limits as time_limits
from core.kpis.periods import month_bounds, shift_period
from core.store import functions, schema

SALES_DIMENSIONS = ("period", "customer_class", "region")
# Types whose requested capacity is capacity added to the grid.
ADDING_TYPES = ("new_connection", "capacity_increase")
APPLICATION_DIMENSIONS = ("month", "region", "industry", "type")
STAGE_DIMENSIONS = ("stage", "region", "type", "applicant_group")


def application_scope(
    viewer: access.Viewer, applications: sa.FromClause = schema.applications
) -> sa.ColumnElement[bool]:
    """The condition on ``applications`` that keeps the rows ``viewer`` may see.

    An application of a customer follows the customer's scope. An applicant who is no customer
    yet belongs to a district only: district viewers see those of their districts, viewers of
    transformer areas or of their own customers none.
    """
    of_customer = applications.c.customer_id.in_(access.scoped_customer_ids(viewer))
    if viewer.transformer_areas or viewer.manager_id is not None:
        return of_customer
    if not viewer.regions:
        return sa.true()
    applicant = sa.and_(
        applications.c.customer_id.is_(None), applications.c.region.in_(viewer.regions)
    )
    return sa.or_(of_customer, applicant)


def sales(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 12,
    by: Sequence[str] = SALES_DIMENSIONS,
) -> pd.DataFrame:
    """Energy sold and revenue by month, customer class and district, each against a year before.

    Args:
        conn: a store connection.
        viewer: who is asking; only their customers count.
        period: the last month, ``YYYY-MM``.
        months: how many months up to ``period``.
        by: dimensions of ``period``, ``customer_class`` and ``region``.

    Returns:
        The dimensions, ``energy_kwh``, ``revenue_cny``, ``energy_kwh_last_year`` and
        ``revenue_cny_last_year`` (the same month, class and district a year earlier; NaN
        without bills then).
    """
    bills, customers = schema.bills, schema.customers
    first = shift_period(period, -(months - 1))
    columns = {
        "period": bills.c.period,
        "customer_class": customers.c.customer_class,
        "region": customers.c.region,
    }
    keys = [columns[name].label(name) for name in by]
    query = (
        sa.select(
            *keys,
            sa.func.sum(bills.c.kwh_total).label("energy_kwh"),
            sa.func.sum(bills.c.amount_cny).label("revenue_cny"),
        )
        .join(customers, customers.c.customer_id == bills.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            bills.c.period >= shift_period(first, -12),
            bills.c.period <= period,
        )
        .group_by(*(columns[name] for name in by))
    )
    frame = drill.read(conn, query)
    frame[["energy_kwh", "revenue_cny"]] = frame[["energy_kwh", "revenue_cny"]].astype(float)
    if "period" not in by:
        return frame
    current = frame[frame["period"] >= first].copy()
    earlier = frame.rename(
        columns={"energy_kwh": "energy_kwh_last_year", "revenue_cny": "revenue_cny_last_year"}
    )
    earlier["period"] = earlier["period"].map(lambda month: shift_period(month, 12))
    merged = current.merge(earlier, on=list(by), how="left")
    return merged.sort_values(list(by), ignore_index=True)


def sales_customers(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    selection: dict[str, str | None] | None = None,
) -> drill.DrillDown:
    """The customers behind a month's energy and revenue, largest first.

    Args:
        conn: a store connection.
        viewer: who is asking.
        period: the month clicked, ``YYYY-MM``.
        selection: values of ``customer_class`` and ``region``.

    Returns:
        One row per billed customer: ``customer_id``, ``name``, ``customer_class``,
        ``region``, ``energy_kwh``, ``revenue_cny``; totals of both figures.
    """
    bills, customers = schema.bills, schema.customers
    columns = {"customer_class": customers.c.customer_class, "region": customers.c.region}
    query = (
        sa.select(
            bills.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            bills.c.kwh_total.label("energy_kwh"),
            bills.c.amount_cny.label("revenue_cny"),
        )
        .join(customers, customers.c.customer_id == bills.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            bills.c.period == period,
            *drill.matching(columns, selection or {}),
        )
    )
    return drill.drill_down(
        conn,
        viewer,
        query,
        sums=("energy_kwh", "revenue_cny"),
        order_by=(("energy_kwh", True), ("customer_id", False)),
    )


def _month_window(period: str, months: int) -> tuple[dt.date, dt.date]:
    """The first day of the first month and the last day of ``period``."""
    first, _ = month_bounds(shift_period(period, -(months - 1)))
    _, following = month_bounds(period)
    return first, following - dt.timedelta(days=1)


def _application_columns(applications: sa.FromClause) -> dict[str, sa.ColumnElement]:
    return {
        "month": functions.month(applications.c.accepted_date),
        "region": applications.c.region,
        "industry": applications.c.industry,
        "type": applications.c.type,
    }


def _added_kva(applications: sa.FromClause) -> sa.ColumnElement:
    return sa.case(
        (applications.c.type.in_(ADDING_TYPES), sa.func.coalesce(applications.c.requested_kva, 0)),
        else_=0,
    )


def application_volume(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 12,
    by: Sequence[str] = ("region", "industry"),
) -> pd.DataFrame:
    """Applications accepted and capacity asked for in the ``months`` up to ``period``.

    Args:
        conn: a store connection.
        viewer: who is asking.
        period: the last month, ``YYYY-MM``.
        months: how many months.
        by: dimensions of ``month`` (accepted, ``YYYY-MM``), ``region``, ``industry``, ``type``.

    Returns:
        The dimensions, ``applications``, ``requested_kva`` and ``added_kva`` (new connections
        and capacity increases).
    """
    applications = schema.applications
    first, last = _month_window(period, months)
    columns = _application_columns(applications)
    query = (
        sa.select(
            *(columns[name].label(name) for name in by),
            sa.func.count().label("applications"),
            sa.func.coalesce(sa.func.sum(applications.c.requested_kva), 0).label("requested_kva"),
            sa.func.coalesce(sa.func.sum(_added_kva(applications)), 0).label("added_kva"),
        )
        .where(
            application_scope(viewer, applications),
            applications.c.accepted_date >= first,
            applications.c.accepted_date <= last,
        )
        .group_by(*(columns[name] for name in by))
    )
    frame = drill.read(conn, query)
    frame[["requested_kva", "added_kva"]] = frame[["requested_kva", "added_kva"]].astype(float)
    return frame.sort_values(list(by), ignore_index=True, na_position="last") if by else frame


def application_list(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 12,
    selection: dict[str, str | None] | None = None,
) -> drill.DrillDown:
    """The applications behind an application count or an added capacity, latest first.

    Args:
        conn: a store connection.
        viewer: who is asking.
        period: the last month, ``YYYY-MM``.
        months: how many months.
        selection: values of ``month``, ``region``, ``industry``, ``type``.

    Returns:
        One row per application: ``application_id``, ``customer_id``, ``name``, ``type``,
        ``customer_class``, ``industry``, ``region``, ``requested_kva``, ``added_kva`` and the
        date of each stage; totals of ``requested_kva`` and ``added_kva``.
    """
    applications = schema.applications
    first, last = _month_window(period, months)
    query = sa.select(
        applications.c.application_id,
        applications.c.customer_id,
        applications.c.name,
        applications.c.type,
        applications.c.customer_class,
        applications.c.industry,
        applications.c.region,
        applications.c.requested_kva,
        sa.cast(_added_kva(applications), sa.Float).label("added_kva"),
        *(applications.c[f"{stage}_date"] for stage in schema.APPLICATION_STAGES),
    ).where(
        application_scope(viewer, applications),
        applications.c.accepted_date >= first,
        applications.c.accepted_date <= last,
        *drill.matching(_application_columns(applications), selection or {}),
    )
    return drill.drill_down(
        conn,
        viewer,
        query,
        sums=("requested_kva", "added_kva"),
        order_by=(("accepted_date", True), ("application_id", False)),
    )


def stage_rows(
    viewer: access.Viewer, as_of: dt.date, limits: time_limits.TimeLimits | None = None
) -> sa.Subquery:
    """Every stage an application has started by ``as_of``: one row per application and stage.

    Args:
        viewer: who is asking.
        as_of: the day stages are judged at; a stage reached later is still pending then.
        limits: the time limits; ``data/time_limits.toml`` by default.

    Returns:
        A subquery with the application's ``application_id``, ``customer_id``, ``name``,
        ``type``, ``customer_class``, ``industry``, ``region``, ``requested_kva`` and
        ``applicant_group``, then ``stage``, ``started`` (the previous stage's date),
        ``finished`` (None while pending), ``status`` (``done`` or ``pending``), ``days`` (taken,
        or waited so far), ``limit_days``, ``days_over`` (past the limit, 0 on time) and
        ``late`` (1 when past the limit).
    """
    limits = limits or time_limits.load()
    applications = schema.applications
    today = sa.literal(as_of, sa.Date)
    selects = []
    for stage in time_limits.TIMED_STAGES:
        previous = {
            kind: limits.previous_stage(kind, stage)
            for kind in limits.stages
            if limits.previous_stage(kind, stage) is not None
        }
        if not previous:
            continue
        started = sa.case(
            *(
                (applications.c.type == kind, applications.c[f"{before}_date"])
                for kind, before in previous.items()
            ),
        )
        reached = applications.c[f"{stage}_date"]
        done = sa.and_(reached.is_not(None), reached <= today)
        finished = sa.case((done, reached))
        days = sa.case(
            (done, functions.days_between(reached, started)),
            else_=functions.days_between(today, started),
        )
        limit = limits.stage_limit(applications, stage)
        over = days - limit
        selects.append(
            sa.select(
                applications.c.application_id,
                applications.c.customer_id,
                applications.c.name,
                applications.c.type,
                applications.c.customer_class,
                applications.c.industry,
                applications.c.region,
                applications.c.requested_kva,
                limits.applicant_group(applications).label("applicant_group"),
                sa.literal(stage, sa.String).label("stage"),
                # Typed, not cast: SQLite's CAST AS DATE would turn "2025-03-01" into 2025.
                sa.type_coerce(started, sa.Date).label("started"),
                sa.type_coerce(finished, sa.Date).label("finished"),
                sa.case((done, "done"), else_="pending").label("status"),
                sa.cast(days, sa.Integer).label("days"),
                sa.cast(limit, sa.Integer).label("limit_days"),
                sa.cast(sa.case((over > 0, over), else_=0), sa.Integer).label("days_over"),
                sa.cast(sa.case((over > 0, 1), else_=0), sa.Integer).label("late"),
            ).where(
                application_scope(viewer, applications),
                applications.c.type.in_(list(previous)),
                started.is_not(None),
                started <= today,
            )
        )
    if not selects:
        return sa.select(sa.null().label("application_id")).where(sa.false()).subquery("stages")
    return sa.union_all(*selects).subquery("stages")


def _in_window(stages: sa.Subquery, first: dt.date, last: dt.date) -> sa.ColumnElement[bool]:
    """Stages finished in the window, and stages pending at its end."""
    return sa.or_(
        sa.and_(stages.c.status == "done", stages.c.finished >= first),
        stages.c.status == "pending",
    )


def stage_compliance(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 1,
    by: Sequence[str] = ("stage",),
    limits: time_limits.TimeLimits | None = None,
) -> pd.DataFrame:
    """Stage durations and the share completed within the time limit (时限达标率).

    Args:
        conn: a store connection.
        viewer: who is asking.
        period: the last month, ``YYYY-MM``; stages are judged at its last day.
        months: how many months of completed stages count.
        by: dimensions of ``stage``, ``region``, ``type`` and ``applicant_group``.
        limits: the time limits; ``data/time_limits.toml`` by default.

    Returns:
        The dimensions, then ``completed`` (stages finished in the months), ``on_time``
        (of them within their limit), ``compliance`` (``on_time / completed``, NaN without
        any), ``mean_days`` and ``max_days`` (of the completed), ``pending`` (not reached by the
        last day) and ``overdue`` (of them waiting past the limit). Stages in their order.
    """
    first, last = _month_window(period, months)
    stages = stage_rows(viewer, last, limits)
    done = stages.c.status == "done"
    keys = [stages.c[name] for name in by]
    query = (
        sa.select(
            *keys,
            sa.func.sum(sa.case((done, 1), else_=0)).label("completed"),
            sa.func.sum(sa.case((sa.and_(done, stages.c.late == 0), 1), else_=0)).label("on_time"),
            sa.func.avg(sa.case((done, stages.c.days))).label("mean_days"),
            sa.func.max(sa.case((done, stages.c.days))).label("max_days"),
            sa.func.sum(sa.case((done, 0), else_=1)).label("pending"),
            sa.func.sum(sa.case((sa.and_(~done, stages.c.late == 1), 1), else_=0)).label("overdue"),
        )
        .where(_in_window(stages, first, last))
        .group_by(*keys)
    )
    frame = drill.read(conn, query)
    for name in ("completed", "on_time", "pending", "overdue"):
        frame[name] = pd.to_numeric(frame[name]).fillna(0).astype("int64")
    frame["mean_days"] = pd.to_numeric(frame["mean_days"]).astype(float)
    frame["max_days"] = pd.to_numeric(frame["max_days"]).astype(float)
    frame["compliance"] = frame["on_time"] / frame["completed"].where(frame["completed"] > 0)
    if "stage" in frame.columns:
        frame["stage"] = pd.Categorical(
            frame["stage"], categories=time_limits.TIMED_STAGES, ordered=True
        )
    return frame.sort_values(list(by), ignore_index=True) if by else frame


def stage_list(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 1,
    selection: dict[str, str | None] | None = None,
    limits: time_limits.TimeLimits | None = None,
) -> drill.DrillDown:
    """The stages behind a compliance or overdue figure, longest past its limit first.

    Args:
        conn: a store connection.
        viewer: who is asking.
        period: the last month, ``YYYY-MM``.
        months: how many months of completed stages.
        selection: values of ``stage``, ``region``, ``type``, ``applicant_group``, ``status``
            (``done`` or ``pending``) and ``late`` (``"1"`` past the limit, ``"0"`` on time).
        limits: the time limits; ``data/time_limits.toml`` by default.

    Returns:
        One row per application and stage with the columns of :func:`stage_rows`; totals of
        ``late`` (how many past their limit) and ``days``.
    """
    first, last = _month_window(period, months)
    stages = stage_rows(viewer, last, limits)
    columns = {name: stages.c[name] for name in (*STAGE_DIMENSIONS, "status")}
    columns["late"] = sa.cast(stages.c.late, sa.String)
    query = sa.select(stages).where(
        _in_window(stages, first, last), *drill.matching(columns, selection or {})
    )
    return drill.drill_down(
        conn,
        viewer,
        query,
        sums=("late", "days"),
        order_by=(("days_over", True), ("days", True), ("application_id", False)),
    )


def overdue_applications(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 1,
    limits: time_limits.TimeLimits | None = None,
) -> drill.DrillDown:
    """The stages past their limit: completed late in the months, or still waiting at their end.

    Returns:
        As :func:`stage_list`, only the late stages.
    """
    return stage_list(conn, viewer, period, months, {"late": "1"}, limits)
