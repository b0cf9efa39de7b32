"""Rule segments: parsed, compiled to SQL, counted like a direct query on every backend."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, tags
from core.segments import rules
from core.store import engine as store_engine
from core.store import schema

CUSTOMERS = 60
EAST = access.Viewer("east", "analyst", regions=("East",))


def _archive() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    ids = [f"C{number:03d}" for number in range(CUSTOMERS)]
    classes = np.array(["residential", "commercial", "industrial", "agricultural"])[
        np.arange(CUSTOMERS) % 4
    ]
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"客户{number}" for number in range(CUSTOMERS)],
            "customer_class": classes,
            "region": np.where(np.arange(CUSTOMERS) % 3 == 0, "West", "East"),
            "transformer_area": [f"A{number % 5}" for number in range(CUSTOMERS)],
            "tariff_code": np.where(classes == "residential", "RES_TIER", "COM_TOU"),
            "contract_capacity_kva": rng.choice([8.0, 50.0, 400.0, 1000.0], CUSTOMERS),
            "phone": [f"1380000{number:04d}" for number in range(CUSTOMERS)],
        }
    )
    arrears = np.where(rng.random(CUSTOMERS) < 0.3, rng.uniform(10, 5000, CUSTOMERS), 0.0)
    arrears[:3] = [0.001, 0.004, 0.02]
    feature_rows = pd.DataFrame(
        {
            "customer_id": ids,
            "period_start": dt.date(2025, 1, 1),
            "period_end": dt.date(2026, 1, 1),
            "computed_at": dt.datetime(2026, 1, 2),
            "peak_share": rng.uniform(0.2, 0.7, CUSTOMERS),
            "annual_kwh": rng.uniform(1_000, 2_000_000, CUSTOMERS),
            "arrears_cny": arrears,
            "complaints": rng.integers(0, 3, CUSTOMERS).astype(float),
            "late_payments": rng.integers(0, 4, CUSTOMERS).astype(float),
            "online_share": np.where(rng.random(CUSTOMERS) < 0.2, np.nan, rng.random(CUSTOMERS)),
        }
    )
    return customers, feature_rows


@pytest.fixture
def rule_store(store) -> sa.Engine:
    customers, feature_rows = _archive()
    with store.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, customers)
        store_engine.bulk_insert(conn, schema.features, feature_rows)
    return store


# Each rule and the direct query that must count the same customers.
DIRECT = [
    (
        "industrial AND peak share > 40% AND no arrears",
        "c.customer_class = 'industrial' AND f.peak_share > 0.4 "
        "AND COALESCE(f.arrears_cny, 0) <= 0.005",
    ),
    (
        "工业 且 峰时电量占比 > 40% 且 无欠费",
        "c.customer_class = 'industrial' AND f.peak_share > 0.4 "
        "AND COALESCE(f.arrears_cny, 0) <= 0.005",
    ),
    (
        "(commercial OR agricultural) AND annual_kwh >= 500000 AND NOT complaints > 1",
        "c.customer_class IN ('commercial', 'agricultural') AND f.annual_kwh >= 500000 "
        "AND NOT COALESCE(f.complaints > 1, FALSE)",
    ),
    (
        "peak share >= 45 and capacity > 100",
        "f.peak_share >= 0.45 AND c.contract_capacity_kva > 100",
    ),
    ("online share < 50%", "f.online_share < 0.5"),
    ("NOT online share < 50%", "NOT COALESCE(f.online_share < 0.5, FALSE)"),
    (
        'region = "West" OR transformer_area != "A1"',
        "c.region = 'West' OR c.transformer_area <> 'A1'",
    ),
    (
        "no complaints AND no late payments",
        "COALESCE(f.complaints, 0) = 0 AND COALESCE(f.late_payments, 0) = 0",
    ),
    ("late payments ≥ 2 或 arrears > 1000", "f.late_payments >= 2 OR f.arrears_cny > 1000"),
]


def _direct_count(conn: sa.Connection, where: str, region: str | None = None) -> int:
    scope = " AND c.region = :region" if region else ""
    query = sa.text(
        "SELECT COUNT(*) FROM features f JOIN customers c ON c.customer_id = f.customer_id "
        f"WHERE ({where}){scope}"
    )
    return conn.execute(query, {"region": region} if region else {}).scalar_one()


@pytest.mark.parametrize(("expression", "where"), DIRECT)
def test_a_rule_counts_what_a_direct_query_counts(rule_store, expression, where):
    with rule_store.connect() as conn:
        expected = _direct_count(conn, where)
        assert rules.count(conn, access.SYSTEM, expression) == expected
        assert rules.count(conn, EAST, expression) == _direct_count(conn, where, "East")
        listed = rules.members(conn, EAST, expression)
    assert len(listed) == _direct_count_east(rule_store, where)
    assert listed["region"].eq("East").all()
    assert 0 < expected < CUSTOMERS or expression.startswith("industrial")


def _direct_count_east(engine: sa.Engine, where: str) -> int:
    with engine.connect() as conn:
        return _direct_count(conn, where, "East")


def test_a_tag_in_a_rule_holds_the_customers_carrying_it(rule_store):
    carried = tags.assign(rule_store, access.SYSTEM)
    expected = int(carried["peak_heavy"].sum())
    assert expected > 0
    with rule_store.connect() as conn:
        assert rules.count(conn, access.SYSTEM, "peak_heavy") == expected
        assert rules.count(conn, access.SYSTEM, "Peak-heavy") == expected
        assert rules.count(conn, access.SYSTEM, "峰时用电型") == expected
        assert rules.count(conn, access.SYSTEM, "NOT peak_heavy") == CUSTOMERS - expected


def test_members_are_masked_for_an_analyst(rule_store):
    with rule_store.connect() as conn:
        listed = rules.members(conn, EAST, "residential")
    assert len(listed) > 0 and listed["phone"].str.contains(r"\*{4}").all()
    assert listed["name"].str.contains(r"\*").all()


@pytest.mark.parametrize(
    ("expression", "key", "part"),
    [
        ("", "segment_rules.empty", None),
        ("industrial AND", "segment_rules.dangling", "AND"),
        ("industrial AND peak shar > 40%", "segment_rules.unknown_feature", "peak shar"),
        ("industrious", "segment_rules.unknown_name", "industrious"),
        ("peak share", "segment_rules.feature_needs_comparison", "peak share"),
        ("peak share >", "segment_rules.expected_value", "peak share >"),
        ("peak share > lots", "segment_rules.expected_number", "peak share > lots"),
        ("annual_kwh > 5%", "segment_rules.not_a_share", "annual_kwh > 5%"),
        ('region > "East"', "segment_rules.text_operator", "region >"),
        ("region = East", "segment_rules.expected_text", "region = East"),
        ("(industrial OR commercial", "segment_rules.unclosed", "("),
        ("industrial commercial) ", "segment_rules.unknown_name", "industrial commercial"),
        ("industrial) AND commercial", "segment_rules.unexpected", ")"),
        ("no wonders", "segment_rules.unknown_feature", "wonders"),
        ("AND industrial", "segment_rules.expected_condition", "AND"),
    ],
)
def test_an_invalid_rule_names_the_bad_part(expression, key, part):
    with pytest.raises(rules.RuleError) as refused:
        rules.compile_rule(expression)
    assert refused.value.key == key
    if part is not None:
        assert refused.value.values["part"] == part
        assert part in refused.value.text("zh") and part in refused.value.text("en")


def test_a_saved_rule_is_found_by_name_and_recounted_when_data_changes(rule_store):
    expression = "industrial AND peak share > 40% AND no arrears"
    with rule_store.begin() as conn:
        rule_id = rules.save(conn, EAST, "Industrial TOU prospects", expression)
        again = rules.save(
            conn, EAST, "Industrial TOU prospects", expression + " AND capacity > 10"
        )
    assert again == rule_id
    with rule_store.connect() as conn:
        saved = rules.saved(conn, access.SYSTEM)
        before = _direct_count(conn, DIRECT[0][1] + " AND c.contract_capacity_kva > 10")
        log = access.audit_entries(conn, access.SYSTEM, action="segment_rule_saved")
    assert saved["name"].tolist() == ["Industrial TOU prospects"]
    assert saved.loc[0, "expression"].endswith("capacity > 10")
    assert saved.loc[0, "customers"] == before
    assert len(log) == 2 and log["user_name"].eq("east").all()
    with rule_store.begin() as conn:
        conn.execute(schema.features.update().values(peak_share=0.9, arrears_cny=0.0))
    with rule_store.connect() as conn:
        after = rules.saved(conn, access.SYSTEM).loc[0, "customers"]
        industrial = conn.execute(
            sa.select(sa.func.count()).where(
                schema.customers.c.customer_class == "industrial",
                schema.customers.c.contract_capacity_kva > 10,
            )
        ).scalar_one()
    assert after == industrial > before


def test_a_rule_without_a_name_or_with_a_bad_rule_is_not_saved(rule_store):
    with rule_store.begin() as conn:
        with pytest.raises(rules.RuleError) as unnamed:
            rules.save(conn, EAST, "  ", "industrial")
        with pytest.raises(rules.RuleError) as unreadable:
            rules.save(conn, EAST, "Broken", "industrious")
    assert unnamed.value.key == "segment_rules.name_missing"
    assert unreadable.value.key == "segment_rules.unknown_name"
    with rule_store.connect() as conn:
        assert rules.saved(conn, EAST).empty
