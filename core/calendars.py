"""Working days and holidays: China's with its make-up workdays (调休), or another country's.

One place for the calendar every part of the product shares: the tariff periods of
weekends and holidays, the demo's load, the features' weekday/weekend ratio, the forecast's holiday
effects, and the local time zone.
"""

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

# The utility's wall clock: readings are stamped, bills fall due and people read times in it. Times
# of the product's own records are stored in UTC and shown in this zone.
LOCAL_TIME = ZoneInfo("Asia/Shanghai")


def utc_now() -> dt.datetime:
    """The present in UTC, naive, to the second: how the product stamps its own records."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def local_now() -> dt.datetime:
    """The present on the utility's wall clock (:data:`LOCAL_TIME`), naive, to the second."""
    return dt.datetime.now(LOCAL_TIME).replace(tzinfo=None, microsecond=0)


def stored_as_local(values: pd.Series) -> pd.Series:
    """Record times stored in UTC (naive) as times of :data:`LOCAL_TIME`, the zone attached.

    Tables show them with their offset (``+08:00``); exports write the local wall time.
    """
    times = pd.to_datetime(values)
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times.dt.tz_convert(LOCAL_TIME)
    return times.dt.tz_localize("UTC").dt.tz_convert(LOCAL_TIME)


_DAY_NS = 86_400 * 10**9
CALENDARS_HELP = 'a holiday calendar: "cn" (Chinese with 调休), "none", or an ISO country code'


def day_calendar(dates: pd.Series | pd.DatetimeIndex, calendar: str = "cn") -> pd.DataFrame:
    """Working days, holidays and make-up workdays for each distinct day.

    Args:
        dates: timestamps; only their days matter.
        calendar: ``cn`` (Chinese public holidays with 调休 make-up workdays from
            ``chinese_calendar``), ``none`` (weekends only) or an ISO country code for the
            ``holidays`` package (``US``, ``DE``, ...).

    Returns:
        One row per day: ``date`` (midnight timestamp), ``is_workday``, ``is_holiday`` (a public
        holiday, not a plain weekend), ``is_makeup_workday`` (a weekend day worked in exchange for
        a holiday) and ``holiday`` (the holiday's name or an empty string).

    Raises:
        ValueError: the calendar is not known.
    """
    days = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates)).dt.normalize().unique()).sort_values()
    weekend = days.day_of_week >= 5
    names = [""] * len(days)
    makeup = np.zeros(len(days), dtype=bool)
    is_workday = ~weekend
    code = calendar.strip()
    if code.lower() == "none":
        pass
    elif code.lower() == "cn":
        is_workday, names, makeup = _chinese_days(days)
    else:
        import holidays

        if code.upper() not in holidays.list_supported_countries():
            raise ValueError(f"unknown holiday calendar {calendar!r}: use {CALENDARS_HELP}")
        table = holidays.country_holidays(code.upper(), years=sorted(set(days.year)))
        names = [table.get(day.date(), "") or "" for day in days]
        is_workday = np.array([not weekend[i] and not names[i] for i in range(len(days))])
    names_array = np.array(names, dtype=object)
    return pd.DataFrame(
        {
            "date": days,
            "is_workday": np.asarray(is_workday, dtype=bool),
            "is_holiday": (names_array != "") & ~np.asarray(makeup, dtype=bool),
            "is_makeup_workday": np.asarray(makeup, dtype=bool),
            "holiday": names_array.astype(str),
        }
    )


@functools.cache
def _published_years() -> frozenset[int]:
    # chinese_calendar knows the State Council's schedule only for the years it has published;
    # for other years the fixed statutory holidays without 调休 are the best available.
    import chinese_calendar

    return frozenset(day.year for day in (*chinese_calendar.holidays, *chinese_calendar.workdays))


def _chinese_days(days: pd.DatetimeIndex) -> tuple[np.ndarray, list[str], np.ndarray]:
    import chinese_calendar
    import holidays

    is_workday = np.zeros(len(days), dtype=bool)
    makeup = np.zeros(len(days), dtype=bool)
    names: list[str] = []
    published = _published_years()
    fallback = None
    for i, day in enumerate(days):
        date = day.date()
        if date.year in published:
            is_holiday, name = chinese_calendar.get_holiday_detail(date)
        else:
            if fallback is None:
                fallback = holidays.country_holidays("CN", years=sorted(set(days.year)))
            name = fallback.get(date)
            is_holiday = name is not None or day.day_of_week >= 5
            name = _english_holiday(name) if name else None
        is_workday[i] = not is_holiday
        makeup[i] = (not is_holiday) and day.day_of_week >= 5
        names.append(name if (name and (is_holiday or makeup[i])) else "")
    return is_workday, names, makeup


def _english_holiday(name: str) -> str:
    for known in ("Spring Festival", "National Day", "Labor Day", "New Year"):
        if known.lower().split()[0] in name.lower():
            return {"Labor Day": "Labour Day", "New Year": "New Year's Day"}.get(known, known)
    return name


def workdays(dates: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Whether each timestamp falls on a working day in China (holidays off, 调休 days on).

    Args:
        dates: timestamps; only their dates count.

    Returns:
        A boolean array, one per timestamp.
    """
    stamps = pd.DatetimeIndex(dates).as_unit("ns")
    if stamps.tz is not None:
        stamps = stamps.tz_localize(None)
    if len(stamps) == 0:
        return np.zeros(0, dtype=bool)
    # A year of readings has hundreds of thousands of stamps but a few hundred days: look each
    # day up once and index the answer back onto the stamps.
    day_numbers = stamps.asi8 // _DAY_NS
    distinct, position = np.unique(day_numbers, return_inverse=True)
    days = pd.DatetimeIndex((distinct * _DAY_NS).astype("datetime64[ns]"))
    working = day_calendar(days, "cn")["is_workday"].to_numpy(dtype=bool)
    return working[position.ravel()]
