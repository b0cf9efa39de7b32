"""Many series forecast in parallel processes, one outcome per series."""

import concurrent.futures
import contextlib
import dataclasses
import multiprocessing
import sys
import types
from collections.abc import Callable, Iterator, Sequence

import pandas as pd

from core.forecast.forecasting import forecast
from core.forecast.series import Forecast


@dataclasses.dataclass(frozen=True)
class SeriesTask:
    """One series to forecast in a batch.

    Attributes:
        key: the series' name (a district, a class, a customer id).
        history: ``ds``, ``y`` and optionally ``temperature_c``.
        future: future temperature, when the history has temperature.
    """

    key: str
    history: pd.DataFrame
    future: pd.DataFrame | None = None


@dataclasses.dataclass(frozen=True)
class SeriesOutcome:
    """The forecast of one series of a batch, or why there is none.

    Attributes:
        key: the series' name.
        forecast: the forecast, None when the series could not be forecast.
        error: the reason in words for the user, None on success.
    """

    key: str
    forecast: Forecast | None
    error: str | None


def forecast_one(task: SeriesTask, options: dict) -> SeriesOutcome:
    """Forecasts one task; a series that cannot be forecast comes back with its reason.

    Args:
        task: the series.
        options: keyword arguments for :func:`forecast`.

    Returns:
        The outcome.
    """
    try:
        return SeriesOutcome(task.key, forecast(task.history, future=task.future, **options), None)
    except ValueError as error:
        return SeriesOutcome(task.key, None, str(error))


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Keeps spawned workers from running the parent's ``__main__`` script again.

    A spawned process imports the parent's main script by its path. Inside Streamlit (and its
    AppTest) ``__main__`` is the page being run, which must not run again in a worker; the
    workers need only this module, which they import by name. Processes start while tasks are
    submitted, so the submissions happen inside this context.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    stand_in = types.ModuleType("__main__")
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def forecast_many(
    tasks: Sequence[SeriesTask],
    *,
    workers: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    **options,
) -> list[SeriesOutcome]:
    """Forecasts many series in parallel processes, in the order given.

    Args:
        tasks: the series.
        workers: processes to use (default: the machine's CPUs); 1 runs in this process.
        progress: called as ``progress(done, total, key)`` after each series.
        **options: keyword arguments for :func:`forecast` shared by every series.

    Returns:
        One outcome per task, in the order of ``tasks``.
    """
    total = len(tasks)
    outcomes: dict[str, SeriesOutcome] = {}
    if workers == 1 or total <= 1:
        for done, task in enumerate(tasks, start=1):
            outcomes[task.key] = forecast_one(task, options)
            if progress:
                progress(done, total, task.key)
    else:
        # spawned, not forked: a fork copies the parent's OpenMP and logging locks mid-use and
        # the children can hang on them
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context
        ) as pool:
            with _main_script_hidden():
                pending = {pool.submit(forecast_one, task, options): task.key for task in tasks}
            for done, finished in enumerate(concurrent.futures.as_completed(pending), start=1):
                outcome = finished.result()
                outcomes[outcome.key] = outcome
                if progress:
                    progress(done, total, outcome.key)
    return [outcomes[task.key] for task in tasks]
