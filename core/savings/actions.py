"""One customer's priced actions, computed as the ranking computes them, and talking points."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from core import access, i18n, tariffs
from core.savings.options import Assumptions
from core.savings.profiles import LoadProfile
from core.savings.ranking import Option, rank_profiles
from core.savings.store import ARCHIVE_COLUMNS, customer_readings, priced_readings
from core.tariffs import Tariff


@dataclass(frozen=True)
class Action:
    """One thing a customer can do about its bill, priced over a year.

    Attributes:
        option: ``shift``, ``switch``, ``basis`` or ``compensation``.
        saving_cny: what it saves a year.
        figures: what it consists of: ``shifted_kwh``, ``share``, ``target`` and ``peak_share``
            for a shift; ``tariff_code`` and ``basic_basis`` for a switch or a basis change;
            ``kvar``, ``investment_cny``, ``payback_years`` and ``power_factor`` for
            compensation.
    """

    option: Option
    saving_cny: float
    figures: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerSavings:
    """A customer's priced actions, best first, with the figures of its row in the ranking.

    Attributes:
        customer_id: the customer.
        figures: the customer's :data:`RANKING_COLUMNS`.
        actions: every action that saves something (compensation only when it pays back within
            the stated years), largest saving first; the first is the ranking's best option.
    """

    customer_id: str
    figures: dict
    actions: tuple[Action, ...]

    @property
    def best(self) -> Action | None:
        """The action with the largest saving, None when nothing saves."""
        return self.actions[0] if self.actions else None


def ranked_actions(row: Mapping, assumptions: Assumptions | None = None) -> tuple[Action, ...]:
    """The actions of one row of a ranking, largest saving first (ties in :data:`OPTIONS` order).

    Args:
        row: a row of :func:`rank_profiles` (a Series or a dict).
        assumptions: the assumptions the ranking was computed with.

    Returns:
        The actions that save more than nothing.
    """
    assumptions = assumptions or Assumptions()

    def number(name: str) -> float:
        value = row.get(name)
        return float(value) if value is not None and pd.notna(value) else math.nan

    candidates = [
        Action(
            "shift",
            number("shift_saving_cny"),
            {
                "shifted_kwh": number("shifted_kwh"),
                "share": assumptions.shift_share,
                "target": assumptions.shift_target,
                "peak_share": number("peak_share"),
            },
        ),
        Action(
            "switch",
            number("switch_saving_cny"),
            {
                "tariff_code": row.get("switch_tariff_code"),
                "basic_basis": row.get("switch_basic_basis"),
            },
        ),
        Action(
            "basis",
            number("basis_saving_cny"),
            {
                "tariff_code": row.get("switch_tariff_code"),
                "basic_basis": row.get("switch_basic_basis"),
            },
        ),
    ]
    if number("compensation_payback_years") <= assumptions.max_payback_years:
        candidates.append(
            Action(
                "compensation",
                number("compensation_saving_cny"),
                {
                    "kvar": number("compensation_kvar"),
                    "investment_cny": number("compensation_investment_cny"),
                    "payback_years": number("compensation_payback_years"),
                    "power_factor": assumptions.target_power_factor,
                },
            )
        )
    saving = [action for action in candidates if action.saving_cny > 0]
    return tuple(sorted(saving, key=lambda action: -action.saving_cny))


def savings_of_readings(
    readings: pd.DataFrame,
    customer: Mapping,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
    source: str = "readings",
) -> CustomerSavings:
    """One customer's priced actions from its readings, computed as the ranking computes them.

    Args:
        readings: the customer's readings (``ts``, ``kwh``, optionally ``kvarh``).
        customer: ``customer_class``, ``tariff_code``, ``contract_capacity_kva`` and optionally
            ``customer_id``, ``name``, ``region``, ``manager_id``.
        assumptions: the stated assumptions; the defaults when None.
        catalog: the tariff catalog; the default file when None.
        source: how to name the readings in messages.

    Returns:
        The customer's actions and figures.

    Raises:
        UserError: the readings are invalid.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    assumptions = assumptions or Assumptions()
    clean = tariffs.clean_readings(readings, source).assign(customer_id=tariffs.SINGLE_CUSTOMER)
    archive = pd.DataFrame([{name: customer.get(name) for name in ARCHIVE_COLUMNS}]).assign(
        customer_id=tariffs.SINGLE_CUSTOMER
    )
    row = rank_profiles(archive, LoadProfile.from_readings(clean), catalog, assumptions).iloc[0]
    customer_id = str(customer.get("customer_id") or tariffs.SINGLE_CUSTOMER)
    figures = {**row.to_dict(), "customer_id": customer_id}
    return CustomerSavings(customer_id, figures, ranked_actions(figures, assumptions))


def customer_savings(
    engine: sa.Engine,
    viewer: access.Viewer,
    customer_id: str,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
) -> CustomerSavings:
    """A store customer's priced actions, the same figures the ranking has for them.

    The tariff page, the customer 360 recommendations and the visit brief all take a customer's
    savings from here.

    Args:
        engine: the store.
        viewer: who is asking.
        customer_id: the customer.
        assumptions: the stated assumptions; the defaults when None.
        catalog: the tariff catalog; the default file when None.

    Returns:
        The customer's actions and figures (personal fields masked for the viewer).

    Raises:
        UserError: the customer is unknown or outside the viewer's scope.
        NoReadingsError: the customer has no readings in the months priced.
    """
    customer, readings = customer_readings(engine, viewer, customer_id)
    return savings_of_readings(readings, customer, assumptions, catalog)


def store_customer_savings(
    bind: sa.Engine | sa.Connection,
    customer: Mapping,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
) -> CustomerSavings:
    """:func:`customer_savings` of a customer whose archive the caller read in the viewer's scope.

    Args:
        bind: the store, or a connection to it.
        customer: the archive entry: ``customer_id``, ``customer_class``, ``tariff_code``,
            ``contract_capacity_kva``.
        assumptions: the stated assumptions; the defaults when None.
        catalog: the tariff catalog; the default file when None.

    Returns:
        The customer's actions and figures.

    Raises:
        NoReadingsError: the customer has no readings in the months priced.
    """
    readings = priced_readings(bind, customer["customer_id"])
    return savings_of_readings(readings, customer, assumptions, catalog)


@dataclass(frozen=True)
class Phrase:
    """A catalog text set inside another text, told in the reader's language (a basis name)."""

    key: str

    def label(self, language: str) -> str:
        """The text in ``language``."""
        return i18n.translate(self.key, language)


# The customer 360 talking point of each action: its text is ``customer360.action.<code>``.
TALKING_POINTS = {
    "shift": "shift_peak",
    "switch": "switch_tariff",
    "basis": "change_basis",
    "compensation": "compensate_payback",
}


def talking_point(action: Action, catalog: Mapping[str, Tariff] | None = None) -> tuple[str, dict]:
    """An action as a visit's talking point: its text code and the figures the text is told with.

    Values that depend on the language (a tariff, a basis) have a ``label(language)``.

    Args:
        action: from :attr:`CustomerSavings.actions`.
        catalog: the tariff catalog; the default file when None.

    Returns:
        ``(code, values)`` with ``saving`` and the action's own figures.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    figures = action.figures
    values: dict = {"saving": f"{action.saving_cny:,.0f}"}
    if action.option == "shift":
        values |= {
            "share": f"{figures['share']:.0%}",
            "kwh": f"{figures['shifted_kwh']:,.0f}",
            "peak_share": f"{figures['peak_share']:.0%}",
        }
    elif action.option == "switch":
        values["tariff"] = catalog[figures["tariff_code"]]
    elif action.option == "basis":
        values["basis"] = Phrase(f"tariffs.basis_{figures['basic_basis']}")
    else:
        values |= {
            "kvar": f"{figures['kvar']:,.0f}",
            "power_factor": f"{figures['power_factor']:.2f}",
            "years": f"{figures['payback_years']:.1f}",
        }
    return TALKING_POINTS[action.option], values
