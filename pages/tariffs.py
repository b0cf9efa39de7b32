"""Tariff savings (电价测算): one customer's bill, load-shift what-if, plans, basis, power factor,
what the customer can do; and all customers ranked by attainable saving."""

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import access, errors, ingest, savings, tariffs
from ui import charts, downloads, formatting, session

t = session.t
viewer = session.require_page("pages/tariffs.py")
BILL_COLUMNS = [
    "period",
    "kwh_total",
    "charge_critical_cny",
    "charge_peak_cny",
    "charge_flat_cny",
    "charge_valley_cny",
    "tier1_cny",
    "tier2_cny",
    "tier3_cny",
    "energy_charge_cny",
    "basic_charge_cny",
    "power_factor",
    "pf_adjustment_cny",
    "amount_cny",
]


@st.cache_data(show_spinner=False)
def _catalog() -> dict[str, tariffs.Tariff]:
    return tariffs.load_catalog()


@session.cached
def _find(who: access.Viewer, text: str) -> pd.DataFrame:
    return savings.find_customers(session.engine(), who, text)


@session.cached
def _customer(who: access.Viewer, customer_id: str):
    return savings.customer_readings(session.engine(), who, customer_id)


# The ranking covers the whole store and is the same for everyone: it is computed once per data
# version and shared by every session, then cut to each viewer's scope and masked.
@session.cached(max_entries=2)
def _profile() -> savings.LoadProfile:
    return savings.load_profile(session.engine(), _catalog())


@session.cached(max_entries=8, hash_funcs={savings.Assumptions: hash})
def _ranking(assumptions: savings.Assumptions) -> pd.DataFrame:
    return savings.rank_store(session.engine(), assumptions, _catalog(), profile=_profile())


def _money(value: float) -> str:
    return f"¥{value:,.2f}"


def _label(name: str) -> str:
    return t(f"tariffs.col.{name}")


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=_label)


def _table(frame: pd.DataFrame, **formats) -> None:
    """A table with the reader's column names, money and energy formatted by their unit."""
    st.dataframe(
        _labelled(frame),
        hide_index=True,
        width="stretch",
        column_config={**formatting.table_formats(frame.columns, _label), **formats},
    )


def _tariff_name(code: str) -> str:
    catalog = _catalog()
    return catalog[code].label(session.language()) if code in catalog else code


def _load_from_store() -> tuple[pd.DataFrame, dict] | None:
    text = st.text_input(t("tariffs.search"), key="tariff_search")
    found = _find(viewer, text)
    if found.empty:
        st.info(t("tariffs.no_customers"))
        return None
    labels = {
        row.customer_id: f"{row.customer_id} · {row.name} · {_tariff_name(row.tariff_code)}"
        for row in found.itertuples()
    }
    customer_id = st.selectbox(
        t("tariffs.customer"), list(labels), format_func=labels.get, key="tariff_customer"
    )
    customer, readings = _customer(viewer, customer_id)
    st.caption(t("tariffs.priced_months", months=savings.MONTHS_RANKED))
    return readings, customer


def _load_from_upload() -> tuple[pd.DataFrame, dict] | None:
    upload = st.file_uploader(
        t("tariffs.upload"), type=["csv", "xlsx", "parquet"], help=t("tariffs.upload_help")
    )
    customer = _customer_inputs("upload")
    if upload is None:
        st.info(t("tariffs.upload_help"))
        return None
    try:
        readings = ingest.read_readings(
            upload, upload.name, capacity_kva=customer["contract_capacity_kva"]
        )
    except errors.UserError as error:
        session.show_error(error)
        return None
    # Validated once here: every what-if below reuses the clean readings.
    return tariffs.clean_readings(readings, upload.name), customer


def _load_typical() -> tuple[pd.DataFrame, dict]:
    customer = _customer_inputs("profile")
    left, right = st.columns(2)
    annual = left.number_input(
        t("tariffs.annual_kwh"), min_value=1.0, value=50_000.0, step=1_000.0, key="profile_kwh"
    )
    year = right.number_input(
        t("tariffs.profile_year"),
        min_value=2004,
        max_value=2030,
        value=dt.date.today().year - 1,
        key="profile_year",
    )
    readings = savings.typical_readings(customer["customer_class"], float(annual), int(year))
    return readings, customer


def _customer_inputs(key: str) -> dict:
    catalog = _catalog()
    left, middle, right = st.columns(3)
    customer_class = left.selectbox(
        t("tariffs.class"),
        tariffs.CUSTOMER_CLASSES,
        index=1,
        format_func=lambda name: t(f"domain.customer_class.{name}"),
        key=f"{key}_class",
    )
    capacity = middle.number_input(
        t("tariffs.capacity"), min_value=0.0, value=200.0, step=10.0, key=f"{key}_capacity"
    )
    codes = tariffs.codes_for_class(catalog, customer_class)
    code = right.selectbox(
        t("tariffs.tariff"), codes, format_func=_tariff_name, key=f"{key}_tariff"
    )
    return {
        "customer_class": customer_class,
        "tariff_code": code,
        "contract_capacity_kva": capacity or None,
    }


def _period_chart(whatif: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for period in tariffs.PERIODS:
        before = whatif[f"kwh_{period}_before"].sum()
        after = whatif[f"kwh_{period}_after"].sum()
        figure.add_bar(
            name=t(f"domain.period.{period}"),
            x=[t("tariffs.before"), t("tariffs.after")],
            y=[before, after],
            marker_color=tariffs.PERIOD_COLOURS[period],
        )
    figure.update_layout(
        barmode="stack",
        height=360,
        yaxis_title=formatting.unit("kwh", session.language()),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title=t("tariffs.chart_title"),
    )
    return figure


def _action_text(action: savings.Action) -> str:
    figures = action.figures
    if action.option == "shift":
        return t(
            "tariffs.action.shift",
            share=f"{figures['share']:.0%}",
            kwh=f"{figures['shifted_kwh']:,.0f}",
            peak_share=f"{figures['peak_share']:.0%}",
        )
    if action.option == "switch":
        basis = figures.get("basic_basis")
        text = t("tariffs.action.switch", tariff=_tariff_name(figures["tariff_code"]))
        if isinstance(basis, str):
            text += t("tariffs.action.with_basis", basis=t(f"tariffs.basis_{basis}"))
        return text
    if action.option == "basis":
        return t("tariffs.action.basis", basis=t(f"tariffs.basis_{figures['basic_basis']}"))
    return t(
        "tariffs.action.compensation",
        kvar=f"{figures['kvar']:,.0f}",
        power_factor=f"{figures['power_factor']:.2f}",
        investment=_money(figures["investment_cny"]),
        years=f"{figures['payback_years']:.1f}",
    )


def _actions(result: savings.CustomerSavings) -> None:
    """What the customer can do, best first: the figures the ranking has for them."""
    st.subheader(t("tariffs.actions_header"))
    annual = result.figures.get("annual_bill_cny")
    if annual is None or pd.isna(annual):
        st.info(t("tariffs.actions_unpriced"))
        return
    if not result.actions:
        st.info(t("tariffs.reason.none"))
        return
    rows = pd.DataFrame(
        {
            "action": [_action_text(action) for action in result.actions],
            "saving_cny": [action.saving_cny for action in result.actions],
            "saving_share": [action.saving_cny / annual for action in result.actions],
        }
    )
    st.caption(t("tariffs.actions_caption", bill=_money(annual)))
    _table(rows, **{_label("saving_share"): st.column_config.NumberColumn(format="percent")})


def _customer_view() -> None:
    sources = ["store", "upload", "profile"]
    source = st.radio(
        t("tariffs.source"),
        sources,
        format_func=lambda name: t(f"tariffs.source_{name}"),
        horizontal=True,
        key="tariff_source",
    )
    loaded = {"store": _load_from_store, "upload": _load_from_upload, "profile": _load_typical}[
        source
    ]()
    if loaded is None:
        return
    readings, customer = loaded
    customer_class = customer["customer_class"]
    current_code = customer["tariff_code"]
    capacity = customer["contract_capacity_kva"]
    catalog = _catalog()
    if current_code not in catalog:
        st.error(t("tariffs.unknown_tariff", code=current_code))
        return
    tariff = catalog[current_code]
    basis = None
    declared = None
    if tariff.kind == "two_part":
        left, right = st.columns(2)
        basis = left.radio(
            t("tariffs.basis"),
            list(tariffs.BASIC_BASES),
            format_func=lambda name: t(f"tariffs.basis_{name}"),
            horizontal=True,
            key="tariff_basis",
        )
        declared_value = right.number_input(
            t("tariffs.declared"), min_value=0.0, value=0.0, step=10.0, key="tariff_declared"
        )
        declared = declared_value or None

    usage = tariffs.monthly_usage(readings, tariff, capacity)
    if basis is not None:
        usage["basic_basis"] = basis
    if declared is not None:
        usage["declared_demand_kw"] = declared
    bills = tariffs.bill_usage(tariff, usage)
    total = float(bills["amount_cny"].sum())
    st.subheader(t("tariffs.current_bill", tariff=tariff.label(session.language())))
    first, second, third = st.columns(3)
    first.metric(t("tariffs.total_bill"), _money(total))
    second.metric(t("tariffs.total_kwh"), f"{bills['kwh_total'].sum():,.0f}")
    third.metric(t("tariffs.average_price"), f"{total / max(bills['kwh_total'].sum(), 1):.4f}")
    shown = [column for column in BILL_COLUMNS if column in bills.columns]
    _table(bills[shown])
    downloads.offer(
        t("tariffs.download_bills"), bills, f"bills_{tariff.code}", key="download_bills"
    )

    _actions(savings.savings_of_readings(readings, customer, catalog=catalog))

    st.subheader(t("tariffs.shift_header"))
    if tariff.kind in ("flat", "tiered"):
        st.info(t("tariffs.shift_not_time_of_use"))
    left, middle, right = st.columns(3)
    share = left.slider(t("tariffs.shift_share"), 0, 100, 20, step=5, key="shift_share") / 100
    target = middle.radio(
        t("tariffs.shift_target"),
        ["valley", "flat"],
        format_func=lambda name: t(f"domain.period.{name}"),
        horizontal=True,
        key="shift_target",
    )
    capped = right.checkbox(t("tariffs.cap_to_shape"), value=True, key="shift_cap")
    whatif = savings.shift_whatif(tariff, usage, share, target, capped)
    first, second = st.columns(2)
    first.metric(t("tariffs.saving_total"), _money(float(whatif["saving_cny"].sum())))
    second.metric(t("tariffs.shifted_kwh"), f"{whatif['shifted_kwh'].sum():,.0f}")
    charts.show(_period_chart(whatif), key="tariffs_period_chart")
    _table(whatif[["period", "shifted_kwh", "amount_before_cny", "amount_after_cny", "saving_cny"]])

    st.subheader(t("tariffs.plans_header"))
    plans = savings.compare_plans(
        readings, catalog, customer_class, current_code, capacity, declared
    )
    plans["name"] = plans["code"].map(_tariff_name)
    plans["basic_basis"] = plans["basic_basis"].map(
        lambda name: t(f"tariffs.basis_{name}") if isinstance(name, str) else ""
    )
    _table(plans[["name", "basic_basis", "amount_cny", "saving_cny", "current"]])

    if tariff.kind == "two_part" and capacity and usage["max_demand_kw"].notna().all():
        st.subheader(t("tariffs.basis_header"))
        comparison = savings.basis_comparison(tariff, usage, declared)
        st.metric(t("tariffs.demand_saving"), _money(float(comparison["demand_saving_cny"].sum())))
        _table(
            comparison[
                [
                    "period",
                    "max_demand_kw",
                    "capacity_basic_cny",
                    "demand_basic_cny",
                    "demand_saving_cny",
                ]
            ]
        )

    if tariff.power_factor_standard is not None and usage["kvarh"].notna().any():
        _compensation(tariff, usage)


def _compensation(tariff: tariffs.Tariff, usage: pd.DataFrame) -> None:
    st.subheader(t("tariffs.compensation_header"))
    left, right = st.columns(2)
    target_pf = left.slider(t("tariffs.target_pf"), 0.80, 1.00, 0.95, step=0.01, key="target_pf")
    investment = right.number_input(
        t("tariffs.investment"), min_value=0.0, value=0.0, step=1000.0, key="investment"
    )
    result = savings.compensation_payback(
        tariff, usage, target_pf, investment_cny=investment or None
    )
    first, second, third = st.columns(3)
    first.metric(t("tariffs.annual_saving"), _money(result.annual_saving_cny))
    second.metric(t("tariffs.required_kvar"), f"{result.required_kvar:,.0f}")
    payback = (
        t("tariffs.payback_never")
        if result.payback_years == float("inf")
        else t("tariffs.payback_years", years=f"{result.payback_years:.1f}")
    )
    third.metric(t("tariffs.payback"), payback)
    st.caption(t("tariffs.investment_used", amount=_money(result.investment_cny)))
    if result.no_payback_reason is not None:
        st.info(t(f"savings.no_payback.{result.no_payback_reason}", **result.no_payback_values))


def _reason(row: pd.Series) -> str:
    option = row["best_option"]
    if option == "switch":
        return t("tariffs.reason.switch", tariff=_tariff_name(row["switch_tariff_code"]))
    if option == "basis":
        return t("tariffs.reason.basis", basis=t(f"tariffs.basis_{row['switch_basic_basis']}"))
    if option == "compensation":
        return t(
            "tariffs.reason.compensation",
            kvar=f"{row['compensation_kvar']:,.0f}",
            years=f"{row['compensation_payback_years']:.1f}",
        )
    if option == "shift":
        return t("tariffs.reason.shift", kwh=f"{row['shifted_kwh']:,.0f}")
    return t("tariffs.reason.none")


def _store_ranking(assumptions: savings.Assumptions) -> pd.DataFrame:
    """The store's ranking for this viewer, reading the profile and pricing with progress shown."""
    progress = st.progress(0.0, text=t("tariffs.progress_profile"))
    _profile()
    progress.progress(0.6, text=t("tariffs.progress_pricing"))
    ranking = _ranking(assumptions)
    progress.empty()
    return savings.visible_ranking(session.engine(), viewer, ranking)


def _batch_view() -> None:
    st.caption(t("tariffs.batch_intro"))
    left, middle, right = st.columns(3)
    share = left.slider(t("tariffs.shift_share"), 0, 100, 20, step=5, key="batch_share") / 100
    target_pf = middle.slider(t("tariffs.target_pf"), 0.80, 1.00, 0.95, step=0.01, key="batch_pf")
    payback = right.number_input(
        t("tariffs.max_payback"), min_value=0.5, value=3.0, step=0.5, key="batch_payback"
    )
    assumptions = savings.Assumptions(
        shift_share=share, target_power_factor=target_pf, max_payback_years=payback
    )
    ranking = _store_ranking(assumptions)
    if ranking.empty:
        st.info(t("tariffs.no_customers"))
        return
    first, second = st.columns(2)
    first.metric(
        t("tariffs.customers_with_saving"), f"{(ranking['best_option'] != 'none').sum():,}"
    )
    second.metric(t("tariffs.total_saving"), _money(float(ranking["attainable_saving_cny"].sum())))
    left, middle, right = st.columns(3)
    regions = left.multiselect(
        t("tariffs.filter_region"), sorted(ranking["region"].dropna().unique()), key="t_regions"
    )
    classes = middle.multiselect(
        t("tariffs.filter_class"),
        [name for name in tariffs.CUSTOMER_CLASSES if name in set(ranking["customer_class"])],
        format_func=lambda name: t(f"domain.customer_class.{name}"),
        key="t_classes",
    )
    managers = right.multiselect(
        t("tariffs.filter_manager"),
        sorted(ranking["manager_id"].dropna().unique()),
        key="t_managers",
    )
    left, right = st.columns(2)
    top = left.number_input(t("tariffs.top_n"), min_value=1, value=100, step=10, key="top_n")
    minimum = right.number_input(
        t("tariffs.min_saving"), min_value=0.0, value=100.0, step=100.0, key="min_saving"
    )
    targets = savings.target_list(ranking, int(top), float(minimum), regions, classes, managers)
    shown = targets.assign(
        reason=targets.apply(_reason, axis=1) if len(targets) else pd.Series(dtype=str),
        tariff_code=targets["tariff_code"].map(_tariff_name),
        customer_class=targets["customer_class"].map(
            lambda name: t(f"domain.customer_class.{name}")
        ),
    )[
        [
            "customer_id",
            "name",
            "customer_class",
            "region",
            "manager_id",
            "tariff_code",
            "annual_bill_cny",
            "attainable_saving_cny",
            "saving_share",
            "reason",
        ]
    ]
    _table(
        shown,
        **{t("tariffs.col.saving_share"): st.column_config.NumberColumn(format="percent")},
    )
    downloads.offer(
        t("tariffs.download_targets"),
        shown,
        "tariff_savings_targets",
        key="download_targets",
        labels=_label,
    )


def _guarded(view) -> None:
    try:
        view()
    except savings.NoReadingsError as error:
        st.info(error.text(session.language()))
    except errors.UserError as error:
        session.show_error(error)
    except (ValueError, FileNotFoundError) as error:
        # The readings file reader's own messages.
        st.error(t("tariffs.input_error", reason=str(error)))


st.title(t("tariffs.title"))
st.caption(t("tariffs.intro"))
# The ranking is priced only while its tab is open, so one customer's figures come at once.
customer_tab, batch_tab = st.tabs(
    [t("tariffs.tab_customer"), t("tariffs.tab_batch")], key="tariff_tab", on_change="rerun"
)
with customer_tab:
    if customer_tab.open:
        _guarded(_customer_view)
with batch_tab:
    if batch_tab.open:
        _guarded(_batch_view)
