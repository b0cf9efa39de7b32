"""The one validator of readings (and weather) files and frames outside an import.

The tariff page's load upload, the forecast page's weather upload and the command lines read a
file with the import's reader and check it with the import's checks, so a file gets the same
verdict and the same row numbers everywhere; only, where the import keeps the good rows and
rejects the bad ones, these refuse a file with any bad row and say which rows and why.
"""

import datetime as dt
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from core import calendars, i18n
from core.errors import UserError
from core.ingest import check_frame, headers, reasons, sources
from core.store import rules, schema

# A file with one series: readings without a customer column, weather without a district.
SINGLE_SERIES = "-"
# Rejected rows a refusal lists; the count says how many more there are.
LISTED_PROBLEMS = 5
SERIES_COLUMNS = {"readings": "customer_id", "weather": "region"}


class FileRejected(UserError):
    """A file with rows that fail the checks: which rows, and why, in the reader's language.

    Attributes:
        problems: every rejected value: ``row_number``, ``column_name``, ``value``,
            ``reason_code``, ``reason_values``.
    """

    def __init__(self, file_name: str, problems: pd.DataFrame) -> None:
        self.problems = problems.sort_values("row_number", kind="stable").reset_index(drop=True)
        self.file_name = file_name
        super().__init__(
            "ingest.error.rows_rejected",
            file_name=file_name,
            count=self.problems["row_number"].nunique(),
            rows=self._listing("en"),
        )

    def _listing(self, language: str) -> str:
        shown = self.problems.head(LISTED_PROBLEMS)
        lines = [
            i18n.translate(
                "ingest.error.row_reason",
                language,
                row=int(number),
                reason=reasons.text(code, values, language),
            )
            for number, code, values in zip(
                shown["row_number"], shown["reason_code"], shown["reason_values"], strict=True
            )
        ]
        more = len(self.problems) - len(shown)
        if more > 0:
            lines.append(i18n.translate("ingest.error.more_rows", language, count=more))
        return "; ".join(lines)

    def text(self, language: str) -> str:
        """The refusal in ``language``, the listed reasons too."""
        return i18n.translate(
            self.key,
            language,
            file_name=self.file_name,
            count=self.problems["row_number"].nunique(),
            rows=self._listing(language),
        )


def _check(
    table_name: str,
    source: sources.Source,
    *,
    capacity_kva: float | None,
    now: dt.datetime | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of a file through the import's checks: (good records, rejected values)."""
    table = schema.metadata.tables[table_name]
    series = SERIES_COLUMNS[table_name]
    given = list(source.headers)
    mapping, missing = headers.map_headers(table_name, given)
    single = series in missing
    if single:
        mapping, missing = headers.map_headers(table_name, [*given, series])
    if missing:
        headers.map_columns(table_name, [*given, series] if single else given)
    context = check_frame.Context(table=table, now=now or dt.datetime.now())
    records, problems = [], []
    for chunk in source.chunks():
        if single:
            chunk.frame = chunk.frame.assign(**{series: SINGLE_SERIES})
        good, bad = check_frame.check(chunk, mapping, context)
        records.append(good)
        problems.append(bad)
    if source.malformed:
        problems.append(
            pd.DataFrame(
                {
                    "row_number": [number for number, _ in source.malformed],
                    "column_name": None,
                    "value": [text for _, text in source.malformed],
                    "reason_code": reasons.MALFORMED,
                    "reason_values": reasons.values_json(None, fields=len(source.headers)),
                }
            )
        )
    good = pd.concat(records, ignore_index=True) if records else pd.DataFrame()
    bad = pd.concat(problems, ignore_index=True) if problems else pd.DataFrame()
    if good.empty:
        return good, bad
    key = list(headers.key_columns(table))
    repeated = good.duplicated(key, keep="first")
    if repeated.any():
        first = good[~repeated].set_index(key)["source_row"]
        firsts = first.reindex(pd.MultiIndex.from_frame(good.loc[repeated, key])).to_numpy()
        # A file of one series has no series column to speak of.
        words = ", ".join(
            mapping.header_of(name) for name in key if not (single and name == series)
        )
        bad = pd.concat(
            [
                bad,
                pd.DataFrame(
                    {
                        "row_number": good.loc[repeated, "source_row"].to_numpy(),
                        "column_name": ", ".join(key),
                        "value": good.loc[repeated, key].astype(str).agg(", ".join, axis=1),
                        "reason_code": reasons.DUPLICATE,
                        "reason_values": [
                            reasons.values_json(words, row=int(row)) for row in firsts
                        ],
                    }
                ),
            ],
            ignore_index=True,
        )
        good = good[~repeated]
    if table_name == "readings" and capacity_kva is not None:
        good, over = _over_capacity(good, capacity_kva, mapping.header_of("kwh"))
        bad = pd.concat([bad, over], ignore_index=True)
    return good.reset_index(drop=True), bad


def interval_minutes(readings: pd.DataFrame) -> pd.Series:
    """Each series' reading interval: the most frequent step between consecutive readings.

    Args:
        readings: ``customer_id`` and ``ts``, in any order.

    Returns:
        Minutes by customer id; a customer with a single reading has none.
    """
    ordered = readings.sort_values(["customer_id", "ts"], kind="stable")
    minutes = ordered["ts"].astype("datetime64[us]").astype("int64") // 60_000_000
    steps = minutes.groupby(ordered["customer_id"].to_numpy(), sort=False).diff()
    pairs = pd.DataFrame(
        {"customer_id": ordered["customer_id"].to_numpy(), "minutes": steps.to_numpy()}
    ).dropna()
    pairs = pairs[pairs["minutes"] > 0]
    if pairs.empty:
        return pd.Series(dtype="float64")
    counts = pairs.value_counts().rename("count").reset_index()
    counts = counts.sort_values(["customer_id", "count", "minutes"], ascending=[True, False, True])
    first = counts.drop_duplicates("customer_id")
    return pd.Series(first["minutes"].to_numpy(dtype=float), index=first["customer_id"].to_numpy())


def _over_capacity(
    good: pd.DataFrame, capacity_kva: float, header: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rule table's capacity rule over a whole file (the interval from its densest day)."""
    rule = next(rule for rule in rules.RULES if isinstance(rule, rules.WithinCapacity))
    per_day = good.groupby(["customer_id", good["ts"].dt.floor("D")]).size()
    densest = per_day.groupby(level=0).max()
    minutes = good["customer_id"].map(densest.map(rules.minutes_for_readings_per_day))
    broken = (good["kwh"] > rules.capacity_limit_kwh(capacity_kva, minutes)).to_numpy()
    over = pd.DataFrame(
        {
            "row_number": good.loc[broken, "source_row"].to_numpy(),
            "column_name": "kwh",
            "value": good.loc[broken, "kwh"].astype(str).to_numpy(),
            "reason_code": rule.code,
            "reason_values": reasons.values_json(header, **rule.values),
        }
    )
    return good[~broken], over


def _open(source: str | Path | BinaryIO, file_name: str | None) -> tuple[sources.Source, BinaryIO]:
    name = sources.file_label(source, file_name)
    handle = sources.open_binary(source, name)
    try:
        opened = sources.open_source(handle, name)
    except Exception:
        if isinstance(source, str | Path):
            handle.close()
        raise
    return opened, handle


def _read(
    table_name: str,
    source: str | Path | BinaryIO,
    file_name: str | None,
    capacity_kva: float | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    opened, handle = _open(source, file_name)
    try:
        try:
            good, bad = _check(table_name, opened, capacity_kva=capacity_kva, now=now)
        except sources.MalformedRows:
            opened.exact = True
            good, bad = _check(table_name, opened, capacity_kva=capacity_kva, now=now)
    finally:
        if isinstance(source, str | Path):
            handle.close()
    if len(bad):
        raise FileRejected(opened.file_name, bad)
    if good.empty:
        raise UserError("ingest.error.no_rows", file_name=opened.file_name)
    return good.drop(columns="source_row")


def read_readings(
    source: str | Path | BinaryIO,
    file_name: str | None = None,
    *,
    capacity_kva: float | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Reads a readings file the way the import does and returns its readings, all good.

    Args:
        source: a path or a binary file object (an upload).
        file_name: the name, which decides the format (default: the path's).
        capacity_kva: the contract capacity the readings must fit (the rule table's capacity
            rule); None checks the absolute limits only.
        now: the moment "the future" starts (default: now).

    Returns:
        ``customer_id`` (:data:`SINGLE_SERIES` when the file has none), ``ts``, ``kwh`` and
        ``kvarh`` (missing when the file has none), sorted by customer and time.

    Raises:
        FileRejected: rows that fail a check, named with their row numbers.
        UserError: the file cannot be read, lacks a column or holds no readings.
    """
    good = _read("readings", source, file_name, capacity_kva, now)
    return _readings_frame(good)


def _readings_frame(good: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": good["customer_id"].astype(str).to_numpy(),
            "ts": good["ts"].astype("datetime64[ns]").to_numpy(),
            "kwh": good["kwh"].astype(float).to_numpy(),
            "kvarh": good["kvarh"].astype(float).to_numpy()
            if "kvarh" in good
            else np.full(len(good), np.nan),
        }
    )
    return frame.sort_values(["customer_id", "ts"], kind="stable").reset_index(drop=True)


def validate_readings(
    readings: pd.DataFrame,
    name: str = "readings",
    *,
    capacity_kva: float | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Checks readings held in a frame (from the store, a profile, a caller) like a file's.

    Args:
        readings: ``ts`` and ``kwh``, optionally ``kvarh`` and ``customer_id``; time-zone-aware
            times are converted to local time. Row 2 is the first row, as in a spreadsheet.
        name: how to name the readings in messages.
        capacity_kva: as in :func:`read_readings`.
        now: as in :func:`read_readings`.

    Returns:
        The readings as :func:`read_readings` returns them.

    Raises:
        FileRejected: rows that fail a check.
        UserError: a column is missing or there are no readings.
    """
    if not isinstance(readings, pd.DataFrame) or readings.empty:
        raise UserError("ingest.error.no_rows", file_name=name)
    frame = readings.rename(columns=lambda column: str(column).strip())
    if isinstance(frame.get("ts", pd.Series(dtype=object)).dtype, pd.DatetimeTZDtype):
        frame = frame.assign(
            ts=frame["ts"].dt.tz_convert(calendars.LOCAL_TIME).dt.tz_localize(None)
        )
    source = sources.Source(
        file_name=name,
        headers=[str(column) for column in frame.columns],
        encoding="frame",
        estimated_rows=len(frame),
        chunks=lambda: iter([sources.Chunk(2, frame.reset_index(drop=True))]),
    )
    good, bad = _check("readings", source, capacity_kva=capacity_kva, now=now)
    if len(bad):
        raise FileRejected(name, bad)
    return _readings_frame(good)


def read_weather(source: str | Path | BinaryIO, file_name: str | None = None) -> pd.DataFrame:
    """Reads an hourly temperature file (``ts``, ``temperature_c``) the way the import does.

    Returns:
        ``ts`` and ``temperature_c``, sorted by time.

    Raises:
        FileRejected: rows that fail a check.
        UserError: the file cannot be read, lacks a column or holds no rows.
    """
    # Forecasts of the weather lie in the future: only implausible dates are refused.
    good = _read("weather", source, file_name)
    frame = good[["ts", "temperature_c"]].astype({"temperature_c": float})
    frame["ts"] = frame["ts"].astype("datetime64[ns]")
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)
