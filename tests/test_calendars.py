"""The shared calendar: 调休 make-up workdays, holidays, and years not yet published."""

import pandas as pd

from core import calendars


def test_workdays_follow_holidays_and_make_up_days_at_any_time_unit():
    stamps = pd.DatetimeIndex(
        ["2025-09-27 10:00", "2025-09-28 10:00", "2025-10-01 00:00", "2025-10-09 23:00"]
    ).as_unit("us")
    # Saturday off, Sunday 28 September worked for National Day, 1 October off, 9 October worked.
    assert calendars.workdays(stamps).tolist() == [False, True, False, True]


def test_years_without_a_published_schedule_keep_the_statutory_holidays():
    days = calendars.day_calendar(pd.date_range("2027-09-30", "2027-10-04"), "cn")
    by_day = days.set_index(days["date"].dt.strftime("%m-%d"))
    assert bool(by_day.loc["10-01", "is_holiday"]) and not bool(by_day.loc["10-01", "is_workday"])
    assert bool(by_day.loc["09-30", "is_workday"])
    assert not bool(by_day.loc["10-02", "is_workday"])  # a Saturday
