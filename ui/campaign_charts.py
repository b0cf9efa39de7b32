"""The campaign page's charts: each arm's funnel, and the Qini curve of an uplift model."""

import plotly.graph_objects as go

from core import campaigns
from ui import session

FUNNEL_STEPS = ("members", "contacted", "responded", "converted")
ARM_COLOURS = ("#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


def funnel(arms: list[campaigns.ArmFigures]) -> go.Figure:
    """Members, contacted, responded and converted of each arm, as shares of its members."""
    t = session.t
    figure = go.Figure()
    steps = [t(f"campaigns.funnel.{step}") for step in FUNNEL_STEPS]
    for position, arm in enumerate(arms):
        counts = [arm.members, arm.contacted, arm.responded, arm.converted]
        figure.add_trace(
            go.Funnel(
                name=arm_name(arm.arm),
                y=steps,
                x=counts,
                textinfo="value+percent initial",
                marker={"color": ARM_COLOURS[position % len(ARM_COLOURS)]},
            )
        )
    figure.update_layout(
        title=t("campaigns.funnel.title"),
        legend_title_text=t("campaigns.col.arm"),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=360,
    )
    return figure


def arm_name(arm: str) -> str:
    """The control arm in the reader's language; treatment arms by their own names."""
    if arm == campaigns.CONTROL_ARM:
        return session.t("campaigns.control")
    if arm == "treatment":
        return session.t("campaigns.treatment")
    return arm


MODEL_COLOURS = {"t_learner": "#1f77b4", "class_transformation": "#ff7f0e"}


def qini(curves: dict) -> go.Figure:
    """The Qini curve of each uplift model and the line of random targeting."""
    t = session.t
    figure = go.Figure()
    for model, curve in curves.items():
        figure.add_trace(
            go.Scatter(
                x=curve.targeted * 100,
                y=curve.incremental,
                mode="lines",
                name=t(f"campaigns.model.{model}"),
                line={"color": MODEL_COLOURS.get(model)},
            )
        )
    last = next(iter(curves.values()))
    figure.add_trace(
        go.Scatter(
            x=[0, 100],
            y=[0, float(last.incremental[-1])],
            mode="lines",
            name=t("campaigns.model.random"),
            line={"color": "#7f7f7f", "dash": "dash"},
        )
    )
    figure.update_layout(
        title=t("campaigns.qini_title"),
        xaxis_title=t("campaigns.qini_x"),
        yaxis_title=t("campaigns.qini_y"),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=380,
    )
    return figure
