"""Exposure: the exposed backlog by priority with filters, its aging and root causes, and one line's supply picture."""

from __future__ import annotations

import logging
import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from services.auth.navigation import EXPOSURE
from services.auth.roles import Actor
from services.db.engine import DatabaseUnavailable
from services.exposure.backlog import (
    DEFAULT_PAGE_SIZE,
    ROOT_CAUSE_HELP,
    STATUS_HELP,
    BacklogFilters,
    InvalidBacklogRequest,
    backlog_aging,
    backlog_filter_options,
    backlog_page,
    backlog_root_causes,
    backlog_totals,
    line_supply,
    risk_watchlist,
)
from services.exposure.queries import LineSupplyPicture, OrderLineNotFound
from services.web import get_engine, guard_page, money_format, show_table

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30

# Filter values are saved under these keys, which belong to no widget, so
# Streamlit keeps them when the user opens another page and comes back.
FILTERS = (
    ("warehouses", "Warehouse"),
    ("suppliers", "Supplier"),
    ("tiers", "Customer tier"),
    ("families", "Item family"),
    ("root_causes", "Root cause"),
    ("aging_buckets", "Aging bucket (days)"),
)
SAVED_FILTER_KEY = "exposure_saved_filter_{}"
WIDGET_FILTER_KEY = "exposure_filter_{}"
SAVED_PAGE_KEY = "exposure_saved_page"

SCORE_COMPONENTS = {
    "score_tier": "Customer tier",
    "score_sla": "SLA",
    "score_margin": "Margin",
    "score_fill_gap": "Fill-rate gap",
    "score_age": "Age",
    "score_churn": "Churn risk",
}


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_options(_engine, actor: Actor) -> dict[str, list[str]]:
    return backlog_filter_options(_engine, actor)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_totals(_engine, actor: Actor, filters: BacklogFilters) -> pd.DataFrame:
    return backlog_totals(_engine, actor, filters)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_page(_engine, actor: Actor, filters: BacklogFilters, page: int) -> pd.DataFrame:
    return backlog_page(_engine, actor, filters, page=page, page_size=DEFAULT_PAGE_SIZE)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_aging(_engine, actor: Actor, filters: BacklogFilters) -> pd.DataFrame:
    return backlog_aging(_engine, actor, filters)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_root_causes(_engine, actor: Actor, filters: BacklogFilters) -> pd.DataFrame:
    return backlog_root_causes(_engine, actor, filters)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_watchlist(_engine, actor: Actor) -> pd.DataFrame:
    return risk_watchlist(_engine, actor)


def render_watchlist(watchlist: pd.DataFrame) -> None:
    st.subheader("At risk, not yet short")
    if watchlist.empty:
        st.caption(
            "No SKU is flagged: the backorder-risk model has scored nothing yet, or flags no SKU without a short "
            "line. `control-tower risk train --kaggle FILE` stores a first model (docs/risk-model.md)."
        )
        return
    shown = watchlist[["sku", "warehouse_code", "probability", "explanation", "scored_at"]]
    show_table(shown, key="risk_watchlist", file_name="at_risk_not_yet_short", column_config={
        "sku": "SKU",
        "warehouse_code": "Warehouse",
        "probability": st.column_config.ProgressColumn("Backorder risk", min_value=0.0, max_value=1.0, format="percent"),
        "explanation": st.column_config.TextColumn("Why", width="large"),
        "scored_at": st.column_config.DatetimeColumn("Scored", format="YYYY-MM-DD HH:mm"),
    })


def read_filters(options: dict[str, list[str]]) -> BacklogFilters:
    """Draw the filter widgets from the saved values and save what the user picks."""
    chosen = {}
    columns = st.columns(3)
    for position, (name, label) in enumerate(FILTERS):
        saved = st.session_state.get(SAVED_FILTER_KEY.format(name), [])
        with columns[position % 3]:
            picked = st.multiselect(
                label, options[name], default=[value for value in saved if value in options[name]],
                key=WIDGET_FILTER_KEY.format(name), placeholder="All",
            )
        st.session_state[SAVED_FILTER_KEY.format(name)] = picked
        chosen[name] = tuple(picked)
    return BacklogFilters(**chosen)


def render_totals(totals: pd.DataFrame) -> int:
    lines = int(totals["lines"].sum()) if not totals.empty else 0
    first, second, third = st.columns(3)
    first.metric("Exposed lines", f"{lines:,}")
    for column, name, label in ((second, "revenue_at_risk", "Revenue at risk"), (third, "margin_at_risk", "Margin at risk")):
        amounts = " · ".join(f"{row.currency} {getattr(row, name):,.2f}" for row in totals.itertuples())
        column.metric(label, amounts or "0.00")
    return lines


def backlog_columns(currencies) -> dict:
    money = money_format(currencies)
    columns = {
        "order_number": st.column_config.TextColumn("Order"),
        "line_number": st.column_config.NumberColumn("Line"),
        "customer_name": st.column_config.TextColumn("Customer"),
        "tier": st.column_config.TextColumn("Tier"),
        "sku": st.column_config.TextColumn("SKU"),
        "family": st.column_config.TextColumn("Family"),
        "warehouse_code": st.column_config.TextColumn("Warehouse"),
        "supplier_code": st.column_config.TextColumn("Supplier"),
        "status": st.column_config.TextColumn("Status", help=STATUS_HELP),
        "root_cause": st.column_config.TextColumn("Root cause", help=ROOT_CAUSE_HELP),
        "cause_po_number": st.column_config.TextColumn("Waits for PO"),
        "shortage_qty": st.column_config.NumberColumn("Shortage", format="localized"),
        "covered_share": st.column_config.ProgressColumn(
            "Covered now", min_value=0, max_value=1, format="percent",
            help="Part of the open quantity that stock covers now.",
        ),
        "current_promised_date": st.column_config.DateColumn("Promised", format="YYYY-MM-DD"),
        "projected_date_p50": st.column_config.DateColumn("Projected (P50)", format="YYYY-MM-DD"),
        "projected_date_p90": st.column_config.DateColumn("Projected (P90)", format="YYYY-MM-DD"),
        "days_late_promise": st.column_config.NumberColumn("Days late"),
        "revenue_at_risk": st.column_config.NumberColumn("Revenue at risk", format=money),
        "margin_at_risk": st.column_config.NumberColumn("Margin at risk", format=money),
        "backlog_age_days": st.column_config.NumberColumn("Age (days)"),
        "priority_score": st.column_config.NumberColumn("Priority", format="%.2f"),
    }
    for name, label in SCORE_COMPONENTS.items():
        columns[name] = st.column_config.NumberColumn(label, format="%.2f", help=f"{label} part of the priority score.")
    return columns


def render_backlog(engine, actor: Actor, filters: BacklogFilters, lines: int) -> pd.DataFrame:
    st.subheader("Backlog by priority")
    pages = max(1, math.ceil(lines / DEFAULT_PAGE_SIZE))
    saved_page = min(st.session_state.get(SAVED_PAGE_KEY, 1), pages)
    page = st.number_input(
        f"Page (of {pages:,}, {DEFAULT_PAGE_SIZE} lines each)", min_value=1, max_value=pages, value=saved_page,
        step=1, key="exposure_page",
    )
    st.session_state[SAVED_PAGE_KEY] = int(page)
    frame = load_page(engine, actor, filters, int(page))
    if frame.empty:
        st.caption("No exposed line matches the filters.")
        return frame
    show_table(
        frame, key="backlog", file_name="exposure_backlog",
        column_config=backlog_columns(frame["currency"]),
        column_order=[
            "order_number", "line_number", "customer_name", "tier", "sku", "family", "warehouse_code",
            "supplier_code", "status", "root_cause", "cause_po_number", "shortage_qty", "covered_share",
            "current_promised_date", "projected_date_p50", "projected_date_p90", "days_late_promise",
            "revenue_at_risk", "margin_at_risk", "backlog_age_days", "priority_score", *SCORE_COMPONENTS,
        ],
    )
    return frame


def render_aging(aging: pd.DataFrame) -> None:
    st.subheader("Aging")
    figure = go.Figure()
    for currency, rows in aging.groupby("currency", sort=True):
        figure.add_bar(x=rows["bucket"], y=rows["lines"], name=currency)
    figure.update_layout(xaxis_title="Backlog age (days)", yaxis_title="Exposed lines", height=320, margin=dict(t=20))
    st.plotly_chart(figure, key="aging_chart")
    show_table(aging, key="aging", file_name="exposure_aging", column_config={
        "bucket": st.column_config.TextColumn("Age (days)"),
        "lines": st.column_config.NumberColumn("Lines"),
        "revenue_at_risk": st.column_config.NumberColumn("Revenue at risk", format=money_format(aging["currency"])),
    })


def render_root_causes(causes: pd.DataFrame) -> None:
    st.subheader("Root causes")
    if causes.empty:
        st.caption("No exposed line matches the filters.")
        return
    figure = go.Figure()
    for currency, rows in causes.groupby("currency", sort=True):
        figure.add_bar(x=rows["root_cause"], y=rows["revenue_at_risk"].astype(float), name=f"Revenue at risk ({currency})")
        figure.add_scatter(
            x=rows["root_cause"], y=rows["cumulative_share"].astype(float), name=f"Cumulative share ({currency})",
            yaxis="y2", mode="lines+markers",
        )
    figure.update_layout(
        yaxis=dict(title="Revenue at risk"),
        yaxis2=dict(title="Cumulative share", overlaying="y", side="right", range=[0, 1.05], tickformat=".0%"),
        height=340, margin=dict(t=20),
    )
    st.plotly_chart(figure, key="pareto_chart")
    show_table(causes, key="root_causes", file_name="exposure_root_causes", column_config={
        "root_cause": st.column_config.TextColumn("Root cause"),
        "lines": st.column_config.NumberColumn("Lines"),
        "revenue_at_risk": st.column_config.NumberColumn("Revenue at risk", format=money_format(causes["currency"])),
        "cumulative_share": st.column_config.ProgressColumn("Cumulative share", min_value=0, max_value=1, format="percent"),
    })


def render_supply_picture(picture: LineSupplyPicture) -> None:
    line = picture.line
    st.markdown(
        f"**{line['order_number']} line {line['line_number']}**: {line['sku']} at {line['warehouse_code']} for "
        f"{line['customer_code']}, open {line['open_qty']:,f}, promised {line['current_promised_date'] or 'never'}"
    )
    if not picture.exposure.empty:
        components = picture.exposure.iloc[0]
        figure = go.Figure(go.Bar(
            x=[float(components[name]) for name in SCORE_COMPONENTS], y=list(SCORE_COMPONENTS.values()),
            orientation="h",
        ))
        figure.update_layout(xaxis_title="Contribution to the priority score", height=260, margin=dict(t=10))
        st.plotly_chart(figure, key="score_chart")
    for title, frame, key in (
        ("On hand and holds here", picture.stock, "line_stock"),
        ("Inbound supply", picture.inbound, "line_inbound"),
        ("Other warehouses", picture.other_warehouses, "line_other_warehouses"),
    ):
        st.markdown(f"**{title}**")
        if frame.empty:
            st.caption("None.")
            continue
        show_table(frame, key=key, file_name=key, column_config={
            "promised_date": st.column_config.DateColumn("Promised", format="YYYY-MM-DD"),
            "p50_date": st.column_config.DateColumn("ETA P50", format="YYYY-MM-DD"),
            "p90_date": st.column_config.DateColumn("ETA P90", format="YYYY-MM-DD"),
            "as_of": st.column_config.DatetimeColumn("As of", format="YYYY-MM-DD HH:mm"),
        })


def render_drill_down(engine, actor: Actor, page_lines: pd.DataFrame) -> None:
    st.subheader("Supply picture of a line")
    if page_lines.empty:
        return
    labels = {
        int(row.so_line_id): f"{row.order_number}/{row.line_number} · {row.sku} · {row.customer_name}"
        for row in page_lines.itertuples()
    }
    chosen = st.selectbox(
        "Order line (from the page shown above)", list(labels), format_func=labels.get, key="exposure_drill_line",
        index=None, placeholder="Pick a line",
    )
    if chosen is None:
        return
    try:
        picture = line_supply(engine, actor, chosen)
    except OrderLineNotFound as error:
        st.error(str(error))
        return
    render_supply_picture(picture)


def render_page() -> None:
    actor = guard_page(EXPOSURE)
    try:
        engine = get_engine()
        options = load_options(engine, actor)
        with st.expander("Filters", expanded=True, icon=":material/filter_list:"):
            filters = read_filters(options)
        with st.spinner("Reading the backlog..."):
            totals = load_totals(engine, actor, filters)
            lines = render_totals(totals)
            page_lines = render_backlog(engine, actor, filters, lines)
            left, right = st.columns(2)
            with left:
                render_aging(load_aging(engine, actor, filters))
            with right:
                render_root_causes(load_root_causes(engine, actor, filters))
        render_drill_down(engine, actor, page_lines)
        render_watchlist(load_watchlist(engine, actor))
    except InvalidBacklogRequest as error:
        st.error(str(error))
    except DatabaseUnavailable as error:
        logger.warning("exposure page cannot read the database: %s", error)
        st.error(str(error), icon=":material/error:")


render_page()
