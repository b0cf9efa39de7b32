"""Abnormal use: planted and injected cases on top of the list, line-loss arithmetic, the CLI."""

import datetime as dt
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import cli, errors
from core.demo import truth
from core.risk import abnormal, line_loss, reasons
from core.risk import settings as risk_settings
from core.store import engine as store_engine
from core.store import schema

TOP = 50
RECALL_FLOOR = 0.8


def _copy(demo_url: str, folder) -> str:
    target = folder / "risk.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, target)
    return f"duckdb:///{target}"


@pytest.fixture(scope="module")
def scored_demo(demo_url):
    engine = store_engine.connect(demo_url)
    with engine.connect() as conn:
        scored = abnormal.score(conn)
        planted = pd.read_sql(sa.select(truth.abnormal), conn)
    engine.dispose()
    return scored, planted


def _ranked(frame: pd.DataFrame) -> list[str]:
    return frame.sort_values(["priority", "customer_id"], ascending=[False, True])[
        "customer_id"
    ].tolist()


def test_planted_cases_lead_the_list(scored_demo):
    scored, planted = scored_demo
    order = _ranked(scored.frame)
    found = set(order[:TOP]) & set(planted["customer_id"])
    assert len(found) / len(planted) >= RECALL_FLOOR
    # On a store this small the planted cases are not just in the top 50 but at its head.
    head = set(order[: len(planted) + 2])
    assert len(head & set(planted["customer_id"])) / len(planted) >= RECALL_FLOOR


def test_each_planted_kind_is_told_by_its_own_rule(scored_demo):
    scored, planted = scored_demo
    frame = scored.frame.set_index("customer_id")
    expected = {
        "sudden_drop": "sustained_drop",
        "flat_line": "flat_line",
        "inverted": "inverted_pattern",
    }
    for case in planted.itertuples(index=False):
        keys = [reason["key"] for reason in frame.loc[case.customer_id, "reasons"]]
        assert expected[case.kind] in keys, (case.kind, keys)


def test_customers_without_anything_wrong_score_low(scored_demo):
    scored, planted = scored_demo
    normal = scored.frame[~scored.frame["customer_id"].isin(planted["customer_id"])]
    assert (normal["score"] < 0.5).mean() > 0.95
    assert normal["flagged"].mean() < 0.1


def _rewrite_readings(conn, customer_id: str, start: dt.datetime, change) -> float:
    """Alters one customer's readings from ``start``; the area meter keeps the real energy."""
    readings, customers, area = schema.readings, schema.customers, schema.area_readings
    rows = pd.read_sql(
        sa.select(readings).where(readings.c.customer_id == customer_id, readings.c.ts >= start),
        conn,
    )
    recorded = change(rows)
    conn.execute(
        readings.delete().where(readings.c.customer_id == customer_id, readings.c.ts >= start)
    )
    store_engine.bulk_insert(conn, readings, rows.assign(kwh=np.round(recorded, 3)))
    name = conn.execute(
        sa.select(customers.c.transformer_area).where(customers.c.customer_id == customer_id)
    ).scalar_one()
    # The supply meter measured what was used: nothing changes there. The loss grows by what
    # the customer's meter stopped recording.
    assert conn.execute(
        sa.select(sa.func.count()).where(area.c.transformer_area == name, area.c.ts >= start)
    ).scalar_one()
    return float(rows["kwh"].sum() - np.round(recorded, 3).sum())


@pytest.fixture(scope="module")
def injected(demo_url, tmp_path_factory):
    """A copy of the demo store with patterns the demo does not plant, on normal customers.

    Two customers are bypassed during the day (08:00-18:00 record a fifth of the energy), two
    have a random 30-80 % of every hour's energy taken, from 45 days before the end on.
    """
    url = _copy(demo_url, tmp_path_factory.mktemp("injected"))
    engine = store_engine.connect(url)
    rng = np.random.default_rng(7)
    with engine.begin() as conn:
        planted = set(conn.execute(sa.select(truth.abnormal.c.customer_id)).scalars())
        features = pd.read_sql(
            sa.select(
                schema.customers.c.customer_id,
                schema.customers.c.customer_class,
                schema.customers.c.open_date,
            ),
            conn,
        )
        last = conn.execute(sa.select(sa.func.max(schema.readings.c.ts))).scalar_one()
        start = dt.datetime.combine(last.date() - dt.timedelta(days=45), dt.time())
        candidates = features[
            ~features["customer_id"].isin(planted)
            & (pd.to_datetime(features["open_date"]) < pd.Timestamp(start) - pd.Timedelta(days=400))
        ]
        residential = candidates[candidates["customer_class"] == "residential"]["customer_id"]
        business = candidates[candidates["customer_class"] != "residential"]["customer_id"]
        bypassed = [residential.iloc[3], business.iloc[2]]
        fraction = [residential.iloc[11], business.iloc[5]]

        def bypass(rows: pd.DataFrame) -> np.ndarray:
            day = pd.to_datetime(rows["ts"]).dt.hour.between(8, 17).to_numpy()
            return np.where(day, rows["kwh"].to_numpy() * 0.2, rows["kwh"].to_numpy())

        def random_fraction(rows: pd.DataFrame) -> np.ndarray:
            taken = rng.uniform(0.3, 0.8, len(rows))
            return rows["kwh"].to_numpy() * (1 - taken)

        for customer_id in bypassed:
            assert _rewrite_readings(conn, customer_id, start, bypass) > 0
        for customer_id in fraction:
            assert _rewrite_readings(conn, customer_id, start, random_fraction) > 0
        scored = abnormal.score(conn)
    engine.dispose()
    return scored, bypassed, fraction, planted


def test_injected_bypass_and_random_fraction_are_found(injected):
    scored, bypassed, fraction, planted = injected
    order = _ranked(scored.frame)
    wanted = set(bypassed) | set(fraction) | planted
    head = set(order[: len(wanted) + 3])
    assert len(head & (set(bypassed) | set(fraction))) / 4 >= RECALL_FLOOR
    assert len(set(order[:TOP]) & wanted) / len(wanted) >= RECALL_FLOOR
    frame = scored.frame.set_index("customer_id")
    for customer_id in bypassed:
        keys = [reason["key"] for reason in frame.loc[customer_id, "reasons"]]
        assert "hours_bypassed" in keys, keys
    for customer_id in fraction:
        keys = [reason["key"] for reason in frame.loc[customer_id, "reasons"]]
        assert "sustained_drop" in keys, keys
        assert frame.loc[customer_id, "revenue_at_risk_cny"] > 0


HOURS = pd.date_range("2025-03-01", periods=3, freq="h")


def _hand_made_area(engine) -> None:
    """Area A: three customers, one on 15-minute readings; area B: one; hour 3 lacks its A meter."""
    customers = pd.DataFrame(
        {
            "customer_id": ["A1", "A2", "A3", "B1"],
            "name": ["a1", "a2", "a3", "b1"],
            "customer_class": "residential",
            "region": "黄石港区",
            "transformer_area": ["A", "A", "A", "B"],
            "tariff_code": "RES_TIERED",
        }
    )
    hourly = pd.DataFrame(
        [
            (customer, ts, kwh)
            for customer, values in {
                "A1": (30, 31, 32),
                "A2": (30, 29, 28),
                "B1": (10, 10, 10),
            }.items()
            for ts, kwh in zip(HOURS, values, strict=True)
        ],
        columns=["customer_id", "ts", "kwh"],
    )
    quarter = pd.DataFrame(
        {
            "customer_id": "A3",
            "ts": pd.date_range(HOURS[0], periods=12, freq="15min"),
            "kwh": [8.75] * 12,
        }
    )
    supply = pd.DataFrame(
        {
            "transformer_area": ["A", "A", "B", "B", "B"],
            "ts": [HOURS[0], HOURS[1], HOURS[0], HOURS[1], HOURS[2]],
            "kwh": [100.0, 98.0, 10.5, 10.5, 10.0],
        }
    )
    with engine.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, customers)
        store_engine.bulk_insert(conn, schema.readings, pd.concat([hourly, quarter]))
        store_engine.bulk_insert(conn, schema.area_readings, supply)


def test_line_loss_is_supply_minus_metered_over_the_hours_the_supply_meter_covers(store):
    _hand_made_area(store)
    with store.connect() as conn:
        losses = line_loss.area_loss(conn, dt.date(2025, 3, 1), dt.date(2025, 3, 2))
    by_area = losses.set_index("transformer_area")
    # A: hours 0 and 1 only (hour 2 has no supply reading): 198 supplied, 30+31+30+29+35+35.
    assert by_area.loc["A", "supplied_kwh"] == pytest.approx(198.0)
    assert by_area.loc["A", "metered_kwh"] == pytest.approx(190.0)
    assert by_area.loc["A", "loss_kwh"] == pytest.approx(8.0)
    assert by_area.loc["A", "loss_rate"] == pytest.approx(8.0 / 198.0)
    assert by_area.loc["B", "loss_kwh"] == pytest.approx(1.0)
    assert by_area.loc["B", "loss_rate"] == pytest.approx(1.0 / 31.0)
    with store.connect() as conn:
        only_b = line_loss.area_loss(conn, dt.date(2025, 3, 1), dt.date(2025, 3, 2), ["B"])
    assert only_b["transformer_area"].tolist() == ["B"]


def test_the_command_prints_the_list_as_json(demo_url, tmp_path, capsys):
    url = _copy(demo_url, tmp_path)
    assert cli.main(["abnormal", "--database-url", url, "--top", "5", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 5
    assert all(
        set(row) == {"customer_id", "score", "revenue_at_risk_cny", "reasons"} for row in listed
    )
    assert all(0.0 <= row["score"] <= 1.0 and row["revenue_at_risk_cny"] >= 0 for row in listed)
    engine = store_engine.connect(url)
    with engine.connect() as conn:
        planted = set(conn.execute(sa.select(truth.abnormal.c.customer_id)).scalars())
        stored = conn.execute(
            sa.select(sa.func.count()).where(schema.risk_scores.c.kind == abnormal.KIND)
        ).scalar_one()
    engine.dispose()
    assert listed[0]["customer_id"] in planted
    assert listed[0]["reasons"] and all(isinstance(text, str) for text in listed[0]["reasons"])
    assert stored > 5


def test_reasons_read_in_both_languages():
    reason = {
        "key": "sustained_drop",
        "values": {"ratio": 0.25, "reference": "year", "recent_kwh": 2.5, "reference_kwh": 10.0},
    }
    english, chinese = reasons.text(reason, "en"), reasons.text(reason, "zh")
    assert "25%" in english and "a year before" in english
    assert "25%" in chinese and "上年同期" in chinese


def test_settings_name_the_place_of_a_mistake(tmp_path):
    path = tmp_path / "risk.toml"
    text = risk_settings.DEFAULT_SETTINGS.read_text(encoding="utf-8")
    path.write_text(text.replace('name = "flat_line"', 'name = "flat"'), encoding="utf-8")
    with pytest.raises(errors.UserError) as unknown:
        risk_settings.load(path)
    assert unknown.value.key == "risk.error.unknown_rule"
    path.write_text(text.replace("max_variation = 0.01\n", ""), encoding="utf-8")
    with pytest.raises(errors.UserError) as missing:
        risk_settings.load(path)
    assert missing.value.values["place"] == "rules.flat_line.max_variation"
    assert risk_settings.load().list_length == 40
