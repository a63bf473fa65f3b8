"""Weekly KPIs: the latest snapshot week against the week before, and a 12-week trend of each KPI with its definition."""

from __future__ import annotations

import logging
from decimal import Decimal

import pandas as pd
import plotly.express as px
import streamlit as st

from services.auth.navigation import WEEKLY_KPIS
from services.auth.roles import RoleRefused
from services.db.engine import DatabaseUnavailable
from services.kpis.definitions import BACKLOG_AGING, BACKLOG_BUCKETS, KPIS, KpiUnit
from services.kpis.weekly import (
    TREND_WEEKS,
    KpiComparison,
    compare_latest_weeks,
    get_kpi_snapshots,
    kpi_trend,
    latest_snapshot_week,
)
from services.web import download_buttons, get_engine, guard_page

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60

NO_SNAPSHOT_MESSAGE = (
    "No weekly KPI snapshot has been taken yet. The worker takes one every Monday at 06:00 in the business "
    "time zone; `control-tower kpis snapshot` takes one now."
)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_snapshots(_engine, actor) -> pd.DataFrame:
    return get_kpi_snapshots(_engine, actor, weeks=TREND_WEEKS)


def format_value(value: Decimal | None, unit: KpiUnit, currency: str | None = None) -> str:
    if value is None:
        return "no data"
    if unit is KpiUnit.SHARE:
        return f"{value * 100:.1f}%"
    if unit is KpiUnit.HOURS:
        return f"{value:,.1f} h"
    return f"{currency} {value:,.2f}"


def format_change(comparison: KpiComparison) -> str | None:
    change = comparison.change
    if change is None:
        return None
    unit = comparison.definition.unit
    if unit is KpiUnit.SHARE:
        return f"{change * 100:+.1f} pts"
    if unit is KpiUnit.HOURS:
        return f"{change:+,.1f} h"
    return f"{change:+,.2f}"


def metric_label(comparison: KpiComparison) -> str:
    if comparison.definition.unit is KpiUnit.MONEY:
        return f"{comparison.definition.label} ({comparison.scope})"
    return comparison.definition.label


def render_metrics(comparisons: list[KpiComparison]) -> None:
    columns = st.columns(3)
    for index, comparison in enumerate(comparisons):
        definition = comparison.definition
        with columns[index % 3]:
            st.metric(
                metric_label(comparison),
                format_value(comparison.this_week, definition.unit, comparison.scope),
                delta=format_change(comparison),
                delta_color="normal" if definition.higher_is_better else "inverse",
                help=definition.definition,
            )


def render_trends(snapshots: pd.DataFrame, comparisons: list[KpiComparison]) -> None:
    st.subheader(f"Trend over {TREND_WEEKS} weeks")
    for comparison in comparisons:
        definition = comparison.definition
        trend = kpi_trend(snapshots, definition.key, comparison.scope)
        label = metric_label(comparison)
        with st.container(border=True):
            title, about = st.columns([4, 1])
            title.markdown(f"**{label}**")
            with about.popover("Definition"):
                st.markdown(definition.definition)
            if trend.empty or trend["value"].isna().all():
                st.caption("No week has a value yet.")
                continue
            plotted = trend.assign(value=trend["value"] * (100 if definition.unit is KpiUnit.SHARE else 1))
            figure = px.line(plotted, x="week_start", y="value", markers=True, labels={"week_start": "Week starting", "value": _axis(definition.unit)})
            figure.update_layout(height=220, margin={"l": 10, "r": 10, "t": 10, "b": 10})
            st.plotly_chart(figure, key=f"trend_{definition.key}_{comparison.scope}")


def _axis(unit: KpiUnit) -> str:
    return {KpiUnit.SHARE: "%", KpiUnit.HOURS: "hours", KpiUnit.MONEY: "amount"}[unit]


def render_backlog_buckets(snapshots: pd.DataFrame, week) -> None:
    buckets = snapshots[
        (snapshots["kpi"] == BACKLOG_AGING.key) & (snapshots["week_start"] == pd.Timestamp(week))
        & (snapshots["scope"] != "all")
    ]
    if buckets.empty:
        return
    order = [scope for scope, _, _ in BACKLOG_BUCKETS]
    frame = buckets.assign(lines=buckets["numerator"].astype("float64")).set_index("scope").reindex(order).reset_index()
    st.subheader("Backlog by age")
    figure = px.bar(frame, x="scope", y="lines", labels={"scope": "Age since order date", "lines": "Open lines"})
    figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(figure, key="backlog_buckets")


def render_table(snapshots: pd.DataFrame) -> None:
    st.subheader("Snapshot rows")
    labels = {definition.key: definition.label for definition in KPIS}
    table = snapshots.assign(kpi=snapshots["kpi"].map(labels))
    for column in ("value", "numerator", "denominator"):
        table[column] = table[column].astype("float64")
    st.dataframe(table, hide_index=True, width="stretch", key="snapshot_table", column_config={
        "week_start": st.column_config.DateColumn("Week starting"),
        "kpi": st.column_config.TextColumn("KPI"),
        "scope": st.column_config.TextColumn("Scope", help="'all', a currency, or a backlog age band."),
        "value": st.column_config.NumberColumn("Value", format="%.4f", help="A share from 0 to 1, hours, or money."),
        "numerator": st.column_config.NumberColumn("Numerator", format="%.2f"),
        "denominator": st.column_config.NumberColumn("Denominator", format="%.2f"),
        "taken_at": st.column_config.DatetimeColumn("Taken", format="YYYY-MM-DD HH:mm z"),
    })
    download_buttons(table, "weekly_kpis", "weekly_kpis")


def render_page() -> None:
    actor = guard_page(WEEKLY_KPIS)
    try:
        snapshots = load_snapshots(get_engine(), actor)
    except DatabaseUnavailable as error:
        logger.warning("weekly KPI page cannot read the database: %s", error)
        st.error(str(error), icon=":material/error:")
        return
    except RoleRefused as error:
        st.error(str(error), icon=":material/lock:")
        return
    if snapshots.empty:
        st.info(NO_SNAPSHOT_MESSAGE, icon=":material/info:")
        return

    week = latest_snapshot_week(snapshots)
    st.caption(f"Week starting {week:%A %d %B %Y} against the week before. Hover a figure's help icon for its definition.")
    comparisons = compare_latest_weeks(snapshots)
    render_metrics(comparisons)
    render_backlog_buckets(snapshots, week)
    render_trends(snapshots, comparisons)
    render_table(snapshots)


render_page()
