"""Supplier ETA: open PO lines with their P10/P50/P90 arrival against the promise, backtest accuracy, and the supplier scorecard."""

from __future__ import annotations

import logging

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from services.auth.navigation import SUPPLIER_ETA
from services.auth.roles import RoleRefused
from services.db.engine import DatabaseUnavailable
from services.forecast.queries import (
    DEFAULT_LINES,
    MAX_LINES,
    SupplierScorecard,
    list_eta_suppliers,
    open_line_etas,
    series_accuracy,
    supplier_backtests,
    supplier_scorecard,
)
from services.web import download_buttons, get_engine, guard_page

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_suppliers(_engine, actor) -> pd.DataFrame:
    return list_eta_suppliers(_engine, actor)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_lines(_engine, actor, supplier_id, limit) -> pd.DataFrame:
    return open_line_etas(_engine, actor, supplier_id, limit=limit)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_backtests(_engine, actor, supplier_code) -> pd.DataFrame:
    return supplier_backtests(_engine, actor, supplier_code)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_scorecard(_engine, actor, supplier_id) -> SupplierScorecard:
    return supplier_scorecard(_engine, actor, supplier_id)


def days(value: float | None) -> str:
    return "no data" if value is None else f"{value:.1f} days"


def percent(value) -> str:
    return "no data" if value is None else f"{float(value) * 100:.1f}%"


def fan_chart(lines: pd.DataFrame) -> go.Figure:
    """P10-P90 band and P50 of each line (ordered by promise) against the promised date."""
    forecast = lines.dropna(subset=["p50_date"]).reset_index(drop=True)
    labels = forecast["po_number"] + "/" + forecast["line_number"].astype(str)
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=labels, y=forecast["p90_date"], mode="lines", line={"width": 0}, name="P90", showlegend=False))
    figure.add_trace(go.Scatter(
        x=labels, y=forecast["p10_date"], mode="lines", line={"width": 0}, fill="tonexty",
        fillcolor="rgba(31, 119, 180, 0.25)", name="P10 to P90",
    ))
    figure.add_trace(go.Scatter(x=labels, y=forecast["p50_date"], mode="lines", line={"color": "#1f77b4"}, name="P50"))
    figure.add_trace(go.Scatter(x=labels, y=forecast["promised_date"], mode="markers", marker={"color": "#d62728", "size": 5}, name="Promised"))
    figure.update_layout(
        height=380, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis={"title": "PO line, by promised date", "showticklabels": False},
        yaxis={"title": "Arrival date"}, legend={"orientation": "h"},
    )
    return figure


def render_accuracy(backtests: pd.DataFrame, scorecard: SupplierScorecard, open_lines: int, late_lines: int) -> None:
    mae_p50, mae_promise, coverage = series_accuracy(backtests)
    first, second, third = st.columns(3)
    first.metric("Open PO lines", f"{open_lines:,}")
    second.metric("Lines with P50 after promise", f"{late_lines:,}")
    third.metric("P10-P90 coverage", percent(coverage), help="Share of backtest receipts that arrived between P10 and P90.")
    first, second, third = st.columns(3)
    first.metric("MAE of P50", days(mae_p50), help="Mean absolute error of the P50 arrival in the rolling backtest.")
    second.metric("MAE of the promise", days(mae_promise), help="Mean absolute error of the supplier's promised date in the same backtest.")
    third.metric("On-time rate", percent(scorecard.on_time_rate), help="Receipts on or before the promised date, over the scorecard months.")
    st.caption(
        f"Mean slip: {days(None if scorecard.mean_slip_days is None else float(scorecard.mean_slip_days))} "
        f"after the promise over {scorecard.receipts:,} receipts."
    )


def render_scorecard(scorecard: SupplierScorecard) -> None:
    st.subheader("Scorecard by month")
    if scorecard.by_month.empty:
        st.caption("The supplier has no receipt of a line with a promised date.")
        return
    trend = scorecard.by_month.assign(on_time_percent=scorecard.by_month["on_time_rate"] * 100)
    left, right = st.columns(2)
    with left:
        figure = px.bar(trend, x="month", y="on_time_percent", labels={"month": "Month", "on_time_percent": "On time (%)"})
        figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(figure, key="scorecard_on_time")
    with right:
        figure = px.line(trend, x="month", y="mean_slip_days", markers=True, labels={"month": "Month", "mean_slip_days": "Mean slip (days)"})
        figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(figure, key="scorecard_slip")
    download_buttons(trend, "supplier_scorecard", "scorecard")


def render_lines(lines: pd.DataFrame, limit: int, open_lines: int) -> None:
    st.subheader("Open PO lines")
    if lines.empty:
        st.caption("No open PO line.")
        return
    if lines["p50_date"].notna().any():
        st.plotly_chart(fan_chart(lines), key="eta_fan")
    else:
        st.caption("No ETA forecast yet: the worker's forecast job writes them.")
    st.dataframe(lines, hide_index=True, width="stretch", key="eta_lines_table", column_config={
        "po_line_id": None,
        "po_number": st.column_config.TextColumn("PO"),
        "line_number": st.column_config.NumberColumn("Line"),
        "open_qty": st.column_config.NumberColumn("Open qty", format="localized"),
        "promised_date": st.column_config.DateColumn("Promised"),
        "p10_date": st.column_config.DateColumn("P10"),
        "p50_date": st.column_config.DateColumn("P50"),
        "p90_date": st.column_config.DateColumn("P90"),
        "p50_slip_days": st.column_config.NumberColumn("P50 slip (days)", help="P50 minus the promised date."),
    })
    if open_lines > len(lines):
        st.caption(f"Showing the {len(lines):,} earliest promised of {open_lines:,} open lines (at most {limit:,}).")
    download_buttons(lines, "supplier_eta_lines", "eta_lines")


def render_page() -> None:
    actor = guard_page(SUPPLIER_ETA)
    try:
        engine = get_engine()
        suppliers = load_suppliers(engine, actor)
        if suppliers.empty:
            st.info("No supplier has an open or received PO line.", icon=":material/info:")
            return
        choice, size = st.columns([3, 1])
        labels = {row.supplier_id: f"{row.supplier_code} · {row.name}" for row in suppliers.itertuples()}
        supplier_id = choice.selectbox("Supplier", list(labels), format_func=labels.get, key="supplier")
        limit = int(size.number_input("Lines shown", min_value=1, max_value=MAX_LINES, value=DEFAULT_LINES, step=100, key="line_limit"))
        supplier = suppliers.set_index("supplier_id").loc[supplier_id]
        lines = load_lines(engine, actor, supplier_id, limit)
        backtests = load_backtests(engine, actor, supplier["supplier_code"])
        scorecard = load_scorecard(engine, actor, supplier_id)
    except DatabaseUnavailable as error:
        logger.warning("supplier ETA page cannot read the database: %s", error)
        st.error(str(error), icon=":material/error:")
        return
    except RoleRefused as error:
        st.error(str(error), icon=":material/lock:")
        return

    render_accuracy(backtests, scorecard, int(supplier["open_lines"]), int(supplier["lines_late_p50"]))
    render_lines(lines, limit, int(supplier["open_lines"]))
    render_scorecard(scorecard)
    st.subheader("Backtests")
    st.dataframe(backtests, hide_index=True, width="stretch", key="backtests_table", column_config={
        "mae_p50_days": st.column_config.NumberColumn("MAE P50 (days)", format="%.2f"),
        "mae_promise_days": st.column_config.NumberColumn("MAE promise (days)", format="%.2f"),
        "coverage_p10_p90": st.column_config.NumberColumn("P10-P90 coverage", format="%.3f"),
        "computed_at": st.column_config.DatetimeColumn("Computed", format="YYYY-MM-DD HH:mm z"),
    })
    download_buttons(backtests, "supplier_backtests", "backtests")


render_page()
