"""One customer seen whole (客户全景视图): search, archive, load, bills, service, peers, actions.

Every function reads one customer's rows (or a search over the archive) through the viewer's row
scope; the load views are SQL aggregations of that customer's readings, so opening a customer
costs a few small queries whatever the size of the store.
"""

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, errors, features, i18n, savings, tags, tariffs
from core.store import functions, schema
from core.store.engine import connected

Bind = sa.Engine | sa.Connection

# A search lists at most this many customers: enough to pick from, small enough to read.
SEARCH_LIMIT = 50
# Work orders, outages and bills shown on one customer: the recent history a visit needs.
HISTORY_LIMIT = 200
# The hour-by-day heatmap covers the last year: every season once, 8,760 cells at most.
HEATMAP_DAYS = 365
# id_map systems whose ids are phone numbers, personal data like the phone field.
PHONE_SYSTEMS = tuple(access.PERSONAL_SYSTEMS)
# Two years of bills: this year's against last year's, and the payment record risk looks at.
BILL_MONTHS = 24
# Savings below this are not worth a visit's talking point.
MIN_SAVING_CNY = 50.0
# Maximum demand above this share of contract capacity means the customer is near its limit.
CAPACITY_PRESSURE_SHARE = 0.8
# Peers: same class and transformer area; when fewer than this, same class and capacity band.
MIN_PEERS = 5
# Peers read at most: a median and a percentile over this many are steady, and one customer's
# page never reads a whole class of a large store.
PEER_LIMIT = 500
# Capacity band of a peer: within this factor of the customer's contract capacity.
CAPACITY_BAND_FACTOR = 1.5
COMPARED_FEATURES = (
    "annual_kwh",
    "avg_daily_kwh",
    "max_demand_kw",
    "load_factor",
    "peak_share",
    "valley_share",
    "payment_punctuality",
    "online_share",
)


@dataclass(frozen=True)
class Recommendation:
    """A suggested action and why.

    Attributes:
        code: what to do; its text is the i18n key ``customer360.action.<code>``.
        values: the figures the text is filled with.
        priority: lower comes first.
    """

    code: str
    values: dict = field(default_factory=dict)
    priority: int = 50


def _scoped(customer_id: str, viewer: access.Viewer) -> sa.ColumnElement:
    return sa.and_(schema.customers.c.customer_id == customer_id, access.customer_scope(viewer))


def _history(
    bind: Bind,
    viewer: access.Viewer,
    customer_id: str,
    columns: list[sa.Column],
    newest_first: sa.Column,
    limit: int,
) -> pd.DataFrame:
    """One customer's rows of a history table (bills, work orders, outages), newest first."""
    table, customers = columns[0].table, schema.customers
    query = (
        sa.select(*columns)
        .join(customers, customers.c.customer_id == table.c.customer_id)
        .where(_scoped(customer_id, viewer))
        .order_by(newest_first.desc())
        .limit(limit)
    )
    with connected(bind) as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame(rows, columns=[column.name for column in columns])


def search(bind: Bind, viewer: access.Viewer, text: str, limit: int = SEARCH_LIMIT) -> pd.DataFrame:
    """Customers whose id, any external id, name or phone contains ``text``.

    Exact matches come first, then partial ones in customer-id order.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking; only their customers are searched.
        text: what the user typed: a customer id, contract or customer number, app user id,
            95598 caller id, part of a name or of a phone number.
        limit: at most this many customers.

    Returns:
        ``customer_id``, ``name``, ``customer_class``, ``region``, ``phone``, ``matched_on``
        (``customer_id``, ``name``, ``phone`` or the id_map system) and ``matched_value``;
        personal fields masked for the viewer.
    """
    text = (text or "").strip()
    columns = ["customer_id", "name", "customer_class", "region", "phone"]
    if not text:
        return pd.DataFrame(columns=[*columns, "matched_on", "matched_value"])
    customers, id_map = schema.customers, schema.id_map
    direct = [
        ("customer_id", customers.c.customer_id),
        ("name", customers.c.name),
        ("phone", customers.c.phone),
    ]
    # Masked fields match on what the viewer sees of them (access.search_match).
    personal = access.is_personal(customers.c.customer_class)
    selects = [
        sa.select(
            customers.c.customer_id,
            sa.literal(label).label("matched_on"),
            column.label("matched_value"),
            sa.case((column == text, 0), else_=1).label("rank"),
        ).where(
            access.search_match(viewer, column, label, text, personal),
            access.customer_scope(viewer),
        )
        for label, column in direct
    ]
    selects.append(
        sa.select(
            customers.c.customer_id,
            id_map.c.system.label("matched_on"),
            id_map.c.external_id.label("matched_value"),
            sa.case((id_map.c.external_id == text, 0), else_=1).label("rank"),
        )
        .join(id_map, id_map.c.customer_id == customers.c.customer_id)
        .where(
            access.external_id_match(viewer, id_map.c.system, id_map.c.external_id, text),
            access.customer_scope(viewer),
        )
    )
    matches = sa.union_all(*selects).subquery("matches")
    best = sa.select(
        matches.c.customer_id,
        matches.c.matched_on,
        matches.c.matched_value,
        matches.c.rank,
        sa.func.row_number()
        .over(partition_by=matches.c.customer_id, order_by=(matches.c.rank, matches.c.matched_on))
        .label("choice"),
    ).subquery("best")
    query = (
        sa.select(
            *(customers.c[name] for name in columns),
            best.c.matched_on,
            best.c.matched_value,
        )
        .join(best, best.c.customer_id == customers.c.customer_id)
        .where(best.c.choice == 1)
        .order_by(best.c.rank, customers.c.customer_id)
        .limit(limit)
    )
    with connected(bind) as conn:
        frame = pd.DataFrame(
            conn.execute(query).all(), columns=[*columns, "matched_on", "matched_value"]
        )
    # "Matched value" is masked like the field it came from.
    return access.mask_frame(viewer, frame)


def archive(bind: Bind, viewer: access.Viewer, customer_id: str) -> dict | None:
    """The customer's archive card with its ids in other systems.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking.
        customer_id: the customer.

    Returns:
        The customers-table fields (personal fields masked for the viewer), ``tariff_name`` /
        ``tariff_name_zh`` and ``external_ids`` (a list of ``(system, external_id, active)``);
        None when the customer does not exist or is outside the viewer's scope.
    """
    customers, id_map = schema.customers, schema.id_map
    with connected(bind) as conn:
        row = conn.execute(sa.select(customers).where(_scoped(customer_id, viewer))).first()
        if row is None:
            return None
        ids = conn.execute(
            sa.select(id_map.c.system, id_map.c.external_id, id_map.c.active)
            .where(id_map.c.customer_id == customer_id)
            .order_by(id_map.c.system, id_map.c.external_id)
        ).all()
    record = access.mask_record(viewer, row._mapping)
    tariff = tariffs.load_catalog().get(record["tariff_code"])
    record["tariff_name"] = tariff.name if tariff else record["tariff_code"]
    record["tariff_name_zh"] = tariff.name_zh if tariff else record["tariff_code"]
    # The 95598 caller id is the customer's phone number: masked like the phone field.
    masked = set() if viewer.contact_grant else set(PHONE_SYSTEMS)
    record["external_ids"] = [
        (system, access.mask_phone(external) if system in masked else external, bool(active))
        for system, external, active in ids
    ]
    return record


def _as_datetime(value) -> dt.datetime:
    return pd.Timestamp(value).to_pydatetime()


def load_views(bind: Bind, viewer: access.Viewer, customer_id: str) -> dict | None:
    """The customer's load aggregated for the load section, each view one SQL aggregation.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking.
        customer_id: the customer.

    Returns:
        None when the customer is not visible or has no readings; else a dict with
        ``first`` / ``last`` reading times, ``daily`` (``day``, ``kwh``, ``max_kw``; the whole
        history), ``weekly`` (``week_start``, ``kwh``), ``monthly`` (``year``, ``month``, ``kwh``:
        the yearly comparison) and ``heatmap`` (``day``, ``hour``, ``kwh`` for the last 365 days).
    """
    readings, customers = schema.readings, schema.customers
    with connected(bind) as conn:
        visible = conn.execute(
            sa.select(customers.c.customer_id).where(_scoped(customer_id, viewer))
        ).first()
        if visible is None:
            return None
        mine = readings.c.customer_id == customer_id
        day = functions.day(readings.c.ts)
        per_hour = sa.extract("hour", readings.c.ts)
        # One pass gives the days and the first and last reading; months and weeks are sums of
        # these few hundred days.
        daily = pd.DataFrame(
            conn.execute(
                sa.select(
                    day.label("day"),
                    sa.func.sum(readings.c.kwh),
                    sa.func.max(readings.c.kwh),
                    sa.func.min(readings.c.ts),
                    sa.func.max(readings.c.ts),
                )
                .where(mine)
                .group_by(day)
                .order_by(day)
            ).all(),
            columns=["day", "kwh", "max_kwh", "first", "last"],
        )
        if daily.empty:
            return None
        first = _as_datetime(daily["first"].min())
        last = _as_datetime(daily["last"].max())
        daily = daily.drop(columns=["first", "last"])
        heat_start = dt.datetime.combine(
            last.date() - dt.timedelta(days=HEATMAP_DAYS - 1), dt.time()
        )
        heatmap = pd.DataFrame(
            conn.execute(
                sa.select(day, per_hour, sa.func.sum(readings.c.kwh))
                .where(mine, readings.c.ts >= heat_start)
                .group_by(day, per_hour)
                .order_by(day, per_hour)
            ).all(),
            columns=["day", "hour", "kwh"],
        )
    daily["day"] = pd.to_datetime(daily["day"])
    heatmap["day"] = pd.to_datetime(heatmap["day"])
    monthly = (
        daily.groupby([daily["day"].dt.year.rename("year"), daily["day"].dt.month.rename("month")])[
            "kwh"
        ]
        .sum()
        .reset_index()
    )
    heatmap["hour"] = heatmap["hour"].astype(int)
    # Weeks from the per-day sums (at most a few hundred rows): Monday-start weeks.
    week_start = daily["day"] - pd.to_timedelta(daily["day"].dt.weekday, unit="D")
    weekly = daily.groupby(week_start)["kwh"].sum().rename_axis("week_start").reset_index()
    return {
        "first": first,
        "last": last,
        "daily": daily,
        "weekly": weekly,
        "monthly": monthly,
        "heatmap": heatmap,
    }


def tou_split(feature_row: dict | None) -> pd.DataFrame:
    """Energy of the last twelve months by time-of-use period, from the customer's features.

    Args:
        feature_row: the customer's features (:func:`core.features.for_customer`).

    Returns:
        ``period``, ``share`` and ``kwh``, in :data:`core.tariffs.PERIODS` order; empty when the
        features hold no split.
    """
    if not feature_row or feature_row.get("annual_kwh") is None:
        return pd.DataFrame(columns=["period", "share", "kwh"])
    rows = [
        (period, feature_row.get(f"{period}_share"))
        for period in tariffs.PERIODS
        if feature_row.get(f"{period}_share") is not None
    ]
    frame = pd.DataFrame(rows, columns=["period", "share"])
    frame["kwh"] = frame["share"] * feature_row["annual_kwh"]
    return frame


def bills(bind: Bind, viewer: access.Viewer, customer_id: str) -> pd.DataFrame:
    """The customer's recent bills with what was paid and what is still owed.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking.
        customer_id: the customer.

    Returns:
        The last :data:`BILL_MONTHS` bills, newest first: period, kwh_total, amount_cny,
        due_date, paid_date, paid_cny, outstanding_cny, days_late and ``status`` (one of
        :data:`core.features.BILL_STATUSES`, the rule the payment features count with).
    """
    table, customers = schema.bills, schema.customers
    names = ["period", "kwh_total", "amount_cny", "due_date", "paid_date", "paid_cny"]
    with connected(bind) as conn:
        today = _latest_day(conn)
        query = (
            sa.select(
                *(table.c[name] for name in names),
                features.bill_outstanding(today).label("outstanding_cny"),
                features.bill_status(today).label("status"),
            )
            .join(customers, customers.c.customer_id == table.c.customer_id)
            .where(_scoped(customer_id, viewer))
            .order_by(table.c.period.desc())
            .limit(BILL_MONTHS)
        )
        frame = pd.DataFrame(
            conn.execute(query).all(), columns=[*names, "outstanding_cny", "status"]
        )
    for column in ("amount_cny", "paid_cny", "kwh_total", "outstanding_cny"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["outstanding_cny"] = frame["outstanding_cny"].clip(lower=0).round(2)
    due = pd.to_datetime(frame["due_date"])
    paid = pd.to_datetime(frame["paid_date"])
    frame["days_late"] = (paid - due).dt.days.clip(lower=0)
    unpaid_late = frame["status"].isin(features.OWING_STATUSES) & paid.isna()
    frame.loc[unpaid_late, "days_late"] = (pd.Timestamp(today) - due[unpaid_late]).dt.days
    return frame[[*names, "outstanding_cny", "days_late", "status"]]


@dataclass(frozen=True)
class BillStanding:
    """Where a customer stands on payments, as the payment features count it.

    Attributes:
        arrears_cny: what is still owed on bills past their due date.
        late_bills: bills of the features period (the last twelve months) paid late or not
            (fully) paid by their due date; bills not yet due are not late.
    """

    arrears_cny: float
    late_bills: int


def bill_standing(feature_row: dict | None) -> BillStanding | None:
    """Arrears and late bills of a customer, from its payment features.

    Args:
        feature_row: the customer's features (:func:`core.features.for_customer`).

    Returns:
        The standing; None when the customer has no features yet.
    """
    if feature_row is None:
        return None
    return BillStanding(
        round(float(feature_row.get("arrears_cny") or 0.0), 2),
        int(feature_row.get("late_payments") or 0),
    )


def _latest_day(conn: sa.Connection) -> dt.date:
    """The store's "today": the end of the features period (the day after the last reading).

    Read from the small features table, not the readings, so a bill list costs nothing extra on
    a large store; the calendar's today before any refresh.
    """
    end = conn.execute(sa.select(sa.func.max(schema.features.c.period_end))).scalar()
    return pd.Timestamp(end).date() if end is not None else dt.date.today()


def work_orders(bind: Bind, viewer: access.Viewer, customer_id: str) -> pd.DataFrame:
    """The customer's 95598 work orders, newest first, with the complaint text.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking; a customer outside their scope gives an empty frame.
        customer_id: the customer.

    Returns:
        order_id, created_at, closed_at, type, channel, satisfaction, description,
        hours_to_close.
    """
    orders = schema.work_orders
    names = [
        "order_id",
        "created_at",
        "closed_at",
        "type",
        "channel",
        "satisfaction",
        "description",
    ]
    frame = _history(
        bind,
        viewer,
        customer_id,
        [orders.c[name] for name in names],
        orders.c.created_at,
        HISTORY_LIMIT,
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    frame["closed_at"] = pd.to_datetime(frame["closed_at"])
    frame["hours_to_close"] = (frame["closed_at"] - frame["created_at"]).dt.total_seconds() / 3600
    return frame


def channel_activity(bind: Bind, viewer: access.Viewer, customer_id: str) -> pd.DataFrame:
    """Events per channel and month, summed in the store.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking; a customer outside their scope gives an empty frame.
        customer_id: the customer.

    Returns:
        ``month`` (YYYY-MM), ``channel``, ``events``.
    """
    activity, customers = schema.channel_activity, schema.customers
    month = functions.month(activity.c.date).label("month")
    query = (
        sa.select(month, activity.c.channel, sa.func.sum(activity.c.events))
        .join(customers, customers.c.customer_id == activity.c.customer_id)
        .where(_scoped(customer_id, viewer))
        .group_by(month, activity.c.channel)
        .order_by(month, activity.c.channel)
    )
    with connected(bind) as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["month", "channel", "events"])
    frame["events"] = frame["events"].astype(int)
    return frame[["month", "channel", "events"]]


def outages(bind: Bind, viewer: access.Viewer, customer_id: str) -> pd.DataFrame:
    """The outages that reached the customer, newest first.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking; a customer outside their scope gives an empty frame.
        customer_id: the customer.

    Returns:
        event_id, start, end, planned, hours.
    """
    table = schema.outages
    frame = _history(
        bind,
        viewer,
        customer_id,
        [table.c.event_id, table.c.start, table.c.end, table.c.planned],
        table.c.start,
        HISTORY_LIMIT,
    )
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    frame["planned"] = frame["planned"].astype(bool)
    frame["hours"] = (frame["end"] - frame["start"]).dt.total_seconds() / 3600
    return frame


def similar_customers(bind: Bind, viewer: access.Viewer, customer_id: str) -> dict | None:
    """The customer beside its peers: same class and transformer area, else capacity band.

    A customer without enough peers in either is compared with its whole class.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking; peers come from their scope too.
        customer_id: the customer.

    Returns:
        None when the customer has no features or is not visible; else ``basis``
        (``transformer_area``, ``capacity_band`` or ``customer_class``), ``peers`` (how many)
        and ``comparison``:
        one row per compared feature with ``feature``, ``customer``, ``peer_median`` and
        ``percentile`` (share of peers below the customer).
    """
    customers, table = schema.customers, schema.features
    with connected(bind) as conn:
        me = conn.execute(
            sa.select(
                customers.c.customer_class,
                customers.c.transformer_area,
                customers.c.contract_capacity_kva,
            )
            .join(table, table.c.customer_id == customers.c.customer_id)
            .where(_scoped(customer_id, viewer))
        ).first()
        if me is None:
            return None
        columns = [table.c.customer_id, *(table.c[name] for name in COMPARED_FEATURES)]
        mine = _peer_frame(conn, columns, table.c.customer_id == customer_id)
        same_class = sa.and_(
            customers.c.customer_class == me.customer_class,
            customers.c.customer_id != customer_id,
            access.customer_scope(viewer),
        )
        basis, others = "transformer_area", pd.DataFrame()
        if me.transformer_area is not None:
            others = _peer_frame(
                conn,
                columns,
                sa.and_(same_class, customers.c.transformer_area == me.transformer_area),
            )
        if len(others) < MIN_PEERS and me.contract_capacity_kva:
            basis = "capacity_band"
            capacity = float(me.contract_capacity_kva)
            band = customers.c.contract_capacity_kva.between(
                capacity / CAPACITY_BAND_FACTOR, capacity * CAPACITY_BAND_FACTOR
            )
            others = _peer_frame(conn, columns, sa.and_(same_class, band))
        if len(others) < MIN_PEERS:
            basis = "customer_class"
            others = _peer_frame(conn, columns, same_class)
    comparison = compare_with_peers(mine.iloc[0], others)
    return {"basis": basis, "peers": len(others), "comparison": comparison}


def compare_with_peers(customer: pd.Series, peers: pd.DataFrame) -> pd.DataFrame:
    """The customer's value of each compared feature beside its peers' median and its rank.

    The median is the peers' middle value, the lower of the two middle ones for an even count,
    so it is a value some peer has and it agrees with the rank: a customer above the median is
    higher than at least half of the peers, one below it is higher than fewer than half. (The
    mean of the two middle values can lie far from both, and a customer between them would read
    "higher than 50 % of peers" beside a median twice its value.)

    Args:
        customer: the customer's features (:data:`COMPARED_FEATURES`).
        peers: the peers' features, one row each.

    Returns:
        One row per compared feature: ``feature``, ``customer``, ``peer_median`` and
        ``percentile`` (the share of peers with a lower value); None where a value is missing.
    """
    rows = []
    for name in COMPARED_FEATURES:
        value = customer[name]
        values = np.sort(peers[name].dropna().to_numpy(dtype=float))
        known = len(values) > 0
        rows.append(
            {
                "feature": name,
                "customer": None if pd.isna(value) else float(value),
                "peer_median": float(values[(len(values) - 1) // 2]) if known else None,
                "percentile": float((values < value).mean()) if known and pd.notna(value) else None,
            }
        )
    return pd.DataFrame(rows)


def _peer_frame(conn: sa.Connection, columns: list, condition: sa.ColumnElement) -> pd.DataFrame:
    table, customers = schema.features, schema.customers
    query = (
        sa.select(*columns)
        .join(customers, customers.c.customer_id == table.c.customer_id)
        .where(condition)
        .order_by(table.c.customer_id)
        .limit(PEER_LIMIT)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=[column.name for column in columns])
    for name in COMPARED_FEATURES:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    return frame


def _best_saving(bind: Bind, record: dict) -> savings.Action | None:
    """The action the tariff page ranks first for the customer, with the same figures."""
    try:
        return savings.store_customer_savings(bind, record).best
    except errors.UserError:
        return None


def recommendations(
    bind: Bind, record: dict | None, row: dict | None, tag_hits: list[tags.Hit]
) -> list[Recommendation]:
    """What to propose or prepare on the visit, each with the figures behind it.

    Args:
        bind: the store, or a connection to it (the readings priced for the savings).
        record: the customer's archive (:func:`archive`), as the viewer may see it.
        row: the customer's features (:func:`core.features.for_customer`).
        tag_hits: the tags the customer carries (:func:`core.tags.for_customer`).

    Returns:
        The recommendations, most urgent first; empty when the customer is not visible or has
        no features yet.
    """
    if record is None or row is None:
        return []
    hits = {hit.rule.name: hit for hit in tag_hits}
    actions: list[Recommendation] = []
    complaints_after = row.get("complaints_after_outage_90d") or 0
    if complaints_after >= 1:
        actions.append(
            Recommendation(
                "call_before_visit",
                {"complaints": int(complaints_after), "days": features.RECENT_DAYS},
                10,
            )
        )
    elif (row.get("complaints_90d") or 0) >= 2:
        actions.append(
            Recommendation(
                "review_complaints",
                {"complaints": int(row["complaints_90d"]), "days": features.RECENT_DAYS},
                15,
            )
        )
    if (row.get("arrears_cny") or 0) > features.ARREARS_TOLERANCE_CNY:
        actions.append(
            Recommendation(
                "collect_arrears",
                {"amount": f"{row['arrears_cny']:,.2f}", "days": int(row.get("arrears_days") or 0)},
                20,
            )
        )
    if "late_payer" in hits:
        actions.append(Recommendation("offer_autopay", {"late": int(row["late_payments"])}, 30))
    best = _best_saving(bind, record)
    if best is not None and best.saving_cny >= MIN_SAVING_CNY:
        actions.append(Recommendation(*savings.talking_point(best), 40))
    if (
        "night_charging" in hits
        and record["tariff_code"] != features.REFERENCE_SCHEDULE["residential"]
    ):
        actions.append(
            Recommendation(
                "propose_residential_tou",
                {"valley_share": f"{row.get('valley_share') or 0:.0%}"},
                45,
            )
        )
    power_factor = row.get("power_factor")
    tariff = tariffs.load_catalog().get(record["tariff_code"])
    standard = tariff.power_factor_standard if tariff else None
    compensating = best is not None and best.option == "compensation"
    if (
        power_factor is not None
        and standard is not None
        and power_factor < standard
        and not compensating
    ):
        actions.append(
            Recommendation(
                "compensate_reactive",
                {"power_factor": f"{power_factor:.2f}", "standard": f"{standard:.2f}"},
                50,
            )
        )
    capacity = record.get("contract_capacity_kva")
    max_demand = row.get("max_demand_kw")
    if capacity and max_demand and max_demand >= CAPACITY_PRESSURE_SHARE * capacity:
        actions.append(
            Recommendation(
                "discuss_capacity",
                {
                    "demand": f"{max_demand:,.0f}",
                    "capacity": f"{capacity:,.0f}",
                    "share": f"{max_demand / capacity:.0%}",
                },
                55,
            )
        )
    if "offline_only" in hits or "counter_reliant" in hits:
        actions.append(
            Recommendation("promote_online", {"visits": int(row.get("counter_visits") or 0)}, 60)
        )
    if "declining_load" in hits:
        actions.append(
            Recommendation("ask_about_decline", {"growth": f"{row['yoy_growth']:.0%}"}, 35)
        )
    return sorted(actions, key=lambda action: action.priority)


def describe(action: Recommendation, language: str) -> str:
    """The recommendation as a sentence in the user's language."""
    values = {
        name: value.label(language) if hasattr(value, "label") else value
        for name, value in action.values.items()
    }
    return i18n.translate(f"customer360.action.{action.code}", language, **values)


def archive_text(field_name: str, value: object, language: str) -> str:
    """An archive value as the user reads it; the one translation of districts and industries.

    Args:
        field_name: ``region``, ``industry``, ``customer_class`` or another archive field.
        value: the stored value.
        language: ``zh`` or ``en``.

    Returns:
        The district as the store names it, the industry's name from the catalog (an industry
        the catalog does not know is shown as stored), the class's name; ``—`` when empty.
    """
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return "—"
    text = str(value)
    if field_name == "customer_class":
        return i18n.translate(f"domain.customer_class.{text}", language)
    if field_name == "industry":
        key = f"domain.industry.{text}"
        shown = i18n.translate(key, language)
        return text if shown == key else shown
    return text


@dataclass(frozen=True)
class Dossier:
    """Everything Customer 360 and the visit brief show of one customer, read in one go.

    Attributes:
        record: the archive card (:func:`archive`).
        features: the stored features, or None before a refresh.
        tags: the tags the customer carries.
        load: the load views (:func:`load_views`), or None without readings.
        bills: the recent bills (:func:`bills`).
        standing: arrears and late bills (:func:`bill_standing`), or None without features.
        work_orders: the 95598 work orders.
        channels: events per channel and month.
        outages: the outages that reached the customer.
        peers: the comparison with similar customers, or None without features.
        actions: the recommended actions.
    """

    record: dict
    features: dict | None
    tags: list[tags.Hit]
    load: dict | None
    bills: pd.DataFrame
    standing: BillStanding | None
    work_orders: pd.DataFrame
    channels: pd.DataFrame
    outages: pd.DataFrame
    peers: dict | None
    actions: list[Recommendation]

    @property
    def customer_id(self) -> str:
        """The customer's id."""
        return self.record["customer_id"]


def dossier(bind: Bind, viewer: access.Viewer, customer_id: str) -> Dossier | None:
    """One customer's whole dossier, read on one connection, each table once.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking; personal fields masked, rows scoped for them.
        customer_id: the customer.

    Returns:
        The dossier; None when the customer does not exist or is outside the viewer's scope.
    """
    with connected(bind) as conn:
        record = archive(conn, viewer, customer_id)
        if record is None:
            return None
        row = features.for_customer(conn, viewer, customer_id)
        hits = tags.for_customer(conn, viewer, customer_id)
        return Dossier(
            record=record,
            features=row,
            tags=hits,
            load=load_views(conn, viewer, customer_id),
            bills=bills(conn, viewer, customer_id),
            standing=bill_standing(row),
            work_orders=work_orders(conn, viewer, customer_id),
            channels=channel_activity(conn, viewer, customer_id),
            outages=outages(conn, viewer, customer_id),
            peers=similar_customers(conn, viewer, customer_id),
            actions=recommendations(conn, record, row, hits),
        )
