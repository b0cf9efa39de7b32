"""The demo utility: deterministic, billed by the tariff engine, shaped like a real supply area."""

import datetime as dt

import chinese_calendar
import pandas as pd
import pytest
import sqlalchemy as sa

from core import demo, tariffs
from core.demo import truth
from core.store import engine as store_engine
from core.store import schema

TINY = {"customers": 14, "years": 1, "seed": 5}


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_demo_builds_on_every_backend(store):
    summary = demo.generate(store, **TINY)
    with store.connect() as conn:
        assert _count(conn, schema.customers) == 14
        assert _count(conn, schema.readings) == summary.readings
        assert _count(conn, schema.bills) == summary.bills
        assert _count(conn, schema.weather) == 6 * 8760
        assert store_engine.data_version(conn) == 1
    # Customers connected during the year have fewer readings, never more.
    assert 0.9 * 14 * 8760 <= summary.readings <= 14 * 8760
    assert summary.start == dt.date(2025, 1, 1) and summary.end == dt.date(2025, 12, 31)


def _fingerprint(url: str) -> dict[str, object]:
    engine = store_engine.connect(url)
    readings = schema.readings
    with engine.connect() as conn:
        fingerprint = {
            "customers": conn.execute(
                sa.select(schema.customers).order_by(schema.customers.c.customer_id)
            ).all(),
            "readings": conn.execute(
                sa.select(
                    readings.c.customer_id,
                    sa.func.count(),
                    sa.func.round(sa.func.sum(readings.c.kwh), 3),
                )
                .group_by(readings.c.customer_id)
                .order_by(readings.c.customer_id)
            ).all(),
            "bills": conn.execute(
                sa.select(schema.bills).order_by(schema.bills.c.customer_id, schema.bills.c.period)
            ).all(),
            "work_orders": conn.execute(
                sa.select(schema.work_orders).order_by(schema.work_orders.c.order_id)
            ).all(),
            "members": conn.execute(
                sa.select(schema.campaign_members).order_by(
                    schema.campaign_members.c.campaign_id, schema.campaign_members.c.customer_id
                )
            ).all(),
        }
    engine.dispose()
    return fingerprint


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    urls = {}
    for name, seed in (("first", 5), ("again", 5), ("other", 6)):
        urls[name] = f"duckdb:///{tmp_path / name}.duckdb"
        engine = store_engine.connect(urls[name])
        demo.generate(engine, **{**TINY, "seed": seed})
        engine.dispose()
    first, again, other = (_fingerprint(urls[name]) for name in ("first", "again", "other"))
    assert first == again
    assert first["readings"] != other["readings"]
    assert first["customers"] != other["customers"]


def test_demo_rejects_an_empty_size(tmp_path):
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'empty.duckdb'}")
    with pytest.raises(ValueError, match="at least one customer"):
        demo.generate(engine, customers=0)


def test_every_stored_bill_recomputes_from_the_readings(demo_store):
    catalog = tariffs.load_catalog()
    customers = schema.customers
    with demo_store.connect() as conn:
        # One customer of each tariff, the largest first: two-part, power factor and tiers.
        picked = conn.execute(
            sa.select(
                customers.c.customer_id,
                customers.c.tariff_code,
                customers.c.contract_capacity_kva,
            ).order_by(customers.c.tariff_code, customers.c.contract_capacity_kva.desc())
        ).all()
        seen: dict[str, tuple] = {}
        for row in picked:
            seen.setdefault(row.tariff_code, row)
        assert set(seen) == {"RES_TIERED", "RES_TOU", "COM_TOU", "IND_TWO_PART", "AGR_FLAT"}
        for customer_id, code, capacity in seen.values():
            readings = pd.DataFrame(
                conn.execute(
                    sa.select(schema.readings.c.ts, schema.readings.c.kwh, schema.readings.c.kvarh)
                    .where(schema.readings.c.customer_id == customer_id)
                    .order_by(schema.readings.c.ts)
                ).all(),
                columns=["ts", "kwh", "kvarh"],
            )
            stored = pd.DataFrame(
                conn.execute(
                    sa.select(schema.bills.c.period, schema.bills.c.amount_cny)
                    .where(schema.bills.c.customer_id == customer_id)
                    .order_by(schema.bills.c.period)
                ).all(),
                columns=["period", "amount_cny"],
            )
            recomputed = tariffs.bill(readings, catalog[code], capacity_kva=capacity)
            assert recomputed["period"].tolist() == stored["period"].tolist(), code
            assert [f"{value:.2f}" for value in recomputed["amount_cny"]] == [
                f"{value:.2f}" for value in stored["amount_cny"]
            ], code


def _daily_load(conn, archetype: str, days: list[dt.date]) -> dict[dt.date, float]:
    readings, planted = schema.readings, truth.customers
    day = sa.cast(readings.c.ts, sa.Date)
    query = (
        sa.select(day.label("day"), sa.func.sum(readings.c.kwh))
        .join(planted, planted.c.customer_id == readings.c.customer_id)
        .where(planted.c.archetype == archetype, day.in_(days))
        .group_by(day)
    )
    return {pd.Timestamp(row[0]).date(): float(row[1]) for row in conn.execute(query)}


def test_spring_festival_dip_in_industry(demo_store):
    festival = [
        dt.date(2025, 1, 28) + dt.timedelta(days=offset)
        for offset in range(8)
        if chinese_calendar.get_holiday_detail(dt.date(2025, 1, 28) + dt.timedelta(days=offset))[1]
        == chinese_calendar.Holiday.spring_festival.value
    ]
    assert len(festival) == 8
    before = [dt.date(2025, 1, 6) + dt.timedelta(days=offset) for offset in range(12)]
    before = [day for day in before if chinese_calendar.is_workday(day)]
    with demo_store.connect() as conn:
        for archetype in ("ind_two_shift", "ind_three_shift"):
            holiday = _daily_load(conn, archetype, festival)
            normal = _daily_load(conn, archetype, before)
            ratio = (sum(holiday.values()) / len(holiday)) / (sum(normal.values()) / len(normal))
            assert ratio < 0.5, (archetype, ratio)


def test_make_up_workday_runs_like_a_workday(demo_store):
    make_up = dt.date(2025, 9, 28)  # a Sunday worked before the National Day holiday
    assert make_up.weekday() == 6 and chinese_calendar.is_workday(make_up)
    sunday, monday = dt.date(2025, 9, 21), dt.date(2025, 9, 22)
    with demo_store.connect() as conn:
        load = _daily_load(conn, "com_office", [make_up, sunday, monday])
    assert load[make_up] > 2 * load[sunday]
    assert load[make_up] == pytest.approx(load[monday], rel=0.35)


def test_residential_load_follows_temperature(demo_store):
    readings, planted, customers = schema.readings, truth.customers, schema.customers
    weather = schema.weather
    day = sa.cast(readings.c.ts, sa.Date)
    query = (
        sa.select(
            day.label("day"),
            sa.func.sum(readings.c.kwh).label("kwh"),
            sa.func.avg(weather.c.temperature_c).label("temperature"),
        )
        .join(planted, planted.c.customer_id == readings.c.customer_id)
        .join(customers, customers.c.customer_id == readings.c.customer_id)
        .join(
            weather, sa.and_(weather.c.region == customers.c.region, weather.c.ts == readings.c.ts)
        )
        .where(planted.c.archetype == "res_standard", readings.c.ts >= dt.datetime(2025, 1, 1))
        .group_by(day)
    )
    with demo_store.connect() as conn:
        daily = pd.DataFrame(conn.execute(query).all(), columns=["day", "kwh", "temperature"])
    daily = daily.astype({"kwh": float, "temperature": float})
    hot = daily[daily["temperature"] > 28]["kwh"].mean()
    cold = daily[daily["temperature"] < 6]["kwh"].mean()
    mild = daily[daily["temperature"].between(16, 22)]["kwh"].mean()
    assert hot > 1.3 * mild
    assert cold > 1.1 * mild


def test_ev_owners_charge_at_night(demo_store):
    readings, planted = schema.readings, truth.customers
    hour = sa.extract("hour", readings.c.ts)
    night = sa.func.sum(sa.case((sa.or_(hour >= 23, hour < 6), readings.c.kwh), else_=0.0))
    query = (
        sa.select(planted.c.archetype, (night / sa.func.sum(readings.c.kwh)).label("night_share"))
        .join(planted, planted.c.customer_id == readings.c.customer_id)
        .where(planted.c.archetype.in_(["res_ev", "res_standard"]))
        .group_by(planted.c.archetype)
    )
    with demo_store.connect() as conn:
        shares = dict(conn.execute(query).all())
    assert shares["res_ev"] > shares["res_standard"] + 0.15


def test_planted_truth_and_campaign_holdouts(demo_store):
    members = schema.campaign_members
    with demo_store.connect() as conn:
        abnormal = conn.execute(sa.select(truth.abnormal)).all()
        arms = conn.execute(
            sa.select(members.c.campaign_id, members.c.arm, sa.func.count()).group_by(
                members.c.campaign_id, members.c.arm
            )
        ).all()
        effects = conn.execute(sa.select(truth.campaign_effects)).all()
        conflicts = conn.execute(
            sa.select(schema.id_map.c.external_id)
            .where(schema.id_map.c.system == "contract")
            .group_by(schema.id_map.c.external_id)
            .having(sa.func.count(sa.distinct(schema.id_map.c.customer_id)) > 1)
        ).all()
    assert {row.kind for row in abnormal} == set(demo.ABNORMAL_KINDS)
    counts: dict[str, dict[str, int]] = {}
    for campaign_id, arm, count in arms:
        counts.setdefault(campaign_id, {})[arm] = count
    assert len(counts) == 3
    for by_arm in counts.values():
        share = by_arm["control"] / (by_arm["control"] + by_arm["treatment"])
        # The holdout is drawn at random: near the planned 30 % on a store this small.
        assert 0.15 < share < 0.45
    assert len(effects) == 6
    assert len(conflicts) == 1
