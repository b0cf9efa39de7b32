"""Row scope and masking in what other parts of the product return: search, archive, rankings."""

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, customer360, savings
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
