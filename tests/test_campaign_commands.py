"""``python -m core evaluate-campaign``: the JSON contract, alone and with a store; bad files."""

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from core import cli
from core.store import schema

RATE_KEYS = [
    "treatment_n",
    "control_n",
    "treatment_rate",
    "control_rate",
    "treatment_ci",
    "control_ci",
    "abs_lift",
    "abs_lift_ci",
    "rel_lift",
    "rel_lift_ci",
    "p_value",
    "p_value_adjusted",
    "incremental",
]


def _file(tmp_path, rows: list[dict], name: str = "members.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _members(treated: int, held: int, treated_converted: int, held_converted: int) -> list[dict]:
    rows = []
    for index in range(treated):
        rows.append(
            {
                "campaign_id": "T1",
                "customer_id": f"A{index:05d}",
                "arm": "treatment",
                "contacted_at": "2025-03-01 09:00",
                "responded_at": "2025-03-01 12:00" if index < 2 * treated_converted else "",
                "converted_at": "2025-03-03 10:00" if index < treated_converted else "",
                "value_cny": "50" if index < treated_converted else "",
            }
        )
    for index in range(held):
        rows.append(
            {
                "campaign_id": "T1",
                "customer_id": f"B{index:05d}",
                "arm": "control",
                "contacted_at": "",
                "responded_at": "",
                "converted_at": "2025-03-05 10:00" if index < held_converted else "",
                "value_cny": "50" if index < held_converted else "",
            }
        )
    return rows


def _run(capsys, *arguments) -> tuple[int, str, str]:
    code = cli.main(["evaluate-campaign", *map(str, arguments)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_file_alone_prints_exactly_the_contract(tmp_path, capsys):
    path = _file(tmp_path, _members(400, 100, 60, 5))
    code, out, _ = _run(capsys, "--members", path, "--json")
    assert code == 0
    shape = json.loads(out)
    [campaign] = shape["campaigns"]
    assert list(campaign) == ["campaign_id", "srm_p_value", "comparisons"]
    assert campaign["campaign_id"] == "T1"
    # No plan known: no sample-ratio figure.
    assert campaign["srm_p_value"] is None
    [comparison] = campaign["comparisons"]
    assert list(comparison) == ["arm", "control", "response", "conversion", "value"]
    assert comparison["arm"] == "treatment" and comparison["control"] == "control"
    conversion = comparison["conversion"]
    assert list(conversion) == RATE_KEYS == list(comparison["response"])
    # Rates are fractions, every member of an arm in its denominator.
    assert conversion["treatment_rate"] == pytest.approx(0.15)
    assert conversion["control_rate"] == pytest.approx(0.05)
    assert conversion["treatment_n"] == 400 and conversion["control_n"] == 100
    assert conversion["incremental"] == pytest.approx((0.15 - 0.05) * 400)
    low, high = conversion["abs_lift_ci"]
    assert low < conversion["abs_lift"] < high
    assert comparison["response"]["treatment_rate"] == pytest.approx(0.3)
    assert comparison["value"] == pytest.approx(
        {
            "treatment_per_customer": 60 * 50 / 400,
            "control_per_customer": 5 * 50 / 100,
            "incremental_total": (60 * 50 / 400 - 5 * 50 / 100) * 400,
        }
    )


def test_planned_shares_in_the_file_give_the_sample_ratio_check(tmp_path, capsys):
    rows = _members(1100, 900, 120, 60)
    for row in rows:
        row["planned_share"] = 0.5
    code, out, err = _run(capsys, "--members", _file(tmp_path, rows), "--json")
    assert code == 0
    [campaign] = json.loads(out)["campaigns"]
    assert campaign["srm_p_value"] < 0.001
    assert "sample-ratio mismatch" in err


@pytest.mark.parametrize(
    ("change", "reason_code", "column"),
    [
        ({"responded_at": "2025-02-28 09:00"}, "before", "responded_at"),
        (
            {"contacted_at": "", "responded_at": "2025-03-02 09:00"},
            "responded_without_contact",
            None,
        ),
        ({"customer_id": "A00000"}, "duplicate", None),
        ({"value_cny": "-3"}, "negative", "value_cny"),
        ({"converted_at": "someday"}, "not_date", "converted_at"),
    ],
)
def test_a_bad_file_is_refused_with_its_rows_and_reasons(
    tmp_path, capsys, change, reason_code, column
):
    rows = _members(60, 40, 10, 2)
    rows[5].update(change)
    code, out, err = _run(capsys, "--members", _file(tmp_path, rows), "--json")
    assert code == 1
    [problem] = json.loads(out)["rejected"]
    assert problem["row"] == 7 and problem["reason_code"] == reason_code
    if column is not None:
        assert problem["column"] == column
    assert "row 7" in err


def test_with_the_store_unknown_customers_and_arms_are_refused(demo_url, tmp_path, capsys):
    engine = sa.create_engine(demo_url)
    with engine.connect() as conn:
        stored = pd.DataFrame(
            conn.execute(
                sa.select(schema.campaign_members).where(
                    schema.campaign_members.c.campaign_id
                    == sa.select(
                        sa.func.min(schema.campaign_members.c.campaign_id)
                    ).scalar_subquery()
                )
            ).all(),
            columns=list(schema.campaign_members.c.keys()),
        )
    engine.dispose()
    stored.loc[0, "customer_id"] = "9999999999"
    stored.loc[1, "arm"] = "treatmnt"
    path = tmp_path / "stored.csv"
    stored.to_csv(path, index=False)
    code, out, _ = _run(capsys, "--members", path, "--database-url", demo_url, "--json")
    assert code == 1
    reasons = {(problem["row"], problem["reason_code"]) for problem in json.loads(out)["rejected"]}
    assert reasons == {(2, "unknown_customer"), (3, "unknown_arm")}
    # On its own the same file is the file's business: any customer, any arm name.
    code, out, _ = _run(capsys, "--members", path, "--json")
    assert code == 0


def test_with_the_store_balance_segments_and_energy_are_added(demo_url, tmp_path, capsys):
    engine = sa.create_engine(demo_url)
    with engine.connect() as conn:
        stored = pd.DataFrame(
            conn.execute(sa.select(schema.campaign_members)).all(),
            columns=list(schema.campaign_members.c.keys()),
        )
    engine.dispose()
    path = tmp_path / "all.csv"
    stored.to_csv(path, index=False)
    code, out, _ = _run(capsys, "--members", path, "--database-url", demo_url, "--json")
    assert code == 0
    campaigns = json.loads(out)["campaigns"]
    assert len(campaigns) == 3
    for campaign in campaigns:
        assert list(campaign)[:3] == ["campaign_id", "srm_p_value", "comparisons"]
        assert {"balance", "segments", "energy"} <= set(campaign)
        # The demo's plan is 80/20 and the draw kept to it.
        assert campaign["srm_p_value"] > 0.001
        features = {row["feature"] for row in campaign["balance"]}
        assert {"pre_kwh_per_day", "monthly_bill_cny", "tenure_years"} <= features
        assert campaign["segments"]
    by_id = {campaign["campaign_id"]: campaign for campaign in campaigns}
    # Only the time-of-use offer is an energy offer.
    energy = [campaign["energy"] for campaign in campaigns]
    assert sum(value is not None for value in energy) == 1
    assert by_id[min(by_id)]["energy"] is not None
