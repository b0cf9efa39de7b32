"""Data quality (数据治理): import files, see what was rejected and why, watch the figures."""

import pandas as pd
import plotly.express as px
import streamlit as st

from core import access, errors, ingest, quality
from ui import charts, downloads, session, tables

t = session.t
viewer = session.require_page("pages/data_quality.py")
UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet"]


@session.cached
def _report(viewer: access.Viewer) -> pd.DataFrame:
    return quality.report(session.engine(), viewer)


@session.cached
def _drill_down(viewer: access.Viewer, metric: str, table: str, system: str | None) -> pd.DataFrame:
    return quality.drill_down(session.engine(), viewer, metric, table, system)


@session.cached
def _trend() -> pd.DataFrame:
    return quality.trend(session.engine())


@session.cached
def _conflicts(viewer: access.Viewer) -> dict[str, pd.DataFrame]:
    return quality.id_conflicts(session.engine(), viewer)


@session.cached
def _rejected(viewer: access.Viewer, import_id: int | None, language: str) -> pd.DataFrame:
    return ingest.rejected_rows(session.engine(), viewer, import_id, language=language)


@session.cached
def _imports(viewer: access.Viewer) -> pd.DataFrame:
    return quality.recent_imports(session.engine(), viewer)


def _metric_label(metric: str) -> str:
    return t(f"data_quality.metric.{metric}")


def _table_label(table: str) -> str:
    return t(f"data_quality.table_name.{table}")


def _system_label(system: object) -> str:
    # Id systems by the names the archive uses for them; a system of an import's own naming
    # (a source system typed in) is shown as it was typed.
    if not isinstance(system, str) or not system:
        return "—"
    key = f"customer360.system.{system}"
    shown = t(key)
    return system if shown == key else shown


def _blank_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Empty cells of text columns shown empty, not as the word None."""
    text = [name for name in frame.columns if frame[name].dtype == object]
    return frame.assign(**{name: frame[name].where(frame[name].notna(), "") for name in text})


# Counts of rows and readings run to millions: thousands separators keep them readable.
COUNT_FORMAT = st.column_config.NumberColumn(format="%,d")


def _rejected_table(frame: pd.DataFrame, key: str) -> None:
    frame = access.mask_frame(viewer, frame)
    shown = frame.assign(table_name=frame["table_name"].map(_table_label)).rename(
        columns=lambda name: t(f"data_quality.column.{name}")
    )
    st.dataframe(
        _blank_missing(shown),
        hide_index=True,
        width="stretch",
        column_config=tables.zoned_times(shown),
    )
    downloads.offer(t("data_quality.download_rejected"), frame, "rejected_rows", key=key)


def _import_tab() -> None:
    left, right = st.columns(2)
    table = left.selectbox(
        t("data_quality.table"),
        ingest.tables(),
        format_func=lambda name: t(f"data_quality.table_name.{name}"),
        key="import_table",
    )
    system = right.text_input(
        t("data_quality.source_system"),
        key="import_source_system",
        help=t("data_quality.source_system_help"),
    )
    upload = st.file_uploader(t("data_quality.upload"), type=UPLOAD_TYPES, key="import_file")
    if upload is None:
        st.info(t("data_quality.upload_hint"))
        return
    try:
        mapping = ingest.preview_mapping(table, upload, file_name=upload.name)
    except errors.UserError as error:
        session.show_error(error)
        return
    st.subheader(t("data_quality.mapping"))
    st.caption(t(f"data_quality.layout.{mapping.layout}"))
    frame = mapping.as_frame().fillna({"column": t("data_quality.ignored")})
    st.dataframe(
        frame.rename(columns=lambda name: t(f"data_quality.column.{name}")),
        hide_index=True,
        width="stretch",
    )
    options = {"file_name": upload.name, "source_system": system.strip() or None, "viewer": viewer}
    replace = table in ingest.RANGE_TABLES and st.checkbox(
        t("data_quality.replace_range"), key="import_replace", help=t("data_quality.replace_help")
    )
    if replace:
        _replace_range(table, upload, options)
    elif st.button(t("data_quality.import_button"), type="primary", key="import_button"):
        _run_import(table, upload, options)
    result = st.session_state.get("last_import")
    if result is None or result.file_name != upload.name:
        return
    _import_summary(result)


def _run_import(table: str, upload, options: dict, **replacing) -> None:
    bar = st.progress(0.0, text=t("data_quality.progress", rows=0))

    def progress(rows: int, share: float) -> None:
        bar.progress(share, text=t("data_quality.progress", rows=f"{rows:,}"))

    try:
        result = ingest.import_file(
            session.engine(), table, upload, progress=progress, **options, **replacing
        )
    except errors.UserError as error:
        bar.empty()
        session.show_error(error)
        return
    bar.progress(1.0, text=t("data_quality.done"))
    st.session_state["last_import"] = result
    st.session_state.pop("range_check", None)


def _replace_range(table: str, upload, options: dict) -> None:
    """Replacing a range deletes stored rows: count them first, then ask."""
    if st.button(t("data_quality.check_range"), key="check_range_button"):
        try:
            check = ingest.import_file(
                session.engine(), table, upload, replace_range=True, dry_run=True, **options
            )
        except errors.UserError as error:
            session.show_error(error)
            return
        st.session_state["range_check"] = (upload.name, check.rows_removed, check.rows_landed)
    checked = st.session_state.get("range_check")
    if checked is None or checked[0] != upload.name:
        return
    _, removed, landed = checked
    st.warning(t("data_quality.range_removes", removed=f"{removed:,}", landed=f"{landed:,}"))
    if st.button(t("data_quality.confirm_range"), type="primary", key="confirm_range_button"):
        _run_import(table, upload, options, replace_range=True, confirm_removals=removed)


def _import_summary(result: ingest.ImportResult) -> None:
    read, updated, inserted, rejected, removed = st.columns(5)
    read.metric(t("data_quality.rows_read"), f"{result.rows_read:,}")
    updated.metric(t("data_quality.rows_updated"), f"{result.rows_updated:,}")
    inserted.metric(t("data_quality.rows_inserted"), f"{result.rows_inserted:,}")
    rejected.metric(t("data_quality.rows_rejected"), f"{result.rows_rejected:,}")
    removed.metric(t("data_quality.rows_removed"), f"{result.rows_removed:,}")
    st.caption(t("data_quality.encoding", encoding=result.encoding))
    if result.customer_intervals:
        st.caption(
            t("data_quality.intervals", intervals=result.interval_summary(session.language()))
        )
    if result.rows_rejected:
        st.warning(t("data_quality.rejected_warning", count=result.rows_rejected))
        reasons = result.reason_summary(session.language())
        st.dataframe(
            reasons.rename(columns=lambda name: t(f"data_quality.column.{name}")),
            hide_index=True,
            width="stretch",
        )
        _rejected_table(
            _rejected(viewer, result.import_id, session.language()), key="download_last"
        )
    else:
        st.success(t("data_quality.all_landed"))


def _quality_tab() -> None:
    report = _report(viewer)
    shown = report.assign(
        figure=report["metric"].map(_metric_label),
        dimension_name=report["dimension"].map(lambda name: t(f"data_quality.dimension.{name}")),
        table=report["table_name"].map(_table_label),
        source_system=report["source_system"].map(_system_label),
        shown_value=[
            ""
            if pd.isna(value)
            else (f"{value:,.1f} h" if metric == "arrival_lag_hours" else f"{value:.1%}")
            for metric, value in zip(report["metric"], report["value"], strict=True)
        ],
    )
    columns = [
        "dimension_name",
        "table",
        "source_system",
        "figure",
        "shown_value",
        "numerator",
        "denominator",
    ]
    st.caption(t("data_quality.select_hint"))
    selection = st.dataframe(
        shown[columns].rename(columns=lambda name: t(f"data_quality.column.{name}")),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="quality_figures",
        column_config={
            t("data_quality.column.numerator"): COUNT_FORMAT,
            t("data_quality.column.denominator"): COUNT_FORMAT,
        },
    )
    rows = selection.selection.rows if selection is not None else []
    if rows:
        chosen = report.iloc[rows[0]]
        system = chosen["source_system"] if isinstance(chosen["source_system"], str) else None
        st.subheader(t("data_quality.drill_down", figure=_metric_label(chosen["metric"])))
        detail = _drill_down(viewer, chosen["metric"], chosen["table_name"], system)
        if detail.empty:
            st.success(t("data_quality.nothing_to_fix"))
        else:
            if "problem" in detail.columns:
                detail = detail.assign(
                    problem=detail["problem"].map(lambda code: t(f"data_quality.problem.{code}"))
                )
            st.dataframe(_blank_missing(detail), hide_index=True, width="stretch")
    trend = _trend()
    st.subheader(t("data_quality.trend"))
    shares = trend[trend["metric"] != "arrival_lag_hours"]
    if shares.empty:
        st.info(t("data_quality.no_trend"))
        return
    shares = shares.assign(
        figure=shares["metric"].map(_metric_label) + " · " + shares["table_name"].map(_table_label),
        import_label=shares["import_id"].map(lambda number: f"#{number}"),
    )
    chart = px.line(
        shares,
        x="import_label",
        y="value",
        color="figure",
        markers=True,
        labels={
            "import_label": t("data_quality.import_number"),
            "value": t("data_quality.share"),
            "figure": t("data_quality.column.figure"),
        },
    )
    # Imports are counted, not measured: one tick per import, never 1.2.
    chart.update_xaxes(type="category")
    chart.update_yaxes(tickformat=".0%")
    charts.show(chart, key="quality_trend")


def _rejected_tab() -> None:
    imports = _imports(viewer)
    if not imports.empty:
        st.subheader(t("data_quality.recent_imports"))
        shown = imports.drop(columns=["data_end"]).assign(
            table_name=imports["table_name"].map(_table_label),
            accepted_share=imports["accepted_share"].map(
                lambda share: "" if pd.isna(share) else f"{share:.0%}"
            ),
            lag_hours=imports["lag_hours"].round(1),
        )
        shown = _blank_missing(shown).rename(columns=lambda name: t(f"data_quality.column.{name}"))
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                t("data_quality.column.rows_read"): COUNT_FORMAT,
                **tables.zoned_times(shown),
            },
        )
    rejected = _rejected(viewer, None, session.language())
    st.subheader(t("data_quality.rejected_rows"))
    if rejected.empty:
        st.success(t("data_quality.no_rejected"))
        return
    _rejected_table(rejected, key="download_all")


def _conflicts_tab() -> None:
    conflicts = _conflicts(viewer)
    for name in ("shared_external_ids", "multiple_contracts"):
        st.subheader(t(f"data_quality.conflict.{name}"))
        frame = conflicts[name]
        if frame.empty:
            st.success(t("data_quality.no_conflicts"))
        else:
            if "problem" in frame.columns:
                frame = frame.assign(
                    problem=frame["problem"].map(lambda code: t(f"data_quality.problem.{code}"))
                )
            if "system" in frame.columns:
                frame = frame.assign(system=frame["system"].map(_system_label))
            st.dataframe(
                _blank_missing(frame).rename(
                    columns=lambda column: t(f"data_quality.column.{column}")
                ),
                hide_index=True,
                width="stretch",
            )


st.title(t("data_quality.title"))
st.caption(t("data_quality.subtitle"))
importing, figures, rejected_rows, conflicts = st.tabs(
    [
        t("data_quality.tab_import"),
        t("data_quality.tab_quality"),
        t("data_quality.tab_rejected"),
        t("data_quality.tab_ids"),
    ]
)
with importing:
    _import_tab()
with figures:
    _quality_tab()
with rejected_rows:
    _rejected_tab()
with conflicts:
    _conflicts_tab()
