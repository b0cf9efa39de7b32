"""Row scope and masking in what other parts of the product return: search, archive, rankings."""

import shutil

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, customer360, quality, savings
from core.store import engine as store_engine
from core.store import schema

ANALYST = access.Viewer("analyst", "analyst")


@pytest.fixture(scope="module")
def archive(demo_url) -> pd.DataFrame:
    """Every customer's personal fields, read straight from the store."""
    engine = sa.create_engine(demo_url)
    customers = schema.customers
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                customers.c.customer_id,
                customers.c.name,
                customers.c.phone,
                customers.c.customer_class,
                customers.c.manager_id,
            )
        ).all()
    engine.dispose()
    return pd.DataFrame(
        rows, columns=["customer_id", "name", "phone", "customer_class", "manager_id"]
    )


def personal_fields_leak(frame: pd.DataFrame, archive: pd.DataFrame) -> list[str]:
    """The residential names and phone numbers of ``frame`` that appear in the clear."""
    residential = archive[archive["customer_class"] == "residential"]
    leaks = []
    if "name" in frame.columns:
        leaks += sorted(set(frame["name"].dropna()) & set(residential["name"]))
    if "phone" in frame.columns:
        leaks += sorted(set(frame["phone"].dropna()) & set(archive["phone"]))
    return leaks


def a_customer_manager(archive: pd.DataFrame) -> access.Viewer:
    manager_id = archive["manager_id"].value_counts().sort_index().idxmax()
    return access.Viewer("cm", "customer_manager", manager_id=manager_id, contact_grant=True)


def test_customer_360_search_masks_for_an_analyst(demo_store, archive):
    surname = archive.loc[archive["customer_class"] == "residential", "name"].iloc[0][0]
    found = customer360.search(demo_store, ANALYST, surname)
    assert not found.empty
    assert personal_fields_leak(found, archive) == []


def test_customer_360_archive_masks_for_an_analyst(demo_store, archive):
    customer = archive[archive["customer_class"] == "residential"].iloc[0]
    record = customer360.archive(demo_store, ANALYST, customer["customer_id"])
    assert record["name"] != customer["name"] and "*" in record["name"]
    assert record["phone"] == access.mask_phone(customer["phone"])


def test_customer_360_shows_a_customer_manager_only_their_customers(demo_store, archive):
    viewer = a_customer_manager(archive)
    other = archive[archive["manager_id"] != viewer.manager_id].iloc[0]
    own = archive[archive["manager_id"] == viewer.manager_id].iloc[0]
    assert customer360.archive(demo_store, viewer, other["customer_id"]) is None
    assert customer360.search(demo_store, viewer, other["phone"]).empty
    record = customer360.archive(demo_store, viewer, own["customer_id"])
    assert record["phone"] == own["phone"], "a customer manager sees their customer's contacts"


def test_tariff_customer_picker_masks_for_an_analyst(demo_store, archive):
    found = savings.find_customers(demo_store, ANALYST, "", limit=10_000)
    assert len(found) == len(archive)
    assert personal_fields_leak(found, archive) == []


def test_tariff_ranking_and_target_list_mask_and_scope(demo_store, archive):
    ranking = savings.rank_savings(demo_store, ANALYST)
    assert personal_fields_leak(ranking, archive) == []
    assert personal_fields_leak(savings.target_list(ranking), archive) == []

    viewer = a_customer_manager(archive)
    own = savings.rank_savings(demo_store, viewer)
    expected = set(archive.loc[archive["manager_id"] == viewer.manager_id, "customer_id"])
    assert set(own["customer_id"]) == expected


# Searching cannot uncover what masking hides (every backend)

SEARCHED = [
    ("1", "王峰红", "residential", "13012348138"),
    ("2", "李四", "residential", "13900001111"),
    ("3", "John Smith", "residential", "1234567"),
    ("4", "黄石恒通科技有限公司", "industrial", "02712345678"),
    ("5", "100%_电器行", "commercial", "18100002222"),
    ("6", "王_明", "residential", "13600003333"),
]
TYPED = [
    "王",
    "峰",
    "红",
    "王峰红",
    "李",
    "四",
    "J",
    "S",
    "h",
    "恒通",
    "58138",
    "8138",
    "130",
    "0123",
    "1234567",
    "567",
    "13900001111",
    "%",
    "_",
    "100%",
    "0%_",
    "王_",
    "0002",
]


def visible_to(viewer: access.Viewer, frame: pd.DataFrame, text: str) -> set[str]:
    """The ids a search for ``text`` must find: ``text`` in what the viewer sees, or typed whole."""
    shown = access.mask_frame(viewer, frame)
    found = set()
    for (_, row), (_, seen) in zip(frame.iterrows(), shown.iterrows(), strict=True):
        for field in ("name", "phone"):
            parts = str(seen[field]).split("*")
            if row[field] == text or any(text in part for part in parts):
                found.add(row["customer_id"])
        if text in row["customer_id"]:
            found.add(row["customer_id"])
    return found


def test_search_matches_only_what_the_viewer_sees(store):
    with store.begin() as conn:
        conn.execute(
            schema.customers.insert(),
            [
                {
                    "customer_id": customer_id,
                    "name": name,
                    "customer_class": kind,
                    "region": "大冶市",
                    "tariff_code": "X",
                    "phone": phone,
                }
                for customer_id, name, kind, phone in SEARCHED
            ],
        )
    frame = pd.DataFrame(SEARCHED, columns=["customer_id", "name", "customer_class", "phone"])
    granted = access.Viewer("admin", "administrator", contact_grant=True)
    for viewer in (ANALYST, granted):
        for text in TYPED:
            with store.connect() as conn:
                found = access.visible_customers(conn, viewer, search=text)
            assert set(found["customer_id"]) == visible_to(viewer, frame, text), (viewer, text)
    with store.connect() as conn:
        # The hidden middle of a phone number and of a name finds nothing without the grant.
        assert access.visible_customers(conn, ANALYST, search="58138").empty
        assert access.visible_customers(conn, ANALYST, search="峰").empty
        # % and _ are the characters typed: only the names holding them match.
        assert set(access.visible_customers(conn, granted, search="%")["customer_id"]) == {"5"}
        assert set(access.visible_customers(conn, granted, search="_")["customer_id"]) == {"5", "6"}


def test_customer_360_search_masks_the_matched_value_like_its_field(demo_store, archive):
    residential = archive[archive["customer_class"] == "residential"]
    name, phone, customer_id = residential[["name", "phone", "customer_id"]].iloc[0]
    found = customer360.search(demo_store, ANALYST, name[0])
    assert not found.empty
    assert set(found["matched_value"]) & set(residential["name"]) == set()
    matched = found[found["matched_on"] == "name"]
    assert all("*" in value for value in matched["matched_value"])
    # A phone fragment from the hidden middle finds nothing; the whole number finds its customer,
    # through the phone field or the 95598 caller id, shown masked.
    assert customer360.search(demo_store, ANALYST, phone[3:8]).empty
    whole = customer360.search(demo_store, ANALYST, phone)
    row = whole[whole["customer_id"] == customer_id].iloc[0]
    assert row["matched_value"] == access.mask_phone(phone)
    assert (
        customer360.search(demo_store, access.SYSTEM, phone[3:8])["customer_id"]
        .isin([customer_id])
        .any()
    )


def test_the_95598_caller_id_matches_like_the_phone(demo_store):
    with demo_store.connect() as conn:
        caller, customer_id = conn.execute(
            sa.select(schema.id_map.c.external_id, schema.id_map.c.customer_id)
            .where(schema.id_map.c.system == "95598")
            .limit(1)
        ).one()
    assert not customer360.search(demo_store, access.SYSTEM, caller[3:8]).empty
    hidden = customer360.search(demo_store, ANALYST, caller[3:8])
    assert customer_id not in set(hidden["customer_id"])
    frame = pd.DataFrame({"system": ["95598", "contract"], "external_id": [caller, "HT0001"]})
    assert list(access.mask_frame(ANALYST, frame)["external_id"]) == [
        access.mask_phone(caller),
        "HT0001",
    ]


def test_the_tariff_picker_searches_names_as_the_viewer_sees_them(demo_store, archive):
    residential = archive[archive["customer_class"] == "residential"]
    name, customer_id = next(
        (name, customer_id)
        for name, customer_id in zip(residential["name"], residential["customer_id"], strict=True)
        if len(name) >= 3 and name[1] not in (name[0], name[-1])
    )
    granted = savings.find_customers(demo_store, access.SYSTEM, name[1], limit=10_000)
    assert customer_id in set(granted["customer_id"])
    hidden = savings.find_customers(demo_store, ANALYST, name[1], limit=10_000)
    assert customer_id not in set(hidden["customer_id"])
    seen = savings.find_customers(demo_store, ANALYST, name[0], limit=10_000)
    assert access.mask_name(name) in set(seen["name"])


# One masking rule for the data quality figures too

MANAGER = access.Viewer("m", "manager")


@pytest.fixture
def quality_store(demo_url, tmp_path) -> sa.Engine:
    """A copy of the demo store with a person's record behind every kind of quality drill-down."""
    target = tmp_path / "quality.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, target)
    engine = store_engine.connect(f"duckdb:///{target}")
    with engine.begin() as conn:
        conn.execute(
            schema.customers.insert(),
            [
                {
                    "customer_id": "9000000001",
                    "name": "赵钱孙",
                    "customer_class": "residential",
                    "region": "大冶市",
                    "tariff_code": "RES",
                    "phone": "13987654321",
                },
                {
                    "customer_id": "9000000002",
                    "name": "周吴郑",
                    "customer_class": "residential",
                    "region": "大冶市",
                    "tariff_code": "RES",
                    "phone": "13987654322",
                },
            ],
        )
        conn.execute(
            schema.id_map.insert(),
            [
                {"system": system, "external_id": external, "customer_id": customer_id}
                for system, external, customer_id in [
                    ("95598", "13987654321", "9000000001"),
                    ("95598", "13987654321", "9000000002"),
                    ("contract", "HT-X-1", "9000000002"),
                    ("contract", "HT-X-2", "9000000002"),
                ]
            ],
        )
    yield engine
    engine.dispose()


def test_quality_drill_downs_and_id_conflicts_mask_like_customer_360(quality_store):
    names = {"赵钱孙", "周吴郑"}
    phone = "13987654321"
    shown = []
    for figure in quality.report(quality_store, MANAGER).itertuples():
        source = figure.source_system if isinstance(figure.source_system, str) else None
        shown.append(
            quality.drill_down(quality_store, MANAGER, figure.metric, figure.table_name, source)
        )
    shown += list(quality.id_conflicts(quality_store, MANAGER).values())
    cells = {str(value) for frame in shown for value in frame.to_numpy().ravel()}
    assert cells & names == set()
    assert phone not in cells and access.mask_phone(phone) in cells
    assert {"赵*孙", "周*郑"} <= cells
    # With the grant the same figures show the fields in the clear.
    granted = access.Viewer("a", "administrator", contact_grant=True)
    clear = quality.id_conflicts(quality_store, granted)
    assert phone in set(clear["shared_external_ids"]["external_id"])
    assert "周吴郑" in set(clear["multiple_contracts"]["name"])
