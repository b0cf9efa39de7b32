"""Tags: rules from the configuration, reasons in words, and the demo's planted archetypes."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, features, i18n, tags
from core.demo import truth
from core.store import engine as store_engine
from core.store import schema


@pytest.fixture(scope="module")
def tagged(featured_demo_url) -> pd.DataFrame:
    engine = store_engine.connect(featured_demo_url)
    assigned = tags.assign(engine, access.SYSTEM)
    with engine.connect() as conn:
        planted = pd.read_sql(sa.select(truth.customers), conn)
        shifted = pd.read_sql(sa.select(truth.energy_shifts.c.customer_id).distinct(), conn)
    engine.dispose()
    planted["shifted_to_valley"] = planted["customer_id"].isin(shifted["customer_id"])
    return assigned.merge(planted, on="customer_id", suffixes=("", "_truth"))


def test_every_rule_has_a_name_in_both_languages():
    rules = tags.load_rules()
    assert {rule.family for rule in rules} == set(tags.FAMILIES)
    for rule in rules:
        for language in ("en", "zh"):
            assert tags.tag_name(rule, language) != f"tags.name.{rule.name}"
            assert i18n.translate(f"tags.feature.{rule.feature}", language) != (
                f"tags.feature.{rule.feature}"
            )


def test_ev_owners_carry_the_night_charging_tag(tagged):
    ev = tagged[tagged["archetype"] == "res_ev"]
    # Converted members of the time-of-use campaign moved peak energy into the night on purpose.
    others = tagged[(tagged["archetype"] != "res_ev") & ~tagged["shifted_to_valley"]]
    assert len(ev) > 0
    assert ev["night_charging"].all()
    assert not others["night_charging"].any()


@pytest.mark.parametrize(
    ("archetype", "tag"),
    [
        ("ind_three_shift", "around_the_clock"),
        ("agr_irrigation", "seasonal_operation"),
        ("res_heating", "heating_sensitive"),
        ("com_office", "weekday_heavy"),
    ],
)
def test_planted_archetypes_carry_their_load_tags(tagged, archetype, tag):
    members = tagged[tagged["archetype"] == archetype]
    assert len(members) > 0
    assert members[tag].mean() >= 0.8
    # And the tag is specific: most customers of the other residential archetypes lack it.
    residential_others = tagged[
        tagged["archetype"].str.startswith("res_") & (tagged["archetype"] != archetype)
    ]
    assert residential_others[tag].mean() <= 0.1


def test_planted_late_payers_are_tagged(tagged):
    late = tagged[tagged["late_payer_truth"]]
    punctual = tagged[~tagged["late_payer_truth"]]
    assert len(late) > 0
    assert late["late_payer"].mean() >= 0.6
    assert punctual["late_payer"].mean() <= 0.05


def test_reasons_name_value_threshold_and_tag(featured_demo_store, tagged):
    customer_id = tagged.loc[tagged["night_charging"], "customer_id"].iloc[0]
    hits = tags.for_customer(featured_demo_store, access.SYSTEM, customer_id)
    hit = next(hit for hit in hits if hit.rule.name == "night_charging")
    row = features.for_customer(featured_demo_store, access.SYSTEM, customer_id)
    assert hit.value == pytest.approx(row["night_day_ratio"])
    english = tags.reason(hit, "en")
    assert english.startswith(f"Night/day ratio {row['night_day_ratio']:.2f} — above the 1.00")
    assert "'Night charging'" in english
    assert "夜间充电" in tags.reason(hit, "zh")
    families = [hit.rule.family for hit in hits]
    assert families == sorted(families, key=tags.FAMILIES.index)


def test_percent_reason_matches_the_documented_form():
    rule = next(rule for rule in tags.load_rules() if rule.name == "peak_heavy")
    text = tags.reason(tags.Hit(rule, 0.48), "en")
    assert text == "Peak share 48% — above the 45% threshold for 'Peak-heavy'"


def test_a_customer_out_of_scope_has_no_tags(featured_demo_store, tagged):
    customer_id = tagged["customer_id"].iloc[0]
    with featured_demo_store.connect() as conn:
        region = conn.execute(
            sa.select(schema.customers.c.region).where(
                schema.customers.c.customer_id == customer_id
            )
        ).scalar_one()
    elsewhere = access.Viewer(user_name="x", role="analyst", regions=(f"not {region}",))
    assert tags.for_customer(featured_demo_store, elsewhere, customer_id) == []


def test_counts_agree_with_assign(featured_demo_store, tagged):
    counted = tags.counts(featured_demo_store, access.SYSTEM)
    for rule in tags.load_rules():
        assert counted[rule.name] == int(tagged[rule.name].sum())


def test_tenure_is_measured_to_the_end_of_the_feature_period(store):
    customer = {
        "customer_id": "T1",
        "name": "T",
        "customer_class": "commercial",
        "region": "R",
        "tariff_code": "COM_FLAT",
        "open_date": dt.date(2014, 6, 1),
        "contract_capacity_kva": 400.0,
    }
    with store.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, pd.DataFrame([customer]))
    features.refresh(store, period_end=dt.date(2025, 1, 1))
    names = {hit.rule.name: hit for hit in tags.for_customer(store, access.SYSTEM, "T1")}
    assert names["long_standing"].value == pytest.approx(
        (dt.date(2025, 1, 1) - dt.date(2014, 6, 1)).days / 365.25
    )
    assert names["large_capacity"].value == pytest.approx(400.0)
    # No readings, no online contacts: offline only; nothing else about its load.
    assert "offline_only" in names
    assert "peak_heavy" not in names


def test_bad_rules_file_names_the_rule_and_field(tmp_path):
    path = tmp_path / "tags.toml"
    path.write_text(
        '[[tags]]\nname = "x"\nfamily = "load"\nfeature = "peak_shar"\nop = ">="\n'
        'threshold = 1\nunit = "percent"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"tag 1 \(x\): feature 'peak_shar'"):
        tags.load_rules(path)
    path.write_text(
        '[[tags]]\nname = "x"\nfamily = "load"\nfeature = "peak_share"\nop = ">"\n'
        'threshold = 1\nunit = "percent"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="op '>' must be one of"):
        tags.load_rules(path)
