"""``python -m core backtest`` and ``forecast`` on files: JSON shape, figures, bad files."""

import json

import numpy as np
import pandas as pd
import pytest
from test_forecast import planted_series

from core import cli, ingest, load_series


@pytest.fixture
def files(tmp_path):
    """Quarter-hour readings of two customers over five weeks, and hourly weather."""
    hourly = planted_series("2024-03-04", 35)
    quarters = []
    for customer, share in (("A", 0.25), ("B", 0.75)):
        for minute in (0, 15, 30, 45):
            quarters.append(
                pd.DataFrame(
                    {
                        "customer_id": customer,
                        "ts": hourly["ds"] + pd.Timedelta(minutes=minute),
                        "kwh": hourly["y"] * share / 4,
                    }
                )
            )
    readings = tmp_path / "readings.csv"
    pd.concat(quarters).sample(frac=1, random_state=0).to_csv(readings, index=False)
    weather = tmp_path / "weather.csv"
    hourly.rename(columns={"ds": "ts"})[["ts", "temperature_c"]].to_csv(weather, index=False)
    return readings, weather, hourly


def test_readings_to_hourly_sums_quarters_and_customers(files):
    readings, _, hourly = files
    series = load_series.readings_to_hourly(ingest.read_readings(readings))
    np.testing.assert_allclose(series["y"], hourly["y"], rtol=1e-9)


def test_incomplete_hour_is_missing_not_undercounted():
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(
                ["2024-01-01 00:00", "2024-01-01 00:30", "2024-01-01 01:00", "2024-01-01 02:00"]
                + ["2024-01-01 02:30"]
            ),
            "kwh": [1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    series = load_series.readings_to_hourly(frame)
    assert series["y"].iloc[0] == 2.0
    assert np.isnan(series["y"].iloc[1])
    assert series["y"].iloc[2] == 2.0


def test_bad_files_name_the_row(tmp_path):
    bad = tmp_path / "meter.csv"
    pd.DataFrame({"ts": ["2024-01-01 00:00", "yesterday"], "kwh": [1, 2]}).to_csv(bad, index=False)
    with pytest.raises(
        ValueError,
        match=r"meter.csv has rows that cannot be used \(1\): row 3: ts is not a date or time",
    ):
        load_series.file_series(bad)
    daily = tmp_path / "daily.csv"
    pd.DataFrame({"ts": ["2024-01-01", "2024-01-02", "2024-01-03"], "kwh": [1, 2, 3]}).to_csv(
        daily, index=False
    )
    with pytest.raises(ValueError, match="needs hourly or finer readings"):
        load_series.file_series(daily)
    twice = tmp_path / "twice.csv"
    pd.DataFrame({"ts": ["2024-01-01 00:00"] * 2, "kwh": [1, 2]}).to_csv(twice, index=False)
    with pytest.raises(
        ValueError,
        match=r"twice.csv has rows that cannot be used \(1\): row 3: ts repeats .* \(row 2\)",
    ):
        load_series.file_series(twice)


def test_cli_reports_a_bad_file_in_one_line(tmp_path, capsys):
    missing = tmp_path / "nothing.csv"
    assert cli.main(["backtest", "--readings", str(missing), "--json"]) == 2
    assert "nothing.csv: no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_backtest_json(files, capsys):
    readings, weather, _ = files
    code = cli.main(
        ["backtest", "--readings", str(readings), "--weather", str(weather)]
        + ["--horizon", "24", "--folds", "3", "--json"]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    names = [model["name"] for model in report["models"]]
    assert names == ["seasonal_naive", "prophet_default", "prophet", "gbm", "ensemble"]
    for model in report["models"]:
        assert set(model) == {"name", "mape", "smape", "mase", "coverage"}
        assert 0 <= model["mape"] < 1 and 0 <= model["coverage"] <= 1
    assert report["folds"] == 3 and report["horizon"] == 24


@pytest.mark.slow
def test_forecast_writes_intervals_with_climatology(files, tmp_path, capsys):
    readings, weather, hourly = files
    out = tmp_path / "out" / "forecast.csv"
    code = cli.main(
        ["forecast", "--readings", str(readings), "--weather", str(weather)]
        + ["--horizon", "24", "--folds", "0", "--out", str(out), "--json"]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    # the weather file ends with the readings, so the future comes from its climatology
    assert summary["temperature"] == "climatology"
    written = pd.read_csv(out, parse_dates=["ds"])
    assert len(written) == 24
    assert written["ds"].iloc[0] == hourly["ds"].iloc[-1] + pd.Timedelta(hours=1)
    assert (written["yhat_lower"] <= written["yhat"]).all()
    assert (written["yhat"] <= written["yhat_upper"]).all()
