"""The demo's business expansion (业扩报装): applications by month and district, a few overdue.

Every customer connected during the demo period arrives through a completed new-connection
application whose connection date is the customer's open date. Besides them: capacity increases
and decreases of existing businesses, temporary supplies for building sites (and their closures
when the works end), and new connections still in progress at the end. Each stage takes a share
of its time limit (``data/time_limits.toml``); a few take longer, so that some stages are
completed late and some open applications wait past their limit.
"""

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.demo import geography
from core.kpis import limits as time_limits
from core.store import engine as store_engine
from core.store import schema

# Share of stages that take longer than their limit, and by how much at most (in limits).
LATE_SHARE = 0.12
MAX_LATE_FACTOR = 2.5
# Business customers asking for more capacity or less, per year.
INCREASE_RATE = 0.08
DECREASE_RATE = 0.03
# Building sites asking for temporary supply, per month: one per this many customers, at least
# one a month in the whole city so that a small demo still has some.
CUSTOMERS_PER_TEMPORARY = 400
# A temporary supply is closed this many days after it was connected, when the works end.
TEMPORARY_DAYS = (90, 420)
# New connections still open at the end: one per this many customers, accepted in the last
# ninety days.
CUSTOMERS_PER_OPEN_CONNECTION = 300
OPEN_WINDOW_DAYS = 90
# Applications are most frequent in spring and autumn, fewest around the Spring Festival.
MONTH_WEIGHTS = (0.6, 0.5, 1.2, 1.3, 1.2, 1.0, 0.9, 0.9, 1.2, 1.3, 1.1, 0.8)
SITE_WORDS = ("城东", "磁湖", "大冶湖", "团城山", "花湖", "黄金山", "沿江", "港湖")
SITE_KINDS = ("安置小区", "学校", "道路改造", "商业综合体", "厂房", "污水处理厂")
SITE_KVA = (80.0, 160.0, 250.0, 315.0, 400.0, 630.0)
RESIDENTIAL_KVA = (4.0, 8.0, 8.0, 10.0)


def write(
    conn: sa.Connection,
    archive: pd.DataFrame,
    days: list[dt.date],
    rng: np.random.Generator,
) -> int:
    """Writes the demo's applications.

    Args:
        conn: the store, inside the generator's transaction.
        archive: the generated customers (``customer_id``, ``name``, ``customer_class``,
            ``industry``, ``region``, ``contract_capacity_kva``, ``open_date``).
        days: the demo's days, first to last.
        rng: the generator's stream for applications.

    Returns:
        How many applications were written.
    """
    frame = applications(archive, days, rng)
    return store_engine.bulk_insert(conn, schema.applications, frame)


def applications(
    archive: pd.DataFrame, days: list[dt.date], rng: np.random.Generator
) -> pd.DataFrame:
    """The demo's applications, numbered by the month they were accepted in."""
    limits = time_limits.load()
    first, last = days[0], days[-1]
    rows = [
        *_new_connections(archive, first, limits, rng),
        *_capacity_changes(archive, first, last, limits, rng),
        *_temporary_supplies(archive, first, last, limits, rng),
        *_open_connections(archive, last, limits, rng),
    ]
    frame = pd.DataFrame(rows, columns=[column.name for column in schema.applications.columns])
    frame = frame.sort_values(["accepted_date", "region", "type"], kind="stable", ignore_index=True)
    month = pd.to_datetime(frame["accepted_date"]).dt.strftime("%Y%m")
    number = frame.groupby(month).cumcount() + 1
    frame["application_id"] = "YK" + month + number.map("{:04d}".format)
    return frame


def _group(customer_class: str | None, kva: float, limits: time_limits.TimeLimits) -> str:
    if customer_class == "residential":
        return "residential"
    return "high_voltage" if kva >= limits.high_voltage_from_kva else "low_voltage"


def _duration(limit: int, rng: np.random.Generator) -> int:
    """Days one stage takes: within its limit mostly, past it now and then."""
    if rng.random() < LATE_SHARE:
        return limit + 1 + int(rng.integers(0, max(1, int(limit * (MAX_LATE_FACTOR - 1)) + 1)))
    return int(rng.integers(0 if limit <= 1 else 1, limit + 1))


def _stage_days(
    kind: str, group: str, limits: time_limits.TimeLimits, rng: np.random.Generator
) -> list[tuple[str, int]]:
    return [
        (stage, _duration(limits.stage_days[group][stage], rng)) for stage in limits.stages[kind]
    ]


def _forward(
    accepted: dt.date, durations: list[tuple[str, int]], last: dt.date
) -> dict[str, dt.date | None]:
    """Stage dates from the accepted date on; stages not reached by ``last`` stay empty."""
    dates: dict[str, dt.date | None] = {stage: None for stage in schema.APPLICATION_STAGES}
    dates["accepted"] = accepted
    reached = accepted
    for stage, days in durations:
        reached = reached + dt.timedelta(days=days)
        if reached > last:
            break
        dates[stage] = reached
    return dates


def _row(
    kind: str,
    dates: dict[str, dt.date | None],
    *,
    region: str,
    kva: float,
    customer_id: str | None = None,
    name: str | None = None,
    customer_class: str | None = None,
    industry: str | None = None,
) -> dict[str, object]:
    return {
        "application_id": None,
        "customer_id": customer_id,
        "name": name,
        "type": kind,
        "customer_class": customer_class,
        "industry": industry,
        "region": region,
        "requested_kva": kva,
        **{f"{stage}_date": dates[stage] for stage in schema.APPLICATION_STAGES},
    }


def _new_connections(
    archive: pd.DataFrame, first: dt.date, limits: time_limits.TimeLimits, rng
) -> list[dict]:
    """A completed application behind every customer opened during the period."""
    rows = []
    opened = archive[pd.to_datetime(archive["open_date"]).dt.date >= first]
    for customer in opened.itertuples(index=False):
        residential = customer.customer_class == "residential"
        kva = (
            float(rng.choice(RESIDENTIAL_KVA))
            if residential
            else float(customer.contract_capacity_kva)
        )
        group = _group(customer.customer_class, kva, limits)
        durations = _stage_days("new_connection", group, limits, rng)
        connected = pd.Timestamp(customer.open_date).date()
        dates: dict[str, dt.date | None] = {}
        reached = connected
        for stage, days in reversed(durations):
            dates[stage] = reached
            reached = reached - dt.timedelta(days=days)
        dates["accepted"] = reached
        rows.append(
            _row(
                "new_connection",
                dates,
                region=customer.region,
                kva=kva,
                customer_id=customer.customer_id,
                name=customer.name,
                customer_class=customer.customer_class,
                industry=customer.industry,
            )
        )
    return rows


def _accepted_day(first: dt.date, last: dt.date, rng: np.random.Generator) -> dt.date:
    span = (last - first).days + 1
    weights = np.array(
        [MONTH_WEIGHTS[(first + dt.timedelta(days=day)).month - 1] for day in range(span)]
    )
    return first + dt.timedelta(days=int(rng.choice(span, p=weights / weights.sum())))


def _capacity_changes(
    archive: pd.DataFrame, first: dt.date, last: dt.date, limits: time_limits.TimeLimits, rng
) -> list[dict]:
    """Existing business customers asking for more capacity, or for less."""
    rows = []
    years = ((last - first).days + 1) / 365.0
    business = archive[
        archive["customer_class"].isin(["commercial", "industrial"])
        & (pd.to_datetime(archive["open_date"]).dt.date < first)
    ]
    if business.empty:
        return rows
    for kind, rate, share in (
        ("capacity_increase", INCREASE_RATE, (0.2, 0.6)),
        ("capacity_decrease", DECREASE_RATE, (0.2, 0.5)),
    ):
        counts = rng.poisson(rate * years, len(business))
        # Every kind of change appears, however small the demo.
        if counts.sum() == 0:
            counts[rng.integers(0, len(business))] = 1
        for customer, count in zip(business.itertuples(index=False), counts, strict=True):
            for _ in range(count):
                kva = round(float(customer.contract_capacity_kva) * rng.uniform(*share), 0)
                kva = max(kva, 5.0)
                group = _group(customer.customer_class, kva, limits)
                accepted = _accepted_day(first, last, rng)
                dates = _forward(accepted, _stage_days(kind, group, limits, rng), last)
                rows.append(
                    _row(
                        kind,
                        dates,
                        region=customer.region,
                        kva=kva,
                        customer_id=customer.customer_id,
                        name=customer.name,
                        customer_class=customer.customer_class,
                        industry=customer.industry,
                    )
                )
    return rows


def _site_name(region: str, rng: np.random.Generator) -> str:
    short = next(d.short for d in geography.DISTRICTS if d.name == region)
    return f"{short}{rng.choice(SITE_WORDS)}{rng.choice(SITE_KINDS)}项目部"


def _temporary_supplies(
    archive: pd.DataFrame, first: dt.date, last: dt.date, limits: time_limits.TimeLimits, rng
) -> list[dict]:
    """Building sites supplied for the time of their works, and closed when the works end."""
    rows = []
    months = pd.period_range(first, last, freq="M")
    per_month = max(1.0, len(archive) / CUSTOMERS_PER_TEMPORARY)
    regions, shares = _district_shares(archive)
    for month in months:
        weight = MONTH_WEIGHTS[month.month - 1]
        for _ in range(rng.poisson(per_month * weight)):
            region = str(rng.choice(regions, p=shares))
            kva = float(rng.choice(SITE_KVA))
            name = _site_name(region, rng)
            start = max(month.start_time.date(), first)
            end = min(month.end_time.date(), last)
            accepted = start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))
            group = _group(None, kva, limits)
            dates = _forward(accepted, _stage_days("temporary", group, limits, rng), last)
            site = {"region": region, "kva": kva, "name": name, "industry": "建筑业"}
            rows.append(_row("temporary", dates, customer_class="commercial", **site))
            connected = dates["connected"]
            if connected is None:
                continue
            closing = connected + dt.timedelta(days=int(rng.integers(*TEMPORARY_DAYS)))
            if closing > last:
                continue
            closure = _forward(closing, _stage_days("closure", group, limits, rng), last)
            rows.append(_row("closure", closure, customer_class="commercial", **site))
    return rows


def _open_connections(
    archive: pd.DataFrame, last: dt.date, limits: time_limits.TimeLimits, rng
) -> list[dict]:
    """New connections under way at the end: accepted lately, not yet connected."""
    rows = []
    regions, shares = _district_shares(archive)
    count = max(2, len(archive) // CUSTOMERS_PER_OPEN_CONNECTION)
    for _ in range(count):
        region = str(rng.choice(regions, p=shares))
        residential = rng.random() < 0.6
        kva = float(rng.choice(RESIDENTIAL_KVA)) if residential else float(rng.choice(SITE_KVA))
        customer_class = "residential" if residential else "commercial"
        group = _group(customer_class, kva, limits)
        accepted = last - dt.timedelta(days=int(rng.integers(0, OPEN_WINDOW_DAYS)))
        durations = _stage_days("new_connection", group, limits, rng)
        dates = _forward(accepted, durations, last)
        if dates["connected"] is not None:
            # Not yet a customer of the archive: the last stage is still to come.
            dates["connected"] = None
        rows.append(
            _row(
                "new_connection",
                dates,
                region=region,
                kva=kva,
                name=_household_name(rng) if residential else _premises_name(region, rng),
                customer_class=customer_class,
                industry=None if residential else str(rng.choice(["零售", "餐饮", "商务服务"])),
            )
        )
    return rows


def _household_name(rng: np.random.Generator) -> str:
    # The generator's own name parts; imported here because the generator imports this module.
    from core.demo.generator import GIVEN, SURNAMES

    given = "".join(rng.choice(list(GIVEN), size=int(rng.integers(1, 3))))
    return str(rng.choice(list(SURNAMES))) + given


def _premises_name(region: str, rng: np.random.Generator) -> str:
    return _site_name(region, rng).replace("项目部", "筹建处")


def _district_shares(archive: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    counts = archive["region"].value_counts().sort_index()
    return list(counts.index), (counts / counts.sum()).to_numpy()
