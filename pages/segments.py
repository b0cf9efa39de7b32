"""Segment explorer (用户分群): operable segments, load shapes, rule segments, target lists."""

import pandas as pd
import streamlit as st

from core import access, errors, segments, tags, target_lists
from core.segments import economics, matrix, naming, rules, targets
from ui import charts, downloads, segment_charts, session, tables

PAGE = "pages/segments.py"
FILTER_KEY = "segments_filter"
# Above this many customers the map gathers them by transformer area unless asked otherwise.
AREA_MAP_FROM = 1500
# Rows of a drill-down table drawn on screen; the target list holds them all.
DRILL_ROWS = 500
# Tags listed per segment: those most over-represented against all members.
TOP_TAGS = 5
CUSTOMER_LINK = "/customer_360?customer={customer_id}"

viewer = session.require_page(PAGE)
t = session.t


@session.cached
def _runs() -> pd.DataFrame:
    with session.engine().connect() as conn:
        return segments.all_runs(conn)


@session.cached
def _run(who: access.Viewer, run_id: int):
    with session.engine().connect() as conn:
        shown = segments.segments_of(conn, who, run_id)
        stored = segments.run_model(conn, run_id)
        per_segment, total = economics.summary(conn, who, run_id)
        moves = segments.migration(conn, who, run_id)
    return shown, stored, per_segment, total, moves


@session.cached(max_entries=8)
def _members(who: access.Viewer, run_id: int) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return segments.members(conn, who, run_id)


@session.cached(max_entries=8)
def _member_features(who: access.Viewer, run_id: int) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return segments.runs.member_features(conn, who, run_id)


@session.cached(max_entries=8)
def _tag_shares(who: access.Viewer, run_id: int) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return economics.tag_shares(conn, who, run_id)


@session.cached(max_entries=16)
def _impact(who: access.Viewer, run_id: int, segment_id: int) -> pd.DataFrame:
    return economics.bill_impact(session.engine(), who, run_id, segment_id)


@session.cached(max_entries=16)
def _targets(who: access.Viewer, run_id: int, segment_ids: tuple[int, ...], language: str):
    with session.engine().connect() as conn:
        return targets.segment_targets(conn, who, run_id, list(segment_ids), language)


# Saved rules and lists are read afresh each run: saving one changes no data version, and a rule's
# count follows the data at once.
def _saved_rules(who: access.Viewer) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return rules.saved(conn, who)


def _lists(who: access.Viewer) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return target_lists.target_lists(conn, who)


def _fit_form(has_run: bool) -> None:
    with st.expander(t("segments.fit_title"), expanded=not has_run):
        st.caption(
            t(
                "segments.fit_help",
                share=f"{segments.MIN_SEGMENT_SHARE:.0%}",
                most=segments.MAX_SEGMENTS,
            )
        )
        automatic = st.toggle(t("segments.k_auto"), value=True, key="segments_k_auto")
        k = None
        if not automatic:
            k = int(st.number_input(t("segments.k"), 2, 20, 6, step=1, key="segments_k"))
        if not st.button(t("segments.run"), type="primary", key="segments_run"):
            return
        bar = st.progress(0.0, text=t("segments.step.features"))

        def report(step: str, fraction: float) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=t(f"segments.step.{step}"))

        try:
            run = segments.fit(session.engine(), viewer, k=k, progress=report)
        except errors.UserError as error:
            session.show_error(error)
            return
        st.session_state["segments_run_id"] = run.run_id
        st.session_state.pop(FILTER_KEY, None)
        st.rerun()


def _run_label(row) -> str:
    return t(
        "segments.run_label",
        run_id=int(row.id),
        at=f"{pd.Timestamp(row.created_at):%Y-%m-%d %H:%M}",
        by=row.created_by,
        k=int(row.k),
        customers=f"{int(row.customers):,}",
    )


def _pick_from(key: str, ids_key: str) -> None:
    """A selection in the table, the chart or the map becomes the page's segment filter."""
    state = st.session_state.get(key)
    selection = getattr(state, "selection", None) or (state or {}).get("selection", {})
    chosen: list[int] = []
    if "rows" in selection:
        ids = st.session_state.get(ids_key, [])
        chosen = [ids[row] for row in selection["rows"] if row < len(ids)]
    elif "points" in selection:
        for point in selection["points"]:
            data = point.get("customdata")
            # A point's custom data is its segment id, or a list that starts with it.
            data = data[0] if isinstance(data, list | tuple) and data else data
            if data is not None:
                chosen.append(int(data))
    elif "objects" in selection:
        chosen = [
            int(item["segment_id"]) for items in selection["objects"].values() for item in items
        ]
    if chosen:
        st.session_state[FILTER_KEY] = sorted(set(chosen))


def _overview_table(shown, per_segment, names, reasons) -> pd.DataFrame:
    figures = per_segment.set_index("segment_id")
    table = pd.DataFrame(
        {
            "segment_id": shown["segment_id"],
            "segment": shown["segment_id"].map(names),
            "customers": shown["customers"],
            "share": shown["share"] * 100,
            "annual_kwh": shown["segment_id"].map(figures["annual_kwh"]),
            "annual_revenue_cny": shown["segment_id"].map(figures["annual_revenue_cny"]),
            "arrears_cny": shown["segment_id"].map(figures["arrears_cny"]),
            "complaint_rate": shown["segment_id"].map(figures["complaint_rate"]) * 100,
            "online_share": shown["segment_id"].map(figures["online_share"]) * 100,
            "reason": shown["segment_id"].map(reasons),
        }
    )
    return table


def _column(name: str) -> str:
    return t(f"segments.column.{name}")


PERCENT_COLUMNS = ("share", "complaint_rate", "online_share")


def _sizes_and_value(shown, per_segment, names, reasons) -> None:
    table = _overview_table(shown, per_segment, names, reasons)
    left, right = st.columns([2, 3])
    with left:
        charts.show(
            segment_charts.sizes_figure(table, names),
            key="segments_sizes",
            on_select=lambda: _pick_from("segments_sizes", ""),
            selection_mode="points",
        )
    with right:
        st.session_state["segments_table_ids"] = table["segment_id"].tolist()
        config = {
            _column(name): st.column_config.NumberColumn(format="%.1f%%")
            for name in PERCENT_COLUMNS
        }
        tables.show(
            table,
            _column,
            column_config=config,
            key="segments_table",
            on_select=lambda: _pick_from("segments_table", "segments_table_ids"),
            selection_mode="single-row",
        )
    st.caption(t("segments.select_hint"))


def _filter(shown: pd.DataFrame, names: dict[int, str]) -> list[int]:
    options = shown["segment_id"].astype(int).tolist()
    kept = [value for value in st.session_state.get(FILTER_KEY, []) if value in options]
    st.session_state[FILTER_KEY] = kept
    chosen = st.multiselect(
        t("segments.filter"),
        options,
        format_func=lambda segment_id: names[segment_id],
        key=FILTER_KEY,
        placeholder=t("segments.filter_all"),
    )
    return chosen or options


def _profiles(shown, stored, names, selected, run_id) -> None:
    base = segments.runs.base_profile(stored)
    language = session.language()
    profile = {int(row.segment_id): row.profile for row in shown.itertuples(index=False)}
    rows = []
    for feature in matrix.CLUSTER_FEATURES:
        row = {"feature": t(f"tags.feature.{feature}")}
        row[t("segments.everyone")] = naming.format_figure(feature, base[feature], language)
        for segment_id in selected:
            value = profile[segment_id][feature]
            row[names[segment_id]] = naming.format_figure(feature, value, language)
        rows.append(row)
    left, right = st.columns([3, 2])
    with left:
        st.dataframe(
            pd.DataFrame(rows).rename(columns={"feature": t("segments.column.feature")}),
            hide_index=True,
            width="stretch",
        )
    with right:
        feature = st.selectbox(
            t("segments.distribution_of"),
            matrix.CLUSTER_FEATURES,
            format_func=lambda name: t(f"tags.feature.{name}"),
            key="segments_distribution",
        )
        values = _member_features(viewer, run_id)
        charts.show(
            segment_charts.profile_figure(values, feature, names, selected),
            key="segments_distribution_chart",
        )
    shares = _tag_shares(viewer, run_id)
    rule_by_name = {rule.name: rule for rule in tags.load_rules()}
    lines = []
    for segment_id in selected:
        if segment_id not in shares.index:
            continue
        lift = (shares.loc[segment_id] - shares.loc[-1]).sort_values(ascending=False)
        common = [name for name in lift.index[:TOP_TAGS] if shares.loc[segment_id, name] > 0]
        chips = " · ".join(
            t(
                "segments.tag_share",
                tag=tags.tag_name(rule_by_name[name], language),
                share=f"{shares.loc[segment_id, name]:.0%}",
                base=f"{shares.loc[-1, name]:.0%}",
            )
            for name in common
        )
        lines.append(f"**{names[segment_id]}** — {chips or t('segments.no_tags')}")
    st.markdown(t("segments.frequent_tags"))
    st.markdown("  \n".join(lines))


def _shapes(stored, members, names, selected) -> None:
    stored_shapes = stored.get("shapes")
    if not stored_shapes:
        st.info(t("segments.no_shapes"))
        return
    criterion = stored_shapes["criterion"]
    st.caption(
        t("segments.shapes_caption", k=criterion["k"], criterion=t("segments.criterion.calinski"))
    )
    within = members[members["segment_id"].isin(selected)]
    mix = within["shape_cluster"].value_counts(normalize=True)
    default = [int(value) for value in mix.index[:3]] or stored_shapes["ids"][:3]
    shown_shapes = st.multiselect(
        t("segments.shapes_shown"),
        stored_shapes["ids"],
        default=default,
        format_func=lambda shape_id: t("segments.shape_name", id=shape_id),
        key="segments_shapes_shown",
    )
    charts.show(segment_charts.shapes_figure(stored_shapes, shown_shapes), key="segments_shapes")
    crosstab = pd.crosstab(
        members["segment_id"].map(names),
        members["shape_cluster"].map(
            lambda shape_id: (
                t("segments.shape_name", id=int(shape_id)) if pd.notna(shape_id) else "—"
            )
        ),
    )
    st.caption(t("segments.shape_mix"))
    st.dataframe(crosstab, width="stretch")


def _side_by_side(shown, per_segment, names, reasons) -> None:
    options = shown["segment_id"].astype(int).tolist()
    if len(options) < 2:
        return
    figures = per_segment.set_index("segment_id")
    columns = st.columns(2)
    for index, column in enumerate(columns):
        with column:
            segment_id = st.selectbox(
                t("segments.compare_pick", number=index + 1),
                options,
                index=index,
                format_func=lambda value: names[value],
                key=f"segments_compare_{index}",
            )
            row = figures.loc[segment_id]
            with st.container(border=True):
                st.markdown(f"**{names[segment_id]}**")
                st.caption(reasons[segment_id])
                first, second, third = st.columns(3)
                first.metric(t("segments.customers"), f"{int(row['customers']):,}")
                second.metric(
                    t("segments.revenue"), segment_charts.money(row["annual_revenue_cny"])
                )
                third.metric(
                    t("segments.column.annual_kwh"), segment_charts.amount(row["annual_kwh"])
                )
                first.metric(
                    t("segments.column.arrears_cny"), segment_charts.money(row["arrears_cny"])
                )
                second.metric(t("segments.column.complaint_rate"), f"{row['complaint_rate']:.1%}")
                online = row["online_share"]
                third.metric(
                    t("segments.column.online_share"), "—" if pd.isna(online) else f"{online:.0%}"
                )


def _map(members, names) -> None:
    default = "areas" if len(members) > AREA_MAP_FROM else "customers"
    mode = (
        st.segmented_control(
            t("segments.map_mode"),
            ["areas", "customers"],
            default=default,
            format_func=lambda name: t(f"segments.map_{name}"),
            key="segments_map_mode",
        )
        or default
    )
    points = segments.runs.by_area(members) if mode == "areas" else members
    deck = segment_charts.segment_map(points, names, mode == "areas")
    if deck is None:
        st.info(t("segments.no_locations"))
        return
    st.pydeck_chart(
        deck,
        height=segment_charts.MAP_HEIGHT_PX,
        key="segments_map",
        on_select=lambda: _pick_from("segments_map", ""),
        selection_mode="single-object",
    )
    legend = " · ".join(
        f"<span style='color:{segment_charts.colour(segment_id)}'>●</span> {name}"
        for segment_id, name in names.items()
    )
    st.caption(legend, unsafe_allow_html=True)


def _economics(run_id, selected, names) -> None:
    segment_id = st.selectbox(
        t("segments.impact_pick"),
        selected,
        format_func=lambda value: names[value],
        key="segments_impact_segment",
    )
    if not st.toggle(t("segments.impact_run"), key="segments_impact_on"):
        st.caption(t("segments.impact_help"))
        return
    impact = _impact(viewer, run_id, int(segment_id))
    if impact.empty:
        st.info(t("segments.no_impact"))
        return
    language = session.language()
    shown = impact.assign(tariff=impact["name_zh"] if language == "zh" else impact["name"])[
        [
            "tariff",
            "eligible",
            "priced",
            "already_on",
            "savers",
            "payers",
            "current_bill_cny",
            "new_bill_cny",
            "change_cny",
            "median_change_cny",
        ]
    ]
    tables.show(shown, lambda name: t(f"segments.impact.{name}"))
    st.caption(t("segments.impact_caption"))


def _migration(moves, names) -> None:
    if moves.empty:
        st.caption(t("segments.no_previous_run"))
        return

    def label(segment_id: int) -> str:
        if segment_id == -1:
            return t("segments.migration_none")
        return names.get(int(segment_id), t("segments.shape_name", id=int(segment_id)))

    shown = moves.rename(index=label, columns=label)
    shown.index.name = t("segments.migration_from")
    st.caption(t("segments.migration_caption"))
    st.dataframe(shown, width="stretch")


def _drill_and_export(run_id, selected, names) -> None:
    language = session.language()
    frame = _targets(viewer, run_id, tuple(selected), language)
    st.caption(t("segments.drill_caption", count=f"{len(frame):,}", rows=DRILL_ROWS))
    shown = frame.head(DRILL_ROWS).assign(
        open=frame["customer_id"]
        .head(DRILL_ROWS)
        .map(lambda customer_id: CUSTOMER_LINK.format(customer_id=customer_id))
    )
    tables.show(
        shown,
        _column,
        column_config={
            _column("open"): st.column_config.LinkColumn(display_text=t("segments.open_360"))
        },
        key="segments_drill",
    )
    default_name = t(
        "segments.list_default_name",
        segments=", ".join(names[segment_id] for segment_id in selected),
    )[:200]
    name = st.text_input(t("segments.list_name"), value=default_name, key="segments_list_name")
    note = st.text_input(t("segments.list_note"), key="segments_list_note")
    if st.button(t("segments.list_save"), key="segments_list_save", disabled=frame.empty):
        try:
            with session.engine().begin() as conn:
                list_id = targets.save_segment_list(
                    conn, viewer, name, frame, run_id, selected, note or None
                )
        except errors.UserError as error:
            session.show_error(error)
        else:
            st.session_state["segments_saved_list"] = (list_id, tuple(selected), run_id)
    saved = st.session_state.get("segments_saved_list")
    if saved is not None and saved[1] == tuple(selected) and saved[2] == run_id:
        st.success(t("segments.list_saved", list_id=saved[0], count=f"{len(frame):,}"))
        downloads.offer(
            t("segments.target_list"),
            frame,
            f"target_list_{saved[0]}",
            key="segments_targets",
            labels=_column,
        )


def _rule_segments() -> None:
    st.caption(t("segments.rule_help"))
    expression = st.text_area(
        t("segments.rule"),
        key="segments_rule",
        placeholder="industrial AND peak share > 40% AND no arrears",
    )
    name = st.text_input(t("segments.rule_name"), key="segments_rule_name")
    count_column, save_column = st.columns(2)
    if count_column.button(t("segments.rule_count"), key="segments_rule_count"):
        try:
            with session.engine().connect() as conn:
                counted = rules.count(conn, viewer, expression)
        except errors.UserError as error:
            session.show_error(error)
        else:
            st.success(t("segments.rule_counted", count=f"{counted:,}"))
    if save_column.button(t("segments.rule_save"), key="segments_rule_save"):
        try:
            with session.engine().begin() as conn:
                rules.save(conn, viewer, name, expression)
        except errors.UserError as error:
            session.show_error(error)
        else:
            st.success(t("segments.rule_saved", name=name.strip()))
    saved = _saved_rules(viewer)
    if saved.empty:
        st.caption(t("segments.no_rules"))
        return
    tables.show(
        saved[["name", "expression", "customers", "created_by", "updated_at"]],
        lambda column: t(f"segments.rule_column.{column}"),
    )
    chosen = st.selectbox(t("segments.rule_pick"), saved["name"].tolist(), key="segments_rule_pick")
    rule = saved.set_index("name").loc[chosen]
    try:
        with session.engine().connect() as conn:
            frame = targets.rule_targets(
                conn, viewer, chosen, rule["expression"], session.language()
            )
    except errors.UserError as error:
        session.show_error(error)
        return
    if st.button(t("segments.list_save"), key="segments_rule_list_save", disabled=frame.empty):
        with session.engine().begin() as conn:
            list_id = targets.save_rule_list(conn, viewer, chosen, frame, chosen)
        st.session_state["segments_rule_list"] = (list_id, chosen)
    saved_list = st.session_state.get("segments_rule_list")
    if saved_list is not None and saved_list[1] == chosen:
        st.success(t("segments.list_saved", list_id=saved_list[0], count=f"{len(frame):,}"))
        downloads.offer(
            t("segments.target_list"),
            frame,
            f"target_list_{saved_list[0]}",
            key="segments_rule_targets",
            labels=_column,
        )


def _target_lists() -> None:
    lists = _lists(viewer)
    if lists.empty:
        st.caption(t("segments.no_lists"))
        return
    shown = lists.assign(
        source_kind=lists["source_kind"].map(lambda kind: t(f"target_lists.source_{kind}"))
    )
    tables.show(
        shown[["id", "name", "source_kind", "source_ref", "visible", "created_by", "created_at"]],
        lambda column: t(f"segments.list_column.{column}"),
    )
    chosen = st.selectbox(
        t("segments.list_pick"),
        lists["id"].tolist(),
        format_func=lambda list_id: lists.set_index("id").loc[list_id, "name"],
        key="segments_list_pick",
    )
    with session.engine().connect() as conn:
        frame = target_lists.members(conn, viewer, int(chosen))
    downloads.offer(
        t("segments.target_list"),
        frame,
        f"target_list_{int(chosen)}",
        key="segments_list_download",
        labels=_column,
    )


st.title(t("segments.title"))
st.caption(t("segments.subtitle"))
runs_table = _runs()
_fit_form(not runs_table.empty)
explore, rule_tab, lists_tab = st.tabs(
    [t("segments.tab_explore"), t("segments.tab_rules"), t("segments.tab_lists")]
)
with rule_tab:
    _rule_segments()
with lists_tab:
    _target_lists()
with explore:
    if runs_table.empty:
        st.info(t("segments.no_run"))
        st.stop()
    run_ids = runs_table["id"].astype(int).tolist()
    wanted = st.session_state.get("segments_run_id")
    labels = {int(row.id): _run_label(row) for row in runs_table.itertuples(index=False)}
    run_id = st.selectbox(
        t("segments.run_pick"),
        run_ids,
        index=run_ids.index(wanted) if wanted in run_ids else 0,
        format_func=labels.get,
        key="segments_run_pick",
    )
    shown, stored, per_segment, total, moves = _run(viewer, int(run_id))
    if shown.empty:
        st.info(t("segments.nobody_in_scope"))
        st.stop()
    language = session.language()
    names = segments.display_names(shown, language)
    reasons = segments.reasons(shown, language)
    criterion = stored["criterion"]
    st.caption(
        t(
            "segments.k_caption",
            k=criterion["k"],
            chosen_by=t(f"segments.chosen_by.{criterion['chosen_by']}"),
            value="—" if stored["criterion_value"] is None else f"{stored['criterion_value']:.3f}",
        )
    )
    st.subheader(t("segments.sizes"))
    _sizes_and_value(shown, per_segment, names, reasons)
    selected = _filter(shown, names)
    members = _members(viewer, int(run_id))
    chosen_members = members[members["segment_id"].isin(selected)]
    st.subheader(t("segments.profiles"))
    _profiles(shown, stored, names, selected, int(run_id))
    st.subheader(t("segments.load_shapes"))
    _shapes(stored, members, names, selected)
    st.subheader(t("segments.side_by_side"))
    _side_by_side(shown, per_segment, names, reasons)
    st.subheader(t("segments.map"))
    _map(chosen_members, names)
    st.subheader(t("segments.economics"))
    _economics(int(run_id), selected, names)
    st.subheader(t("segments.migration"))
    _migration(moves, names)
    st.subheader(t("segments.customers_and_list"))
    _drill_and_export(int(run_id), selected, names)
