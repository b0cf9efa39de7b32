"""Target lists: saved in the writer's scope and audited, read scoped and masked, everywhere."""

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, target_lists
from core.store import engine as store_engine
from core.store import schema

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3", "C4"],
        "name": ["张三明", "李四", "鑫源机械有限公司", "王五"],
        "customer_class": ["residential", "residential", "industrial", "residential"],
        "region": ["East", "East", "East", "West"],
        "transformer_area": ["E-01", "E-02", "E-01", "W-01"],
        "tariff_code": ["RES_TIER"] * 4,
        "manager_id": ["M1", "M2", "M1", "M3"],
        "phone": ["13812345678", "13987654321", "02712345678", "13700001111"],
    }
)
EAST_ANALYST = access.Viewer("east", "analyst", regions=("East",))
EAST_MANAGER = access.Viewer("boss", "manager", regions=("East",), contact_grant=True)
WEST_ANALYST = access.Viewer("west", "analyst", regions=("West",))


@pytest.fixture
def archive(store) -> sa.Engine:
    with store.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, CUSTOMERS)
    return store


def _frame(*ids: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": list(ids),
            "segment": ["价格敏感可移峰型"] * len(ids),
            "reason": [f"peak share 4{index}% vs 29% overall" for index in range(len(ids))],
            "offer": ["RES_TOU"] * len(ids),
        }
    )


def test_a_saved_list_is_read_back_scoped_and_masked(archive):
    with archive.begin() as conn:
        list_id = target_lists.save(
            conn,
            EAST_ANALYST,
            "TOU promotion, East",
            _frame("C1", "C2", "C3", "C1"),
            source="segment",
            source_ref="run 3 / segment 2",
            note="first wave",
        )
    with archive.connect() as conn:
        lists = target_lists.target_lists(conn, EAST_ANALYST)
        members = target_lists.members(conn, EAST_ANALYST, list_id)
        granted = target_lists.members(conn, EAST_MANAGER, list_id)
        log = access.audit_entries(conn, access.SYSTEM, action="target_list_saved")
    assert lists[["id", "name", "source_kind", "source_ref", "customers", "visible"]].to_dict(
        "records"
    ) == [
        {
            "id": list_id,
            "name": "TOU promotion, East",
            "source_kind": "segment",
            "source_ref": "run 3 / segment 2",
            "customers": 3,
            "visible": 3,
        }
    ]
    assert lists.loc[0, "created_by"] == "east" and lists.loc[0, "note"] == "first wave"
    assert members["customer_id"].tolist() == ["C1", "C2", "C3"]
    # The analyst has no contact grant: personal names and every phone are masked, a company's
    # name is business information and stays.
    assert members["phone"].tolist() == ["138****5678", "139****4321", "027****5678"]
    assert members["name"].tolist() == ["张*明", "李*", "鑫源机械有限公司"]
    assert granted["phone"].tolist() == ["13812345678", "13987654321", "02712345678"]
    assert members.loc[0, "reason"] == "peak share 40% vs 29% overall"
    assert members["offer"].eq("RES_TOU").all() and members["segment"].eq("价格敏感可移峰型").all()
    assert len(log) == 1 and log.loc[0, "user_name"] == "east"
    assert log.loc[0, "target"] == f"target_list:{list_id}"


def test_another_scope_sees_only_its_own_members(archive):
    with archive.begin() as conn:
        everyone = target_lists.save(
            conn, access.SYSTEM, "All", _frame("C1", "C4"), source="rule", source_ref="R1"
        )
        east_only = target_lists.save(conn, EAST_ANALYST, "East", _frame("C2"), source="file")
    with archive.connect() as conn:
        west_lists = target_lists.target_lists(conn, WEST_ANALYST)
        west_members = target_lists.members(conn, WEST_ANALYST, everyone)
        nothing = target_lists.members(conn, WEST_ANALYST, east_only)
    assert west_lists["id"].tolist() == [everyone]
    assert west_lists.loc[0, "customers"] == 2 and west_lists.loc[0, "visible"] == 1
    assert west_members["customer_id"].tolist() == ["C4"]
    assert nothing.empty


def test_a_list_with_customers_outside_the_scope_is_refused_whole(archive):
    with archive.begin() as conn, pytest.raises(target_lists.TargetListError) as refused:
        target_lists.save(conn, WEST_ANALYST, "Mixed", _frame("C4", "C1", "C9"), source="file")
    assert refused.value.key == "target_lists.out_of_scope"
    assert refused.value.values == {"count": 2, "examples": "C1, C9"}
    assert "C1, C9" in refused.value.text("zh")
    with archive.connect() as conn:
        for table in (schema.target_lists, schema.target_list_members):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


@pytest.mark.parametrize(
    ("name", "frame", "source", "key"),
    [
        ("  ", _frame("C1"), "segment", "target_lists.name_missing"),
        ("x" * 201, _frame("C1"), "segment", "target_lists.name_too_long"),
        ("List", _frame("C1"), "campaign", "target_lists.unknown_source"),
        ("List", pd.DataFrame({"id": ["C1"]}), "segment", "target_lists.no_customer_column"),
        ("List", _frame(), "segment", "target_lists.empty"),
    ],
)
def test_a_list_that_cannot_be_saved_says_why(archive, name, frame, source, key):
    with archive.begin() as conn, pytest.raises(target_lists.TargetListError) as refused:
        target_lists.save(conn, EAST_ANALYST, name, frame, source=source)
    assert refused.value.key == key


def test_a_frame_with_only_ids_is_saved_without_reasons(archive):
    with archive.begin() as conn:
        list_id = target_lists.save(
            conn, EAST_ANALYST, "Bare", pd.DataFrame({"customer_id": ["C3"]}), source="file"
        )
    with archive.connect() as conn:
        members = target_lists.members(conn, EAST_ANALYST, list_id)
    assert members["customer_id"].tolist() == ["C3"]
    assert members[["segment", "reason", "offer"]].isna().all(axis=None)
