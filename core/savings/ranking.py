"""Every customer ranked by the annual saving one action could bring; target lists from it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, errors, features, tariffs
from core.savings import profiles
from core.savings.options import Assumptions, _compensated, _money_difference, shift_usage
from core.savings.profiles import LoadProfile, _among, _CodedProfile
from core.savings.store import ARCHIVE_COLUMNS, MONTHS_RANKED
from core.store import frames, schema
from core.tariffs import PERIODS, Tariff

OPTIONS = ("shift", "switch", "basis", "compensation", "none")
Option = Literal["shift", "switch", "basis", "compensation"]
RANKING_COLUMNS = (
    "customer_id",
    "name",
    "customer_class",
    "region",
    "manager_id",
    "tariff_code",
    "months",
    "annual_kwh",
    "annual_bill_cny",
    "peak_share",
    "shift_saving_cny",
    "shifted_kwh",
    "switch_saving_cny",
    "switch_tariff_code",
    "switch_basic_basis",
    "basis_saving_cny",
    "compensation_saving_cny",
    "compensation_kvar",
    "compensation_investment_cny",
    "compensation_payback_years",
    "best_option",
    "attainable_saving_cny",
    "saving_share",
)
# The figures of a ranking that are numbers (the others name a tariff, a basis, an option).
_NUMBERS = [
    name
    for name in RANKING_COLUMNS[6:]
    if name not in ("switch_tariff_code", "switch_basic_basis", "best_option")
]


def store_archive(engine: sa.Engine) -> pd.DataFrame:
    """Every customer's archive fields the ranking needs (:data:`ARCHIVE_COLUMNS`), unmasked.

    The ranking is computed once for the whole store and shared; :func:`visible_ranking` cuts it
    to a viewer's scope and masks it.
    """
    c = schema.customers
    with engine.connect() as conn:
        return frames.read_frame(conn, sa.select(*(c.c[name] for name in ARCHIVE_COLUMNS)))


def rank_store(
    engine: sa.Engine,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
    months: int = MONTHS_RANKED,
    profile: LoadProfile | None = None,
) -> pd.DataFrame:
    """Every customer of the store ranked by the annual saving one action could bring.

    The result holds every customer, unmasked: compute it once per data version and cut it to
    each viewer with :func:`visible_ranking`.

    Args:
        engine: the store.
        assumptions: the stated assumptions (shift share, target power factor, costs).
        catalog: the tariff catalog; the default file when None.
        months: the latest calendar months of readings used (annualized when fewer).
        profile: the store's load profile when already read (:func:`load_profile`).

    Returns:
        One row per customer with :data:`RANKING_COLUMNS`, largest saving first.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    if profile is None:
        profile = profiles.load_profile(engine, catalog, months)
    return rank_profiles(store_archive(engine), profile, catalog, assumptions or Assumptions())


def visible_ranking(
    engine: sa.Engine, viewer: access.Viewer, ranking: pd.DataFrame
) -> pd.DataFrame:
    """A store ranking cut to the customers ``viewer`` may see, personal fields masked."""
    with engine.connect() as conn:
        visible = set(conn.execute(access.scoped_customer_ids(viewer)).scalars())
    kept = ranking[_among(ranking["customer_id"], visible)].reset_index(drop=True)
    return access.mask_frame(viewer, kept)


def rank_savings(
    engine: sa.Engine,
    viewer: access.Viewer,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
    months: int = MONTHS_RANKED,
) -> pd.DataFrame:
    """The customers in ``viewer``'s scope ranked by attainable annual saving (masked).

    Args:
        engine: the store.
        viewer: who is asking.
        assumptions: the stated assumptions.
        catalog: the tariff catalog; the default file when None.
        months: the latest calendar months of readings used.

    Returns:
        One row per visible customer with :data:`RANKING_COLUMNS`, largest saving first.
    """
    ranking = rank_store(engine, assumptions, catalog, months)
    return visible_ranking(engine, viewer, ranking)


def _eligible(tariff: Tariff, archive: pd.DataFrame, capacity: np.ndarray) -> np.ndarray:
    """:meth:`Tariff.eligible` for every customer of an archive at once."""
    allowed = archive["customer_class"].isin(tariff.customer_classes).to_numpy(copy=True)
    known = ~np.isnan(capacity)
    if tariff.kind == "two_part":
        allowed &= known
    with np.errstate(invalid="ignore"):
        if tariff.min_capacity_kva is not None:
            allowed &= ~known | (capacity >= tariff.min_capacity_kva)
        if tariff.max_capacity_kva is not None:
            allowed &= ~known | (capacity <= tariff.max_capacity_kva)
    return allowed


def _priceable(tariff: Tariff, usage: pd.DataFrame, basis: str | None) -> pd.DataFrame:
    """The usage of customers whose every month can be billed on this basis."""
    if tariff.kind != "two_part":
        return usage
    basis = basis or tariff.default_basic_basis
    needed = "contract_capacity_kva" if basis == "capacity" else "max_demand_kw"
    complete = usage[needed].notna().groupby(usage["customer_id"]).transform("all")
    return usage[complete.to_numpy()].assign(basic_basis=basis)


def _per_customer(frame: pd.DataFrame, values: np.ndarray | pd.Series) -> pd.Series:
    """Sums per numbered customer (missing values count as zero), indexed by customer number."""
    customers = frame["customer_id"].to_numpy(np.int64)
    present = np.unique(customers)
    weights = np.nan_to_num(np.asarray(values, float))
    totals = np.bincount(customers, weights=weights, minlength=int(present.max(initial=-1)) + 1)
    return pd.Series(totals[present], index=present)


def _schedule_of(
    catalog: Mapping[str, Tariff], customer_class: str, tariff_code: str
) -> Tariff | None:
    """The schedule a customer's peak share is told under, as the features tell it."""
    own = catalog.get(tariff_code)
    if own is not None and own.kind in features.SCHEDULED_KINDS:
        return own
    return catalog.get(features.REFERENCE_SCHEDULE.get(customer_class, ""))


def rank_profiles(
    customers: pd.DataFrame,
    profile: LoadProfile,
    catalog: Mapping[str, Tariff],
    assumptions: Assumptions,
) -> pd.DataFrame:
    """Prices every action for every customer of a profile and ranks them by attainable saving.

    For each customer the options are: shift the assumed share of peak and critical-peak energy
    under the current tariff (capped by the load shape); switch to the cheapest other tariff or
    basic-charge basis it may choose; raise the power factor to the target when the compensation
    pays back within the stated years. The attainable saving is the best single option. Every
    figure is a year's: the months priced are scaled to twelve.

    Args:
        customers: :data:`ARCHIVE_COLUMNS`.
        profile: the customers' load (:func:`load_profile` or :meth:`LoadProfile.from_readings`).
        catalog: the tariff catalog the profile was built with.
        assumptions: the stated assumptions.

    Returns:
        One row per customer with :data:`RANKING_COLUMNS`, largest saving first; customers
        without readings or on a tariff outside the catalog have no figures.
    """
    assumptions.validate()
    archive = customers.assign(customer_id=customers["customer_id"].astype(str))
    archive = archive.drop_duplicates("customer_id").reset_index(drop=True)
    ids = pd.Index(archive["customer_id"].to_numpy(dtype=object), dtype=object)
    coded = _CodedProfile(profile, ids)
    capacity = pd.to_numeric(archive["contract_capacity_kva"], errors="coerce").to_numpy(float)
    tariff_codes = archive["tariff_code"].to_numpy(dtype=object)
    # Figures by customer number, numbers only: text columns join at the end.
    figures = pd.DataFrame(np.nan, index=pd.RangeIndex(len(archive)), columns=_NUMBERS)
    switch_code = np.full(len(archive), None, dtype=object)
    switch_basis = np.full(len(archive), None, dtype=object)
    best_switch = np.full(len(archive), np.inf)
    schedules = _schedules(archive, catalog)

    for code, tariff in catalog.items():
        current = (tariff_codes == code) & coded.present
        eligible = _eligible(tariff, archive, capacity) & coded.present
        scheduled = (schedules == code) & coded.present
        if not (current | eligible | scheduled).any():
            continue
        usage = coded.usage(tariff, capacity, current | eligible | scheduled)
        if scheduled.any():
            _peak_shares(figures, usage, scheduled)
        usage = usage[(current | eligible)[usage["customer_id"].to_numpy(np.int64)]]
        if usage.empty:
            continue
        bases = list(tariffs.BASIC_BASES) if tariff.kind == "two_part" else [None]
        for basis in bases:
            priced = _priceable(tariff, usage, basis)
            if priced.empty:
                continue
            bills = tariffs.bill_usage(tariff, priced)
            months = bills.groupby("customer_id", sort=False)["period"].count()
            scale = 12 / months
            annual = (_per_customer(bills, bills["amount_cny"]) * scale).round(2)
            is_default = basis in (None, tariff.default_basic_basis)
            who = annual.index.to_numpy()
            candidates = eligible[who]
            if is_default:
                on = who[current[who]]
                if len(on):
                    _current_options(figures, tariff, priced, bills, on, scale, assumptions)
                candidates &= ~current[who]
            challengers = who[candidates]
            cheaper = annual.loc[challengers].to_numpy() < best_switch[challengers]
            winners = challengers[cheaper]
            best_switch[winners] = annual.loc[winners].to_numpy()
            switch_code[winners] = code
            switch_basis[winners] = basis

    bill = figures["annual_bill_cny"].to_numpy(float)
    has_switch = np.isfinite(best_switch) & ~np.isnan(bill)
    saving = pd.Series(np.where(has_switch, bill - best_switch, np.nan)).round(2)
    same_tariff = switch_code == tariff_codes
    figures["basis_saving_cny"] = saving.where(same_tariff)
    figures["switch_saving_cny"] = saving.where(~same_tariff)
    switch_code[~has_switch] = None
    switch_basis[~has_switch] = None
    options = pd.DataFrame(
        {
            "shift": figures["shift_saving_cny"],
            "switch": figures["switch_saving_cny"],
            "basis": figures["basis_saving_cny"],
            "compensation": figures["compensation_saving_cny"].where(
                figures["compensation_payback_years"] <= assumptions.max_payback_years
            ),
        }
    ).fillna(0.0)
    best = options.idxmax(axis=1)
    best_saving = options.max(axis=1)
    figures["attainable_saving_cny"] = best_saving.clip(lower=0.0).round(2).where(~np.isnan(bill))
    figures["saving_share"] = (figures["attainable_saving_cny"] / bill).where(bill > 0)
    result = pd.concat(
        [
            archive[["customer_id", *ARCHIVE_COLUMNS[1:6]]],
            figures,
            pd.DataFrame(
                {
                    "switch_tariff_code": switch_code,
                    "switch_basic_basis": switch_basis,
                    "best_option": best.where(best_saving > 0, "none").to_numpy(dtype=object),
                },
                dtype=object,
            ),
        ],
        axis=1,
    )
    ranked = result.sort_values(
        ["attainable_saving_cny", "customer_id"], ascending=[False, True], na_position="last"
    )
    return ranked[list(RANKING_COLUMNS)].reset_index(drop=True)


def _current_options(
    result: pd.DataFrame,
    tariff: Tariff,
    usage: pd.DataFrame,
    bills: pd.DataFrame,
    customers: np.ndarray,
    scale: pd.Series,
    assumptions: Assumptions,
) -> None:
    """The annual bill, the shift and the compensation of the customers on their own tariff."""
    on = np.zeros(len(result), dtype=bool)
    on[customers] = True
    rows = on[usage["customer_id"].to_numpy(int)]
    usage, bills = usage[rows], bills[rows]
    scale = scale.loc[customers]
    result.loc[customers, "months"] = (12 / scale).to_numpy()
    result.loc[customers, "annual_kwh"] = (
        (_per_customer(bills, bills["kwh_total"]) * scale).loc[customers].to_numpy()
    )
    result.loc[customers, "annual_bill_cny"] = (
        (_per_customer(bills, bills["amount_cny"]) * scale).round(2).loc[customers].to_numpy()
    )
    shifted = shift_usage(tariff, usage, assumptions.shift_share, assumptions.shift_target)
    after = tariffs.bill_usage(tariff, shifted)
    saving = _money_difference(bills["amount_cny"], after["amount_cny"])
    result.loc[customers, "shift_saving_cny"] = (
        (_per_customer(bills, saving) * scale).round(2).loc[customers].to_numpy()
    )
    result.loc[customers, "shifted_kwh"] = (
        (_per_customer(bills, shifted["shifted_kwh"]) * scale).loc[customers].to_numpy()
    )
    if tariff.power_factor_standard is None:
        return
    metered = usage["kvarh"].notna().groupby(usage["customer_id"]).transform("any").to_numpy()
    if not metered.any():
        return
    usage = usage[metered]
    before, compensated, required = _compensated(tariff, usage, assumptions.target_power_factor)
    owners = usage["customer_id"].to_numpy(int)
    kvar = np.ceil(pd.Series(required).groupby(owners, sort=False).max())
    who = kvar.index.to_numpy()
    saving = _money_difference(before["amount_cny"], compensated["amount_cny"])
    annual = (_per_customer(usage, saving) * scale.loc[who]).round(2).loc[who]
    investment = (kvar * assumptions.compensation_cost_per_kvar).round(2)
    result.loc[who, "compensation_saving_cny"] = annual.to_numpy()
    result.loc[who, "compensation_kvar"] = kvar.to_numpy()
    result.loc[who, "compensation_investment_cny"] = investment.to_numpy()
    pays = annual.to_numpy() > 0
    payback = np.full(len(who), np.inf)
    payback[pays] = investment.to_numpy()[pays] / annual.to_numpy()[pays]
    result.loc[who, "compensation_payback_years"] = payback


def _schedules(archive: pd.DataFrame, catalog: Mapping[str, Tariff]) -> np.ndarray:
    """The code of the schedule each customer's peak share is told under (None without one)."""
    return np.array(
        [
            getattr(_schedule_of(catalog, customer_class, tariff_code), "code", None)
            for customer_class, tariff_code in zip(
                archive["customer_class"], archive["tariff_code"], strict=True
            )
        ],
        dtype=object,
    )


def _peak_shares(result: pd.DataFrame, usage: pd.DataFrame, members: np.ndarray) -> None:
    """Peak-period energy as a share of all energy over the months priced, as the features tell it.

    ``usage`` is split by the schedule of the ``members`` (a mask over the customers): their own
    time-of-use tariff, or their class's reference schedule.
    """
    rows = usage[members[usage["customer_id"].to_numpy(np.int64)]]
    if rows.empty:
        return
    energy = rows[[f"kwh_{period}" for period in PERIODS]].to_numpy(float)
    peak = _per_customer(rows, rows["kwh_peak"])
    total = _per_customer(rows, energy.sum(axis=1))
    result.loc[peak.index.to_numpy(), "peak_share"] = (peak / total).where(total > 0).to_numpy()


TARGET_LIST_COLUMNS = (
    "customer_id",
    "name",
    "customer_class",
    "region",
    "manager_id",
    "tariff_code",
    "annual_bill_cny",
    "best_option",
    "attainable_saving_cny",
    "saving_share",
    "shifted_kwh",
    "switch_tariff_code",
    "switch_basic_basis",
    "compensation_kvar",
    "compensation_payback_years",
)


def target_list(
    ranking: pd.DataFrame,
    top: int | None = None,
    min_saving_cny: float = 0.0,
    regions: Collection[str] | None = None,
    classes: Collection[str] | None = None,
    managers: Collection[str] | None = None,
) -> pd.DataFrame:
    """The customers worth contacting, largest saving first, for the people who visit them.

    Args:
        ranking: from :func:`rank_savings` or :func:`visible_ranking`.
        top: keep at most this many; all when None.
        min_saving_cny: keep customers whose attainable saving is at least this.
        regions: keep these districts only; all when None or empty.
        classes: keep these customer classes only; all when None or empty.
        managers: keep the customers of these customer managers only; all when None or empty.

    Returns:
        :data:`TARGET_LIST_COLUMNS` of the customers with a saving above zero and the minimum.

    Raises:
        UserError: the minimum saving is negative.
    """
    if min_saving_cny < 0:
        raise errors.UserError("savings.error.negative_minimum")
    keep = (
        (ranking["attainable_saving_cny"] > 0)
        & (ranking["attainable_saving_cny"] >= min_saving_cny)
        & (ranking["best_option"] != "none")
    )
    for column, chosen in (
        ("region", regions),
        ("customer_class", classes),
        ("manager_id", managers),
    ):
        if chosen:
            keep &= ranking[column].isin(list(chosen))
    targets = ranking[keep.to_numpy()]
    if top is not None:
        targets = targets.head(top)
    return targets[list(TARGET_LIST_COLUMNS)].reset_index(drop=True)
