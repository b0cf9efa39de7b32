"""Segment economics: figures aggregated by the store, bill impact priced by the tariff engine."""

import shutil

import numpy as np
import pytest
import sqlalchemy as sa

from core import access, features, savings, segments
from core.segments import economics
from core.store import engine as store_engine


@pytest.fixture(scope="module")
def segmented(featured_demo_url, tmp_path_factory) -> tuple[str, segments.Run]:
    target = tmp_path_factory.mktemp("economics") / "economics.duckdb"
    shutil.copyfile(sa.make_url(featured_demo_url).database, target)
    url = f"duckdb:///{target}"
    engine = store_engine.connect(url)
    run = segments.fit(engine, seed=3, k=4)
    engine.dispose()
    return url, run


@pytest.fixture
def engine(segmented) -> sa.Engine:
    opened = store_engine.connect(segmented[0])
    yield opened
    opened.dispose()


def test_the_figures_of_each_segment_are_those_of_its_members(engine, segmented):
    _, run = segmented
    with engine.connect() as conn:
        per_segment, total = economics.summary(conn, access.SYSTEM, run.run_id)
        members = segments.members(conn, access.SYSTEM, run.run_id)
    table = features.table(engine, access.SYSTEM).merge(members[["customer_id", "segment_id"]])
    for row in per_segment.itertuples(index=False):
        own = table[table["segment_id"] == row.segment_id]
        assert row.customers == len(own)
        assert row.annual_kwh == pytest.approx(own["annual_kwh"].sum())
        assert row.annual_revenue_cny == pytest.approx(own["annual_revenue_cny"].sum())
        assert row.arrears_cny == pytest.approx(own["arrears_cny"].sum())
        assert row.complaint_rate == pytest.approx((own["complaints"] > 0).mean())
        assert row.online_share == pytest.approx(own["online_share"].mean())
    assert total["customers"] == len(table) == per_segment["customers"].sum()
    assert total["annual_revenue_cny"] == pytest.approx(per_segment["annual_revenue_cny"].sum())


def test_a_scoped_viewer_gets_the_figures_of_their_customers(engine, segmented):
    _, run = segmented
    with engine.connect() as conn:
        region = conn.execute(sa.text("SELECT region FROM customers LIMIT 1")).scalar()
        district = access.Viewer("d", "manager", regions=(region,))
        _, everyone = economics.summary(conn, access.SYSTEM, run.run_id)
        _, theirs = economics.summary(conn, district, run.run_id)
        in_region = conn.execute(
            sa.text("SELECT COUNT(*) FROM customers WHERE region = :r"), {"r": region}
        ).scalar()
    assert theirs["customers"] == in_region < everyone["customers"]


def test_the_bill_impact_is_priced_by_the_tariff_engine(engine, segmented):
    _, run = segmented
    residential = next(
        segment
        for segment in run.segments
        if max(segment.classes, key=segment.classes.get) == "residential"
    )
    impact = economics.bill_impact(engine, access.SYSTEM, run.run_id, residential.segment_id)
    assert not impact.empty
    assert {"RES_TOU"} <= set(impact["tariff_code"])
    ranking = savings.rank_store(engine)
    with engine.connect() as conn:
        members = segments.members(conn, access.SYSTEM, run.run_id, [residential.segment_id])
    bills = ranking.set_index("customer_id").loc[members["customer_id"], "annual_bill_cny"]
    for row in impact.itertuples(index=False):
        assert row.change_cny == pytest.approx(row.new_bill_cny - row.current_bill_cny, abs=0.02)
        assert row.savers + row.payers <= row.priced - row.already_on
        assert row.priced <= row.eligible <= len(members)
        # The current bills are the savings ranking's, customer by customer.
        if row.priced == len(members):
            assert row.current_bill_cny == pytest.approx(bills.sum(), abs=0.01 * len(members))
    assert (impact["priced"] == len(members)).any()
    ordered = impact["change_cny"].to_numpy()
    assert np.all(ordered[:-1] <= ordered[1:])


def test_an_empty_segment_has_no_impact(engine, segmented):
    _, run = segmented
    nobody = access.Viewer("nobody", "customer_manager", manager_id="NO-SUCH-MANAGER")
    impact = economics.bill_impact(engine, nobody, run.run_id, run.segments[0].segment_id)
    assert impact.empty and list(impact.columns) == list(economics.IMPACT_COLUMNS)
