"""``python -m core backtest`` and ``python -m core forecast``: load forecasts from the shell.

Both read either a readings file (``ts``, ``kwh``, optional ``customer_id``; hourly or finer) with
an optional hourly temperature file (``ts``, ``temperature_c``), or a level of the store.
"""

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core import access, calendars, config, exports, forecast, load_series

HORIZON_HELP = "hours ahead (hourly), or days ahead with --daily"


def add_commands(
    commands: argparse._SubParsersAction,
    add_database_url: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Adds ``backtest`` and ``forecast`` to the command line's subcommands."""
    backtest = commands.add_parser(
        "backtest", help="rolling-origin backtest of every load forecast model"
    )
    _add_source(backtest, add_database_url)
    backtest.add_argument("--folds", type=int, default=7, help="origins, one per day (default 7)")
    backtest.add_argument(
        "--prophet-refit-every",
        type=int,
        default=forecast.PROPHET_REFIT_EVERY,
        help="folds per Prophet fit (default %(default)s; gradient boosting refits every fold)",
    )
    backtest.add_argument("--json", action="store_true", help="print JSON instead of a table")
    backtest.set_defaults(handler=_command_backtest)

    forecast_parser = commands.add_parser(
        "forecast", help="forecast load with intervals and write it to a file"
    )
    _add_source(forecast_parser, add_database_url)
    forecast_parser.add_argument(
        "--all", action="store_true", help="every district or customer class, in parallel"
    )
    forecast_parser.add_argument("--folds", type=int, default=7, help="backtest folds (0: none)")
    forecast_parser.add_argument(
        "--what-if",
        type=float,
        default=None,
        help="degrees added for the what-if column (default: 2 °C colder in a heating season, "
        "2 °C warmer otherwise)",
    )
    forecast_parser.add_argument("--workers", type=int, default=None, help="processes for --all")
    forecast_parser.add_argument("--out", required=True, help="CSV or Parquet file to write")
    forecast_parser.add_argument("--json", action="store_true", help="print a JSON summary")
    forecast_parser.set_defaults(handler=_command_forecast)


def _add_source(parser: argparse.ArgumentParser, add_database_url) -> None:
    parser.add_argument("--readings", help="readings file: ts, kwh[, customer_id]")
    parser.add_argument("--weather", help="hourly temperature file: ts, temperature_c")
    parser.add_argument(
        "--level",
        choices=load_series.LEVELS,
        help="forecast a level of the store instead of a file",
    )
    parser.add_argument("--key", help="the district, customer class or customer id")
    parser.add_argument("--horizon", type=int, default=24, help=HORIZON_HELP)
    parser.add_argument("--daily", action="store_true", help="forecast daily totals")
    parser.add_argument("--calendar", default="cn", help=f"{calendars.CALENDARS_HELP} (default cn)")
    add_database_url(parser)


def _series(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    """The history, the future temperature and where that came from."""
    if bool(args.readings) == bool(args.level):
        raise ValueError("give either --readings FILE or --level LEVEL")
    if args.weather and not args.readings:
        raise ValueError("--weather goes with --readings; a store level has its own weather")
    freq: forecast.Freq = "D" if args.daily else "h"
    if args.readings:
        history, weather = load_series.file_series(args.readings, args.weather)
        if freq == "D":
            history = forecast.to_daily(history)
        if weather is None:
            return history, None, "none"
        future, source = load_series.future_from_weather(weather, history, args.horizon, freq)
        return history, future, source
    from core import access
    from core.store import engine as store_engine

    engine = store_engine.connect(args.database_url or config.database_url())
    with engine.connect() as conn:
        history = load_series.level_series(conn, access.SYSTEM, args.level, args.key)
        if freq == "D":
            history = forecast.to_daily(history)
        if "temperature_c" not in history:
            return history, None, "none"
        weather = load_series.hourly_temperature(
            conn, load_series.level_regions(conn, access.SYSTEM, args.level, args.key)
        )
    future, source = load_series.future_from_weather(weather, history, args.horizon, freq)
    return history, future, source


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def _metrics_json(tested: forecast.Backtest) -> list[dict]:
    return [
        {
            "name": row["model"],
            "mape": _number(row["mape"]),
            "smape": _number(row["smape"]),
            "mase": _number(row["mase"]),
            "coverage": _number(row["coverage"]),
        }
        for _, row in tested.metrics.iterrows()
    ]


def _command_backtest(args: argparse.Namespace) -> int:
    history, _, _ = _series(args)
    freq: forecast.Freq = "D" if args.daily else "h"
    prepared = forecast.prepare(
        history,
        freq=freq,
        horizon=args.horizon,
        folds=args.folds,
        step=forecast.STEPS_PER_DAY[freq],
    )
    tested = forecast.backtest(
        prepared,
        horizon=args.horizon,
        freq=freq,
        folds=args.folds,
        calendar=args.calendar,
        prophet_refit_every=args.prophet_refit_every,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "horizon": args.horizon,
                    "folds": args.folds,
                    "models": _metrics_json(tested),
                    "best": tested.best_model(),
                    "ensemble_weights": tested.ensemble_weights,
                    "warnings": [str(warning) for warning in prepared.warnings],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    for warning in prepared.warnings:
        print(f"note: {warning}", file=sys.stderr)
    print(f"{'model':<16} {'MAPE':>8} {'sMAPE':>8} {'MASE':>7} {'coverage':>9}")
    for _, row in tested.metrics.iterrows():
        print(
            f"{row['model']:<16} {row['mape']:>8.2%} {row['smape']:>8.2%} {row['mase']:>7.3f} "
            f"{row['coverage']:>9.0%}"
        )
    print(
        f"best: {tested.best_model()}; ensemble weights: "
        + ", ".join(f"{name} {weight:.1f}" for name, weight in tested.ensemble_weights.items())
    )
    return 0


def _write(frame: pd.DataFrame, path: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        frame.to_parquet(out, index=False)
    elif out.suffix.lower() in (".csv", ".xlsx"):
        exports.write(access.SYSTEM, exports.rounded(frame, 3), out)
    else:
        raise ValueError(f"--out {out.name}: write a .csv, .xlsx or .parquet file")


def _command_forecast(args: argparse.Namespace) -> int:
    freq: forecast.Freq = "D" if args.daily else "h"
    if args.all:
        return _forecast_all(args)
    history, future, source = _series(args)
    result = forecast.forecast(
        history,
        horizon=args.horizon,
        freq=freq,
        future=future,
        calendar=args.calendar,
        folds=args.folds,
        temperature_shift_c=args.what_if,
    )
    _write(result.frame, args.out)
    summary = {
        "out": args.out,
        "rows": len(result.frame),
        "first": f"{result.frame['ds'].iloc[0]:%Y-%m-%d %H:%M}",
        "last": f"{result.frame['ds'].iloc[-1]:%Y-%m-%d %H:%M}",
        "temperature": source,
        "ensemble_weights": result.ensemble_weights,
        "models": _metrics_json(result.backtest) if result.backtest is not None else [],
        "warnings": [str(warning) for warning in result.warnings],
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        for warning in result.warnings:
            print(f"note: {warning}", file=sys.stderr)
        print(
            f"Wrote {summary['rows']} forecast rows ({summary['first']} to {summary['last']}) "
            f"to {args.out}; future temperature: {source}"
        )
    return 0


def _forecast_all(args: argparse.Namespace) -> int:
    from core import access
    from core.store import engine as store_engine

    if args.level not in ("district", "customer_class"):
        raise ValueError("--all forecasts every district or every customer class: add --level")
    horizon = {24: "day_ahead", 336: "two_weeks"}.get(args.horizon) if not args.daily else None
    if args.daily:
        horizon = "three_months" if args.horizon == 91 else None
    if horizon is None:
        raise ValueError(
            "--all runs the product's horizons: --horizon 24 or 336, or --daily --horizon 91"
        )

    def report(done: int, total: int, key: str) -> None:
        print(f"[{done}/{total}] {key}", file=sys.stderr, flush=True)

    engine = store_engine.connect(args.database_url or config.database_url())
    with engine.connect() as conn:
        outcomes = load_series.forecast_all(
            conn,
            access.SYSTEM,
            args.level,
            horizon,
            calendar=args.calendar,
            workers=args.workers,
            progress=report,
        )
    frames = [o.forecast.frame.assign(key=o.key) for o in outcomes if o.forecast is not None]
    failed = {o.key: o.error for o in outcomes if o.forecast is None}
    if frames:
        combined = pd.concat(frames, ignore_index=True)
        _write(combined[["key", *frames[0].columns.drop("key")]], args.out)
    for key, error in failed.items():
        print(f"{key}: {error}", file=sys.stderr)
    print(f"Forecast {len(frames)} of {len(outcomes)} series into {args.out}")
    return 0 if frames else 2
