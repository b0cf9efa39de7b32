"""Load forecasting: metrics by hand, calendars, input checks, and planted patterns recovered."""

import datetime as dt
import sys
import types

import numpy as np
import pandas as pd
import pytest

from core import calendars, errors, forecast

# Planted truth of the synthetic series
BASE_KWH = 500.0
OFFDAY_DROP_KWH = 150.0
COOLING_KWH_PER_DEGREE = 10.0


def planted_series(start: str, days: int, *, seed: int = 0, temperature: bool = True):
    """Hourly load with a daily shape, a drop on days off (Chinese calendar) and cooling load."""
    ds = pd.date_range(start, periods=days * 24, freq="h")
    rng = np.random.default_rng(seed)
    hour = ds.hour.to_numpy()
    calendar = calendars.day_calendar(ds, "cn").set_index("date")
    workday = calendar.loc[ds.normalize(), "is_workday"].to_numpy()
    y = BASE_KWH + 100 * np.sin(2 * np.pi * (hour - 8) / 24) - OFFDAY_DROP_KWH * ~workday
    frame = pd.DataFrame({"ds": ds})
    if temperature:
        # 16-34 °C with a daily cycle and weather noise: heating never on, cooling often
        temp = 25 + 6 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 3, len(ds))
        temp = np.clip(temp, 16, 34)
        y = y + COOLING_KWH_PER_DEGREE * np.maximum(temp - forecast.COOLING_DEGREE_HOUR_BASE_C, 0)
        frame["temperature_c"] = temp
    frame["y"] = y + rng.normal(0, 5, len(ds))
    return frame


# Metrics against hand-computed values


def test_mape_by_hand():
    assert forecast.mape([100, 200], [110, 180]) == pytest.approx(0.1)
    # zero actuals are left out rather than dividing by zero
    assert forecast.mape([0, 50], [5, 40]) == pytest.approx(0.2)


def test_smape_by_hand():
    expected = (10 / 105 + 20 / 190) / 2
    assert forecast.smape([100, 200], [110, 180]) == pytest.approx(expected)
    assert forecast.smape([0, 10], [0, 10]) == 0.0


def test_mase_by_hand():
    # in-sample lag-2 changes: |11-10| = 1, |13-12| = 1 -> scale 1; MAE = (1 + 2) / 2
    assert forecast.mase([14, 15], [13, 17], [10, 12, 11, 13], season=2) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="more than 2 training values"):
        forecast.mase([1], [1], [1, 2], season=2)


def test_coverage_by_hand():
    assert forecast.coverage([1, 2, 3, 4], [0, 2.5, 3, 0], [2, 3, 3, 3]) == 0.5


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        forecast.mape([1, 2], [1])


# Holiday calendars


def test_chinese_calendar_knows_spring_festival_and_makeup_days():
    days = calendars.day_calendar(pd.date_range("2024-02-03", "2024-05-12"), "cn").set_index("date")
    # 2024-02-04 is a Sunday and 2024-05-11 a Saturday worked for Spring Festival / Labour Day
    for makeup in ("2024-02-04", "2024-02-18", "2024-05-11"):
        row = days.loc[pd.Timestamp(makeup)]
        assert row["is_workday"] and row["is_makeup_workday"] and not row["is_holiday"]
    monday = days.loc[pd.Timestamp("2024-02-12")]
    assert monday["holiday"] == "Spring Festival" and monday["is_holiday"]
    assert not monday["is_workday"]
    plain_saturday = days.loc[pd.Timestamp("2024-03-02")]
    assert not plain_saturday["is_workday"] and not plain_saturday["is_holiday"]


def test_other_calendars():
    none = calendars.day_calendar(pd.date_range("2024-02-10", "2024-02-12"), "none")
    assert list(none["is_workday"]) == [False, False, True]
    assert not none["is_holiday"].any()
    us = calendars.day_calendar(pd.date_range("2024-07-03", "2024-07-05"), "US")
    assert list(us["is_holiday"]) == [False, True, False]
    with pytest.raises(ValueError, match="unknown holiday calendar"):
        calendars.day_calendar(pd.date_range("2024-07-03", "2024-07-05"), "XX")


def test_prophet_holidays_one_row_per_occurrence():
    days = calendars.day_calendar(pd.date_range("2024-02-01", "2024-02-29"), "cn")
    table = forecast.prophet_holidays(days)
    festival = table[table["holiday"] == "Spring Festival"]
    assert len(festival) == 1
    row = festival.iloc[0]
    assert row["ds"] == pd.Timestamp("2024-02-10")
    # eight statutory days (10th-17th) plus the slow restart
    assert row["upper_window"] == 7 + forecast.SPRING_FESTIVAL_EXTRA_DAYS
    assert row["lower_window"] == -forecast.SPRING_FESTIVAL_LEAD_DAYS
    makeup = table[table["holiday"] == "makeup_workday"]["ds"].dt.strftime("%m-%d").tolist()
    assert makeup == ["02-04", "02-18"]


# Features never look past the origin


def test_gbm_lags_respect_the_horizon():
    assert forecast.gbm_lags(24, "h") == [24, 168, 336]
    assert min(forecast.gbm_lags(336, "h")) >= 336
    assert min(forecast.gbm_lags(90, "D")) >= 90


def test_gbm_features_of_future_rows_use_history_only():
    frame = planted_series("2024-03-04", 30)
    days = calendars.day_calendar(frame["ds"])
    horizon = 24
    hidden = frame.copy()
    hidden.loc[hidden.index[-horizon:], "y"] = np.nan
    garbage = frame.copy()
    garbage.loc[garbage.index[-horizon:], "y"] = 1e9
    a = forecast.gbm_features(hidden, horizon, "h", days).iloc[-horizon:]
    b = forecast.gbm_features(garbage, horizon, "h", days).iloc[-horizon:]
    pd.testing.assert_frame_equal(a, b)
    assert a["load_lag_24"].notna().all()


def test_seasonal_naive_is_last_week():
    frame = planted_series("2024-03-04", 30, temperature=False)
    train, test = frame.iloc[:-24], frame.iloc[-24:]
    result = forecast.seasonal_naive(train, test["ds"], "h")
    expected = frame["y"].iloc[-24 - 168 : -168].to_numpy()
    np.testing.assert_allclose(result["yhat"], expected)
    assert (result["yhat_lower"] <= result["yhat"]).all()
    assert (result["yhat_upper"] >= result["yhat"]).all()


# Bad input gets a clear message


def test_missing_columns():
    with pytest.raises(ValueError, match="missing y"):
        forecast.prepare(pd.DataFrame({"ds": [], "kwh": []}))


def test_too_short_says_how_much_is_needed():
    frame = planted_series("2024-03-04", 10)
    with pytest.raises(forecast.SeriesError, match="240 hours of history; 696 are needed"):
        forecast.prepare(frame, horizon=24)


def test_flat_series():
    frame = planted_series("2024-03-04", 40).assign(y=42.0)
    with pytest.raises(forecast.SeriesError, match="constant at 42 kWh"):
        forecast.prepare(frame)


def test_duplicate_and_unaligned_timestamps():
    frame = planted_series("2024-03-04", 40)
    doubled = pd.concat([frame, frame.iloc[[5]]])
    with pytest.raises(ValueError, match="2024-03-04 05:00 more than once"):
        forecast.prepare(doubled)
    shifted = frame.assign(ds=frame["ds"] + pd.Timedelta(minutes=15))
    with pytest.raises(ValueError, match="whole hours"):
        forecast.prepare(shifted)


def test_short_gap_is_filled_long_gap_drops_older_data():
    frame = planted_series("2024-01-01", 80)
    short = frame.drop(frame.index[100:103])
    prepared = forecast.prepare(short)
    assert len(prepared.frame) == len(frame)
    assert any("3 missing hours were filled" in str(w) for w in prepared.warnings)
    assert errors.Notice("forecast.notice.filled_hourly", count=3) in prepared.warnings
    long = frame.drop(frame.index[200:300])
    prepared = forecast.prepare(long)
    assert prepared.frame["ds"].iloc[0] == frame["ds"].iloc[300]
    assert any("Data before 2024-01-13 12:00 were left out" in str(w) for w in prepared.warnings)
    # The notice is a catalog key and values: the Chinese page reads it in Chinese.
    chinese = [notice.text("zh") for notice in prepared.warnings]
    assert any("2024-01-13 12:00 之前的数据未予采用" in text for text in chinese)


def test_gap_near_the_end_names_the_longest_usable_window():
    frame = planted_series("2024-01-01", 80)
    gappy = frame.drop(frame.index[-200:-100])
    with pytest.raises(
        forecast.SeriesError, match="longest usable window is 2024-01-01 00:00"
    ) as e:
        forecast.prepare(gappy)
    assert e.value.usable_window[0] == pd.Timestamp("2024-01-01")
    assert "最长可用区间为 2024-01-01 00:00" in e.value.text("zh")


def test_stuck_meter_at_the_end():
    frame = planted_series("2024-01-01", 80)
    frame.loc[frame.index[-72:], "y"] = 7.0
    with pytest.raises(forecast.SeriesError, match="stuck-meter"):
        forecast.prepare(frame)


def test_forecast_needs_future_temperature():
    frame = planted_series("2024-03-04", 35)
    with pytest.raises(errors.UserError) as raised:
        forecast.forecast(frame, horizon=24, folds=0)
    assert raised.value.key == "forecast.error.future_temperature_needed"
    partial = pd.DataFrame({"ds": forecast.future_index(frame, 12, "h"), "temperature_c": 20.0})
    with pytest.raises(ValueError, match="no value for 2024-04-08 12:00"):
        forecast.forecast(frame, horizon=24, folds=0, future=partial)


def test_backtest_rejects_too_many_folds():
    frame = planted_series("2024-03-04", 35)
    with pytest.raises(forecast.SeriesError, match="needed"):
        forecast.backtest(frame, horizon=24, folds=20)


def test_what_if_moves_the_temperature_the_way_that_raises_the_load():
    january = pd.DataFrame({"temperature_c": np.full(24, 3.0)})
    july = pd.DataFrame({"temperature_c": np.full(24, 33.0)})
    assert forecast.what_if_shift(january) == -forecast.WHAT_IF_DEGREES_C
    assert forecast.what_if_shift(july) == forecast.WHAT_IF_DEGREES_C
    assert forecast.what_if_shift(january, 3.0) == -3.0


# Helpers for the store and the command line


def test_climatology_by_day_of_year_and_hour():
    ds = pd.date_range("2023-01-01", "2024-12-31 23:00", freq="h")
    weather = pd.DataFrame({"ds": ds, "temperature_c": ds.hour + 0.0})
    future = pd.date_range("2026-07-01", periods=48, freq="h")
    result = forecast.climatology(weather, future)
    np.testing.assert_allclose(result["temperature_c"], future.hour, atol=1e-9)
    with pytest.raises(ValueError, match="no weather history"):
        forecast.climatology(weather.iloc[:0], future)


def test_to_daily_keeps_complete_days():
    ds = pd.date_range("2024-01-01", periods=47, freq="h")
    daily = forecast.to_daily(pd.DataFrame({"ds": ds, "y": 2.0, "temperature_c": 10.0}))
    assert daily["ds"].tolist() == [pd.Timestamp("2024-01-01")]
    assert daily["y"].iloc[0] == 48.0


# Model fits on planted series


@pytest.mark.slow
def test_forecast_recovers_offday_drop_and_cooling_effect():
    frame = planted_series("2024-05-06", 56)
    horizon = 168
    future = planted_series("2024-07-01", 7, seed=1)[["ds", "temperature_c"]]
    result = forecast.forecast(frame, horizon=horizon, folds=0, future=future)
    out = result.frame
    assert len(out) == horizon and out["ds"].iloc[0] == pd.Timestamp("2024-07-01")
    days = calendars.day_calendar(out["ds"]).set_index("date")
    workday = days.loc[out["ds"].dt.normalize(), "is_workday"].to_numpy()
    drop = out.loc[workday, "yhat"].mean() - out.loc[~workday, "yhat"].mean()
    degrees = np.maximum(
        future["temperature_c"].to_numpy() - forecast.COOLING_DEGREE_HOUR_BASE_C, 0
    )
    cooling = degrees * COOLING_KWH_PER_DEGREE
    planted_drop = OFFDAY_DROP_KWH + cooling[workday].mean() - cooling[~workday].mean()
    assert drop == pytest.approx(planted_drop, abs=25)
    # the temperature component moves 10 kWh per degree above the cooling base
    components = result.components
    comp_degrees = np.maximum(
        pd.concat([frame["temperature_c"].iloc[-28 * 24 :], future["temperature_c"]]).to_numpy()
        - forecast.COOLING_DEGREE_HOUR_BASE_C,
        0,
    )
    slope = np.polyfit(comp_degrees, components["temperature"].to_numpy(), 1)[0]
    assert slope == pytest.approx(COOLING_KWH_PER_DEGREE, rel=0.1)
    # a 2 °C heat wave raises the load where it is already above the cooling base
    hot = future["temperature_c"].to_numpy() > forecast.COOLING_DEGREE_HOUR_BASE_C + 1
    uplift = (out["yhat_what_if"] - out["yhat"]).to_numpy()
    assert uplift[hot].mean() > 0.5 * 2 * COOLING_KWH_PER_DEGREE
    assert (out["yhat_lower"] <= out["yhat"]).all() and (out["yhat"] <= out["yhat_upper"]).all()
    # planted noise is 5 kWh: the forecast is close to the truth
    truth = planted_series("2024-07-01", 7, seed=1)
    assert forecast.mape(truth["y"], out["yhat"]) < 0.05


@pytest.mark.slow
def test_spring_festival_and_makeup_sunday():
    # history from National Day 2023 (with its 调休 weekend) to the eve of Spring Festival 2024
    history = planted_series("2023-10-01", 126, temperature=False)
    assert history["ds"].iloc[-1] == pd.Timestamp("2024-02-03 23:00")
    result = forecast.forecast(history, horizon=16 * 24, folds=0)
    daily = result.frame.set_index("ds")["yhat"].resample("D").mean()
    workday_level, offday_level = BASE_KWH, BASE_KWH - OFFDAY_DROP_KWH
    middle = (workday_level + offday_level) / 2
    # Sunday 4 and 18 February are 调休 workdays; 12 February (a Monday) is Spring Festival
    assert daily[pd.Timestamp("2024-02-04")] > middle
    assert daily[pd.Timestamp("2024-02-18")] > middle
    assert daily[pd.Timestamp("2024-02-12")] < middle
    assert daily[pd.Timestamp("2024-02-12")] == pytest.approx(offday_level, abs=40)


@pytest.mark.slow
def test_backtest_metrics_match_predictions():
    frame = planted_series("2024-03-04", 35)
    result = forecast.backtest(frame, horizon=24, folds=3)
    predictions = result.predictions
    assert set(predictions["model"]) == set(forecast.MODELS)
    assert predictions.groupby("model").size().eq(3 * 24).all()
    origins = sorted(predictions["origin"].unique())
    assert [pd.Timestamp(o) for o in origins] == [
        pd.Timestamp("2024-04-05"),
        pd.Timestamp("2024-04-06"),
        pd.Timestamp("2024-04-07"),
    ]
    naive = predictions[predictions["model"] == "seasonal_naive"]
    metrics = result.metrics.set_index("model")
    assert metrics.loc["seasonal_naive", "mape"] == pytest.approx(
        forecast.mape(naive["y"], naive["yhat"])
    )
    # the seasonal naive forecast is exactly the value one week before
    lookup = frame.set_index("ds")["y"]
    np.testing.assert_allclose(
        naive["yhat"], lookup.loc[naive["ds"] - pd.Timedelta(days=7)].to_numpy()
    )
    for column in ("mape", "smape", "mase", "coverage"):
        assert metrics[column].notna().all()
    weights = result.ensemble_weights
    assert set(weights) == {"seasonal_naive", "prophet", "gbm"}
    assert sum(weights.values()) == pytest.approx(1.0)
    ensemble = predictions[predictions["model"] == "ensemble"]
    assert ensemble["yhat"].notna().all() and len(ensemble) == 3 * 24
    # the planted series is far more regular than a weekly copy of itself with weather noise
    assert metrics.loc["gbm", "mape"] < metrics.loc["seasonal_naive", "mape"]
    by_hour = result.error_by_hour()
    assert list(by_hour.index) == list(range(24))


@pytest.mark.slow
def test_daily_forecast_with_another_country_calendar():
    hourly = planted_series("2024-01-01", 120)
    daily = forecast.to_daily(hourly)
    future = forecast.to_daily(planted_series("2024-04-30", 14, seed=2))[["ds", "temperature_c"]]
    result = forecast.forecast(daily, horizon=14, freq="D", folds=2, future=future, calendar="DE")
    assert len(result.frame) == 14
    assert result.frame["ds"].iloc[0] == pd.Timestamp("2024-04-30")
    assert result.backtest is not None and len(result.backtest.metrics) == len(forecast.MODELS)


@pytest.mark.slow
def test_forecast_many_in_processes_reports_progress_and_bad_series():
    good = planted_series("2024-03-04", 35, temperature=False)
    tasks = [
        forecast.SeriesTask("good", good),
        forecast.SeriesTask("flat", good.assign(y=1.0)),
    ]
    seen = []
    outcomes = forecast.forecast_many(
        tasks,
        workers=2,
        progress=lambda done, total, key: seen.append((done, total, key)),
        horizon=24,
        folds=0,
    )
    assert [o.key for o in outcomes] == ["good", "flat"]
    assert outcomes[0].forecast is not None and len(outcomes[0].forecast.frame) == 24
    assert outcomes[1].forecast is None and "constant" in outcomes[1].error
    assert sorted(done for done, _, _ in seen) == [1, 2]
    assert {total for _, total, _ in seen} == {2}


def test_dates_are_naive_local_time():
    frame = planted_series("2024-03-04", 35)
    prepared = forecast.prepare(frame)
    assert prepared.frame["ds"].dt.tz is None
    assert prepared.frame["ds"].iloc[0] == dt.datetime(2024, 3, 4)


def test_seasonal_naive_marks_days_of_another_kind():
    history = planted_series("2024-01-08", 28, temperature=False)
    future = pd.date_range("2024-02-05", periods=8 * 24, freq="h")
    days = calendars.day_calendar(pd.concat([history["ds"], pd.Series(future)]))
    result = forecast.seasonal_naive(history, future, "h", days).set_index("ds")
    same = result["same_day_type"].resample("D").first()
    # Monday 5 Feb copies an ordinary Monday; Saturday 10 Feb (Spring Festival) a plain Saturday,
    # Sunday 4 Feb was a make-up workday, so Sunday 11 Feb copies a day of another kind
    assert same[pd.Timestamp("2024-02-05")]
    assert not same[pd.Timestamp("2024-02-10")]
    assert not same[pd.Timestamp("2024-02-11")]
    assert not same[pd.Timestamp("2024-02-12")]


def test_workers_do_not_run_the_page_script_that_started_them(tmp_path, monkeypatch):
    # Inside Streamlit, __main__ is the page script; a spawned worker must not run it again.
    marker = tmp_path / "page_ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    good = planted_series("2024-03-04", 35, temperature=False)
    tasks = [forecast.SeriesTask("a", good), forecast.SeriesTask("b", good)]
    outcomes = forecast.forecast_many(tasks, workers=2, horizon=24, folds=0)
    assert [outcome.error for outcome in outcomes] == [None, None]
    assert not marker.exists()
    assert sys.modules["__main__"] is page
