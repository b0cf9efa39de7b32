"""Data quality (数据治理): import files, see what was rejected and why, watch the figures."""

import pandas as pd
import plotly.express as px
import streamlit as st

from core import access, ingest, quality
from ui import charts, downloads, session

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
def _rejected(import_id: int | None, language: str) -> pd.DataFrame:
    return ingest.rejected_rows(session.engine(), import_id, language=language)


@session.cached
def _imports() -> pd.DataFrame:
    return quality.recent_imports(session.engine())


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


# Counts of rows and readings run to millions: thousands separators keep them readable.
COUNT_FORMAT = st.column_config.NumberColumn(format="%,d")


def _rejected_table(frame: pd.DataFrame, key: str) -> None:
    frame = access.mask_frame(viewer, frame)
    shown = frame.assign(table_name=frame["table_name"].map(_table_label)).rename(
        columns=lambda name: t(f"data_quality.column.{name}")
    )
    st.dataframe(shown, hide_index=True, width="stretch")
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
    except ValueError as error:
        st.error(t("data_quality.cannot_import", error=str(error)))
        return
    st.subheader(t("data_quality.mapping"))
    st.caption(t(f"data_quality.layout.{mapping.layout}"))
    frame = mapping.as_frame().fillna({"column": t("data_quality.ignored")})
    st.dataframe(
        frame.rename(columns=lambda name: t(f"data_quality.column.{name}")),
        hide_index=True,
        width="stretch",
    )
    if st.button(t("data_quality.import_button"), type="primary", key="import_button"):
        bar = st.progress(0.0, text=t("data_quality.progress", rows=0))

        def progress(rows: int, share: float) -> None:
            bar.progress(share, text=t("data_quality.progress", rows=f"{rows:,}"))

        try:
            result = ingest.import_file(
                session.engine(),
                table,
                upload,
                file_name=upload.name,
                source_system=system.strip() or None,
                viewer=viewer,
                progress=progress,
            )
        except ValueError as error:
            st.error(t("data_quality.cannot_import", error=str(error)))
            return
        bar.progress(1.0, text=t("data_quality.done"))
        st.session_state["last_import"] = result
    result = st.session_state.get("last_import")
    if result is None or result.file_name != upload.name:
        return
    read, landed, rejected, replaced = st.columns(4)
    read.metric(t("data_quality.rows_read"), f"{result.rows_read:,}")
    landed.metric(t("data_quality.rows_landed"), f"{result.rows_landed:,}")
    rejected.metric(t("data_quality.rows_rejected"), f"{result.rows_rejected:,}")
    replaced.metric(t("data_quality.rows_replaced"), f"{result.rows_replaced:,}")
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
        _rejected_table(_rejected(result.import_id, session.language()), key="download_last")
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
            st.dataframe(detail, hide_index=True, width="stretch")
    trend = _trend()
    st.subheader(t("data_quality.trend"))
    shares = trend[trend["metric"] != "arrival_lag_hours"]
    if shares.empty:
        st.info(t("data_quality.no_trend"))
        return
    shares = shares.assign(
        figure=shares["metric"].map(_metric_label) + " · " + shares["table_name"].map(_table_label)
    )
    chart = px.line(
        shares,
        x="import_id",
        y="value",
        color="figure",
        markers=True,
        labels={
            "import_id": t("data_quality.import_number"),
            "value": t("data_quality.share"),
            "figure": t("data_quality.figure"),
        },
    )
    chart.update_yaxes(tickformat=".0%")
    charts.show(chart, key="quality_trend")


def _rejected_tab() -> None:
    imports = _imports()
    if not imports.empty:
        st.subheader(t("data_quality.recent_imports"))
        st.dataframe(
            imports.drop(columns=["data_end"]).rename(
                columns=lambda name: t(f"data_quality.column.{name}")
            ),
            hide_index=True,
            width="stretch",
        )
    rejected = _rejected(None, session.language())
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
                frame.rename(columns=lambda column: t(f"data_quality.column.{column}")),
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
