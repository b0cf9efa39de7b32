"""Day-ahead load forecast on the demo store's service-area load: accuracy and fit time.

Prints the backtest MAPE of every model over four windows (one per season of the last year), the
ratios of the best model to the two baselines (targets: ≤ 0.7 of seasonal naive, ≤ 0.9 of default
Prophet) and the seconds to fit and predict one two-year hourly series (target < 15 s).

    .venv/bin/python bench/bench_forecast.py [--database-url URL] [--folds 7]

Without a store at the URL it builds the default demo store there first
(``python -m core demo``).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from core import access, forecast, load_series  # noqa: E402
from core.store import engine as store_engine  # noqa: E402

DEFAULT_URL = "duckdb:////tmp/bench_demo.duckdb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument(
        "--folds", type=int, default=7, help="day-ahead origins per seasonal window"
    )
    args = parser.parse_args()

    engine = store_engine.connect(args.database_url)
    if not store_engine.has_data(engine):
        from core import demo

        print(f"Building the default demo store at {store_engine.describe(args.database_url)}")
        demo.generate(engine, progress=demo.print_progress)

    started = time.perf_counter()
    with engine.connect() as conn:
        series = load_series.level_series(conn, access.SYSTEM, "service_area")
    query_seconds = time.perf_counter() - started
    print(
        f"Service-area hourly load: {len(series):,} hours "
        f"({series['ds'].min():%Y-%m-%d} to {series['ds'].max():%Y-%m-%d}), "
        f"read by SQL in {query_seconds:.1f} s"
    )

    # One window per season of the last year: a single week says more about its weather than
    # about the models.
    last = series["ds"].max()
    window_ends = [last - pd.DateOffset(months=months) for months in (9, 6, 3, 0)]
    tables = []
    started = time.perf_counter()
    for end in window_ends:
        tested = forecast.backtest(series[series["ds"] <= end], horizon=24, folds=args.folds)
        table = tested.metrics.set_index("model")
        weights = ", ".join(f"{m} {w:.1f}" for m, w in tested.ensemble_weights.items())
        print(
            f"window ending {end:%Y-%m-%d}: "
            + ", ".join(f"{m} {v:.2%}" for m, v in table["mape"].items())
            + f" (ensemble weights: {weights})"
        )
        tables.append(table)
    backtest_seconds = time.perf_counter() - started
    # equal-sized windows: the pooled figure is the mean of the windows'
    metrics = sum(tables) / len(tables)
    print(
        f"\nDay-ahead backtest, {len(window_ends)} windows × {args.folds} daily origins "
        f"({backtest_seconds:.1f} s):"
    )
    print(f"{'model':<16} {'MAPE':>7} {'sMAPE':>7} {'MASE':>6} {'coverage':>9}")
    for model, row in metrics.iterrows():
        print(
            f"{model:<16} {row['mape']:>7.2%} {row['smape']:>7.2%} {row['mase']:>6.3f} "
            f"{row['coverage']:>9.0%}"
        )
    candidates = metrics.drop(index=list(forecast.BASELINES))
    best = str(candidates["mape"].idxmin())
    best_mape = candidates.loc[best, "mape"]
    naive_ratio = best_mape / metrics.loc["seasonal_naive", "mape"]
    prophet_ratio = best_mape / metrics.loc["prophet_default", "mape"]
    print(f"\nbest model: {best}")
    print(f"best / seasonal naive   MAPE ratio: {naive_ratio:.2f} (target ≤ 0.70)")
    print(f"best / default Prophet  MAPE ratio: {prophet_ratio:.2f} (target ≤ 0.90)")

    history, future_truth = series.iloc[:-24], series.iloc[-24:]
    future = future_truth[["ds", "temperature_c"]]
    timings = {}
    for model in ("gbm", "prophet"):
        started = time.perf_counter()
        forecast.fit_predict(history, future, model)
        timings[model] = time.perf_counter() - started
    started = time.perf_counter()
    forecast.forecast(history, horizon=24, future=future, folds=0)
    timings["all models, no backtest"] = time.perf_counter() - started
    print(f"\nFit + predict of one {len(history):,}-hour series (target < 15 s):")
    for name, seconds in timings.items():
        print(f"  {name:<24} {seconds:6.1f} s")


if __name__ == "__main__":
    main()
