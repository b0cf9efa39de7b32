"""Revenue at risk: what a month of the expected use would bill beyond a month of the recorded use.

Both months are priced by the bill engine (:func:`core.tariffs.bill_usage`) under the customer's
own tariff, so time-of-use prices, tiers and the basic charge count as on a real bill: energy
moved from the peak into the valley by a meter whose clock is off costs revenue on a time-of-use
tariff and none on a tiered one.
"""

import datetime as dt

import numpy as np
import pandas as pd

from core import calendars, tariffs

HOURS = 24


def _typical_day(windows_end: dt.date) -> pd.DatetimeIndex:
    """The 24 hours of the last workday before ``windows_end``: the schedule the month bills on."""
    day = pd.Timestamp(windows_end) - pd.Timedelta(days=1)
    for _ in range(14):
        if bool(calendars.workdays(pd.DatetimeIndex([day]))[0]):
            break
        day -= pd.Timedelta(days=1)
    return pd.date_range(day, periods=HOURS, freq="h")


def monthly_difference(
    customers: pd.DataFrame,
    expected: np.ndarray,
    recorded: np.ndarray,
    end: dt.date,
    days_per_month: float,
) -> np.ndarray:
    """The monthly bill of the expected use less that of the recorded use, CNY, per customer.

    Args:
        customers: ``customer_id``, ``tariff_code``, ``contract_capacity_kva``, one row each.
        expected: kWh on an average day in each hour of the day, shape (customers, 24).
        recorded: the same for what the meter recorded.
        end: the day after the last reading: the month billed is the one before it.
        days_per_month: days of a billing month.

    Returns:
        The difference per customer (negative where the meter records more than expected);
        NaN for a tariff code the catalog does not have.
    """
    result = np.full(len(customers), np.nan)
    if customers.empty:
        return result
    catalog = tariffs.load_catalog()
    hours = _typical_day(end)
    period = f"{hours[0]:%Y-%m}"
    codes = customers["tariff_code"].to_numpy()
    # The basic charge is the same in both months; a missing capacity only has to price.
    capacity = np.nan_to_num(customers["contract_capacity_kva"].to_numpy(dtype=float))
    for code in pd.unique(codes):
        if code not in catalog:
            continue
        tariff = catalog[code]
        rows = np.flatnonzero(codes == code)
        labels = tariffs.period_labels(tariff, hours)
        amounts = []
        for profile in (expected[rows], recorded[rows]):
            usage = pd.DataFrame(
                {
                    "customer_id": customers["customer_id"].to_numpy()[rows],
                    "period": period,
                    **{
                        f"kwh_{name}": profile[:, labels == name].sum(axis=1) * days_per_month
                        for name in tariffs.PERIODS
                    },
                    "kvarh": np.nan,
                    "max_demand_kw": profile.max(axis=1),
                    "demand_interval": "hourly",
                    "contract_capacity_kva": capacity[rows],
                }
            )
            amounts.append(tariffs.bill_usage(tariff, usage)["amount_cny"].to_numpy(float))
        result[rows] = amounts[0] - amounts[1]
    return np.round(result, 2)
