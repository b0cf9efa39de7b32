"""Abnormal use & inspection (反窃查违 / 稽查): the ranked list, orders, worklists, risk models."""

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
import streamlit as st

from core import access, errors, inspection
from core.risk import abnormal, models, reasons
from core.risk import settings as risk_settings
from ui import charts, downloads, maps, session, tables

PAGE = "pages/risk.py"
MAP_HEIGHT_PX = 420
# The orders of one board, and the rows of each risk list, a person reads on screen.
LIST_LIMIT = 500
DUE_IN_DAYS = 7
ROUTE_COLOUR = [31, 119, 180, 200]
STOP_COLOUR = [214, 39, 40, 220]
OFFICE_COLOUR = [44, 160, 44, 230]

viewer = session.require_page(PAGE)
t = session.t
planner = viewer.role in inspection.PLANNER_ROLES
inspector = viewer.role == "inspector"


@st.cache_data(show_spinner=False)
def _settings() -> risk_settings.Settings:
    return risk_settings.load()


@session.cached
def _ranked(who: access.Viewer, top: int) -> pd.DataFrame:
    return abnormal.ranked(session.engine(), who, top, _settings())


@session.cached
def _areas(who: access.Viewer) -> pd.DataFrame:
    return abnormal.area_losses(session.engine(), who, _settings())


@session.cached
def _orders(who: access.Viewer) -> pd.DataFrame:
    return inspection.orders(session.engine(), who)


@session.cached
def _results(who: access.Viewer) -> dict:
    return inspection.results(session.engine(), who)


@session.cached
def _worklist(who: access.Viewer, assignee: str | None) -> pd.DataFrame:
    return inspection.worklist(session.engine(), who, assignee)


@session.cached
def _assignees() -> list[str]:
    return inspection.assignees(session.engine())


@session.cached
def _reports() -> pd.DataFrame:
    return models.model_reports(session.engine())


@session.cached
def _scored(who: access.Viewer, kind: str) -> pd.DataFrame:
    return models.scored_list(session.engine(), who, kind, LIST_LIMIT)


def _label(name: str) -> str:
    return t(f"risk.column.{name}")


def _state(name) -> str:
    return t(f"inspection.state.{name}") if isinstance(name, str) else tables.EMPTY


def _outcome(name) -> str:
    return t(f"inspection.outcome.{name}") if isinstance(name, str) else tables.EMPTY


def _percent(value) -> str:
    return tables.EMPTY if value is None or pd.isna(value) else f"{value:.0%}"


def _run(action, success_key: str, **values) -> bool:
    """Runs a change; its error is shown in the reader's language instead of a traceback."""
    try:
        action()
    except errors.UserError as error:
        session.show_error(error)
        return False
    st.session_state["risk_notice"] = t(success_key, **values)
    st.rerun()
    return True


def _headline() -> None:
    figures = _results(viewer)
    hit_rate, recovered, open_orders, resolved = st.columns(4)
    hit_rate.metric(t("risk.page.hit_rate"), _percent(figures["hit_rate"]))
    recovered.metric(t("risk.page.recovered"), f"¥{figures['recovered_cny']:,.2f}")
    open_orders.metric(t("risk.page.open_orders"), f"{figures['open']:,}")
    resolved.metric(t("risk.page.resolved"), f"{figures['resolved']:,}")


def _recompute() -> None:
    if st.button(t("risk.page.recompute"), key="risk_recompute", icon=":material/refresh:"):
        with st.spinner(t("risk.page.recomputing")):
            summary = abnormal.refresh(session.engine(), viewer, _settings())
        st.session_state["risk_notice"] = t(
            "risk.page.recomputed",
            customers=f"{summary.customers:,}",
            flagged=f"{summary.flagged:,}",
            day=f"{summary.scored_on}",
        )
        st.rerun()


def _list_view() -> None:
    settings = _settings()
    left, right = st.columns([1, 3])
    top = left.number_input(
        t("risk.page.list_length"),
        min_value=1,
        max_value=LIST_LIMIT,
        value=settings.list_length,
        help=t("risk.page.list_length_help", orders=settings.list_length),
        key="risk_top",
    )
    with right:
        if planner:
            _recompute()
    listed = _ranked(viewer, int(top))
    if listed.empty:
        st.info(t("risk.page.no_scores"))
        return
    st.caption(
        t(
            "risk.page.scored",
            day=f"{listed['scored_on'].iloc[0]}",
            version=listed["model_version"].iloc[0],
        )
    )
    language = session.language()
    board = _orders(viewer)
    open_state = board[board["state"].isin(inspection.OPEN_STATES)].set_index("customer_id")
    shown = listed.assign(
        rank=range(1, len(listed) + 1),
        customer_class=listed["customer_class"].map(
            lambda name: t(f"domain.customer_class.{name}")
        ),
        score=listed["score"].map(_percent),
        reasons="",
        open_order=listed["customer_id"].map(
            lambda customer: _state(open_state["state"].get(customer))
        ),
    )
    shown["reasons"] = [" · ".join(reasons.texts(items, language)) for items in listed["reasons"]]
    columns = [
        "rank",
        "customer_id",
        "name",
        "customer_class",
        "transformer_area",
        "score",
        "revenue_at_risk_cny",
        "priority",
        "open_order",
        "reasons",
    ]
    tables.show(shown[columns], _label, key="risk_list")
    downloads.offer(
        t("risk.page.list_export"), shown[columns], "abnormal_use_list", key="risk_list_export"
    )
    if planner:
        _order_form(listed)
    _line_loss()


def _order_form(listed: pd.DataFrame) -> None:
    st.subheader(t("risk.page.create_orders"))
    names = dict(zip(listed["customer_id"], listed["name"], strict=True))
    options = list(listed["customer_id"])
    chosen = st.multiselect(
        t("risk.page.pick_customers"),
        options,
        format_func=lambda customer: (
            f"{options.index(customer) + 1}. {customer} · {names[customer]}"
        ),
        key="risk_pick",
    )
    people = _assignees()
    if not people:
        st.warning(t("risk.page.no_assignees"))
        return
    left, right = st.columns(2)
    assignee = left.selectbox(t("risk.page.assignee"), people, key="risk_assignee")
    due = right.date_input(
        t("risk.page.due_date"),
        value=access.now().date() + dt.timedelta(days=DUE_IN_DAYS),
        key="risk_due",
    )
    if st.button(t("risk.page.create"), key="risk_create", type="primary", disabled=not chosen):
        _run(
            lambda: inspection.create_orders(session.engine(), viewer, chosen, assignee, due),
            "risk.page.created",
            count=len(chosen),
            assignee=assignee,
        )


def _line_loss() -> None:
    st.subheader(t("risk.page.line_loss"))
    areas = _areas(viewer)
    if areas.empty:
        st.caption(t("risk.page.no_area_readings"))
        return
    shown = areas.assign(
        loss_rate=areas["loss_rate"].map(_percent),
        reference_rate=areas["reference_rate"].map(_percent),
        increase=areas["increase"].map(
            lambda value: tables.EMPTY if pd.isna(value) else f"{value:+.1%}"
        ),
        lossy=areas["lossy"].map(lambda flag: "⚠" if flag else ""),
    )
    tables.show(shown, _label, key="risk_areas", height=260)


def _order_board() -> None:
    board = _orders(viewer)
    if board.empty:
        st.info(t("risk.page.no_orders"))
        return
    counts = board["state"].value_counts()
    for column, state in zip(st.columns(len(inspection.STATES)), inspection.STATES, strict=True):
        column.metric(_state(state), f"{int(counts.get(state, 0)):,}")
    shown = board.assign(
        state=board["state"].map(_state),
        outcome=board["outcome"].map(_outcome),
    )[
        [
            "id",
            "customer_id",
            "name",
            "transformer_area",
            "state",
            "assignee",
            "due_date",
            "outcome",
            "recovered_cny",
        ]
    ]
    tables.show(shown, _label, key="risk_board", height=300)
    downloads.offer(
        t("risk.page.orders_export"), shown, "inspection_orders", key="risk_orders_export"
    )
    labels = {
        row.id: f"#{row.id} · {row.customer_id} · {_state(row.state)}" for row in board.itertuples()
    }
    order_id = st.selectbox(
        t("risk.page.pick_order"), list(labels), format_func=labels.get, key="risk_order"
    )
    order = board.set_index("id").loc[order_id]
    _order_detail(int(order_id), order)


def _order_detail(order_id: int, order: pd.Series) -> None:
    language = session.language()
    with st.container(border=True):
        st.markdown(
            t(
                "risk.page.order_line",
                order=order_id,
                customer=order["customer_id"],
                state=_state(order["state"]),
                assignee=order["assignee"],
                due=f"{order['due_date']}",
            )
        )
        for text in reasons.texts(order["reasons"], language):
            st.caption(f"· {text}")
        next_state = inspection.NEXT_STATE.get(order["state"])
        may_move = planner or (inspector and next_state != "dispatched")
        if next_state == "resolved" and may_move:
            with st.form(key=f"risk_resolve_{order_id}"):
                outcome = st.selectbox(
                    t("risk.page.outcome"),
                    inspection.OUTCOMES,
                    format_func=_outcome,
                    key="risk_outcome",
                )
                amount = st.number_input(
                    t("risk.page.recovered_cny"),
                    min_value=0.0,
                    value=0.0,
                    step=10.0,
                    key="risk_amount",
                )
                note = st.text_input(t("risk.page.note"), key="risk_note")
                if st.form_submit_button(t("risk.page.resolve"), type="primary"):
                    _run(
                        lambda: inspection.advance(
                            session.engine(),
                            viewer,
                            order_id,
                            "resolved",
                            outcome=outcome,
                            recovered_cny=amount,
                            note=note or None,
                        ),
                        "risk.page.moved",
                        order=order_id,
                        state=_state("resolved"),
                    )
        elif next_state is not None and may_move:
            if st.button(
                t("risk.page.move_to", state=_state(next_state)),
                key=f"risk_move_{order_id}",
                type="primary",
            ):
                _run(
                    lambda: inspection.advance(session.engine(), viewer, order_id, next_state),
                    "risk.page.moved",
                    order=order_id,
                    state=_state(next_state),
                )
        elif order["state"] == "resolved" and planner:
            reason = st.text_input(t("risk.page.reopen_reason"), key=f"risk_reason_{order_id}")
            if st.button(t("risk.page.reopen"), key=f"risk_reopen_{order_id}"):
                _run(
                    lambda: inspection.reopen(session.engine(), viewer, order_id, reason),
                    "risk.page.reopened",
                    order=order_id,
                )
        history = inspection.events(session.engine(), viewer, order_id)
        history = history.assign(
            from_state=history["from_state"].map(_state),
            to_state=history["to_state"].map(_state),
            outcome=history["outcome"].map(_outcome),
        )
        tables.show(history, _label, key=f"risk_history_{order_id}")


def _worklist_view() -> None:
    assignee = None
    if not inspector:
        people = _assignees()
        if not people:
            st.info(t("risk.page.no_assignees"))
            return
        assignee = st.selectbox(t("risk.page.assignee"), people, key="risk_worklist_assignee")
    stops = _worklist(viewer, assignee)
    if stops.empty:
        st.info(t("risk.page.no_worklist"))
        return
    shown = stops.assign(state=stops["state"].map(_state))
    columns = [
        "stop",
        "id",
        "customer_id",
        "name",
        "transformer_area",
        "state",
        "due_date",
        "leg_km",
        "route_km",
    ]
    tables.show(shown[columns], _label, key="risk_worklist")
    downloads.offer(
        t("risk.page.worklist_export"),
        shown[columns],
        "inspection_worklist",
        key="risk_worklist_export",
    )
    located = stops.dropna(subset=["lat", "lon"])
    if located.empty:
        return
    office = inspection.office_of(session.engine(), viewer, stops)
    path = ([[office[1], office[0]]] if office else []) + located[["lon", "lat"]].values.tolist()
    layers = [
        pdk.Layer(
            "PathLayer",
            data=[{"path": path}],
            get_path="path",
            get_color=ROUTE_COLOUR,
            width_min_pixels=3,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            data=located[["lon", "lat", "stop", "customer_id"]],
            get_position=["lon", "lat"],
            get_fill_color=STOP_COLOUR,
            get_radius=60,
            radius_min_pixels=6,
            pickable=True,
        ),
    ]
    if office:
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                data=[{"lon": office[1], "lat": office[0]}],
                get_position=["lon", "lat"],
                get_fill_color=OFFICE_COLOUR,
                radius_min_pixels=9,
            )
        )
    points = pd.DataFrame(path, columns=["lon", "lat"])
    view = maps.fitted_view(points["lat"], points["lon"], height_px=MAP_HEIGHT_PX)
    st.pydeck_chart(
        pdk.Deck(
            layers=layers,
            initial_view_state=view,
            map_provider=None,
            tooltip={"text": "{stop} · {customer_id}"},
        ),
        height=MAP_HEIGHT_PX,
    )
    st.caption(t("risk.page.route_caption", km=f"{stops['route_km'].max():,.1f}"))


def _models_view() -> None:
    if planner and st.button(
        t("risk.page.train"), key="risk_train", icon=":material/model_training:"
    ):
        with st.spinner(t("risk.page.training")):
            try:
                models.train_and_score(session.engine(), models.KINDS, viewer)
            except errors.UserError as error:
                session.show_error(error)
                return
        st.session_state["risk_notice"] = t("risk.page.trained")
        st.rerun()
    reports = _reports()
    if reports.empty:
        st.info(t("risk.page.no_models"))
        return
    shown = reports.assign(kind=reports["kind"].map(lambda kind: t(f"risk.kind.{kind}")))
    tables.show(
        shown[
            [
                "kind",
                "model_version",
                "trained_at",
                "holdout_cutoff",
                "holdout_auc",
                "brier",
                "rows",
                "positives",
            ]
        ],
        _label,
        key="risk_models",
    )
    figure = go.Figure()
    figure.add_scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        line={"dash": "dot", "color": "#999"},
        name=t("risk.page.perfect"),
    )
    for row in reports.itertuples():
        bins = pd.DataFrame(row.calibration)
        if bins.empty:
            continue
        figure.add_scatter(
            x=bins["predicted"],
            y=bins["observed"],
            mode="lines+markers",
            name=t(f"risk.kind.{row.kind}"),
        )
    figure.update_layout(
        height=320,
        xaxis={"title": t("risk.page.predicted"), "tickformat": ".0%"},
        yaxis={"title": t("risk.page.observed"), "tickformat": ".0%"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    st.markdown(f"**{t('risk.page.calibration')}**")
    charts.show(figure, key="risk_calibration")
    language = session.language()
    kind = (
        st.segmented_control(
            t("risk.page.risk_list"),
            list(models.KINDS),
            format_func=lambda name: t(f"risk.kind.{name}"),
            default="arrears",
            key="risk_kind",
        )
        or "arrears"
    )
    listed = _scored(viewer, kind)
    shown = listed.assign(
        customer_class=listed["customer_class"].map(
            lambda name: t(f"domain.customer_class.{name}")
        ),
        score=listed["score"].map(_percent),
        triage=listed["triage"].map(
            lambda route: t(f"risk.triage.{route}") if isinstance(route, str) else tables.EMPTY
        ),
        factors=[" · ".join(reasons.factor_texts(items, language)) for items in listed["factors"]],
    )
    columns = [
        "customer_id",
        "name",
        "customer_class",
        "region",
        "manager_id",
        "score",
        "triage",
        "factors",
    ]
    tables.show(shown[columns], _label, key="risk_scored", height=300)
    downloads.offer(
        t("risk.page.risk_export"), shown[columns], f"risk_{kind}", key="risk_scored_export"
    )


st.title(t("risk.title"))
st.caption(t("risk.page.intro"))
notice = st.session_state.pop("risk_notice", None)
if notice:
    st.success(notice)
_headline()
if inspector:
    orders_tab, worklist_tab = st.tabs([t("risk.page.tab_orders"), t("risk.page.tab_worklist")])
    with orders_tab:
        _order_board()
    with worklist_tab:
        _worklist_view()
else:
    list_tab, orders_tab, worklist_tab, models_tab = st.tabs(
        [
            t("risk.page.tab_list"),
            t("risk.page.tab_orders"),
            t("risk.page.tab_worklist"),
            t("risk.page.tab_models"),
        ]
    )
    with list_tab:
        _list_view()
    with orders_tab:
        _order_board()
    with worklist_tab:
        _worklist_view()
    with models_tab:
        _models_view()
