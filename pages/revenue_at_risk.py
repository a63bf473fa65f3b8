"""Revenue at risk: revenue and margin at risk by projected ship week, customer and supplier, and a what-if preview."""

from __future__ import annotations

import logging

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from services.auth.navigation import REVENUE_AT_RISK
from services.auth.roles import Actor
from services.db.engine import DatabaseUnavailable
from services.exposure.backlog import InvalidBacklogRequest
from services.exposure.revenue import (
    find_po_line,
    preview_supply_change,
    revenue_by_customer,
    revenue_by_ship_week,
    revenue_by_supplier,
    whatif_suppliers,
)
from services.exposure.whatif import InvalidWhatIf, SupplyChange, WhatIfResult
from services.web import get_engine, guard_page, money_format, show_table

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30
TOP = 50
CHANGED_LINES_SHOWN = 5_000
WHATIF_RESULT_KEY = "revenue_whatif_result"


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_by_week(_engine, actor: Actor) -> pd.DataFrame:
    return revenue_by_ship_week(_engine, actor)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_by_customer(_engine, actor: Actor) -> pd.DataFrame:
    return revenue_by_customer(_engine, actor, limit=TOP)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_by_supplier(_engine, actor: Actor) -> pd.DataFrame:
    return revenue_by_supplier(_engine, actor, limit=TOP)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_suppliers(_engine, actor: Actor) -> pd.DataFrame:
    return whatif_suppliers(_engine, actor)


def money_columns(frame: pd.DataFrame) -> dict:
    money = money_format(frame["currency"]) if "currency" in frame else "%.2f"
    return {
        name: st.column_config.NumberColumn(label, format=money)
        for name, label in (
            ("revenue_at_risk", "Revenue at risk"), ("margin_at_risk", "Margin at risk"),
            ("penalty_exposure", "Penalty exposure"),
        )
    }


def render_by_week(frame: pd.DataFrame) -> None:
    st.subheader("By projected ship week")
    if frame.empty:
        st.caption("No open order line is exposed.")
        return
    dated = frame.dropna(subset=["week_start"])
    figure = go.Figure()
    for currency, rows in dated.groupby("currency", sort=True):
        figure.add_bar(x=rows["week_start"], y=rows["revenue_at_risk"].astype(float), name=f"Revenue ({currency})")
        figure.add_bar(x=rows["week_start"], y=rows["margin_at_risk"].astype(float), name=f"Margin ({currency})")
    figure.update_layout(barmode="group", xaxis_title="Week starting (Monday)", yaxis_title="At risk", height=340,
                         margin=dict(t=20))
    st.plotly_chart(figure, key="week_chart")
    undated = frame[frame["week_start"].isna()]
    if not undated.empty:
        st.caption(
            f"{int(undated['lines'].sum()):,} exposed lines have no projected date because no known supply covers them; "
            "they are the last row of the table."
        )
    show_table(frame, key="by_week", file_name="revenue_at_risk_by_week", column_config={
        "week_start": st.column_config.DateColumn("Week starting", format="YYYY-MM-DD"),
        "lines": st.column_config.NumberColumn("Lines"),
        "shortage_qty": st.column_config.NumberColumn("Shortage", format="localized"),
        **money_columns(frame),
    })


def render_by_customer(frame: pd.DataFrame) -> None:
    st.subheader(f"By customer (top {TOP})")
    if frame.empty:
        st.caption("No open order line is exposed.")
        return
    show_table(frame, key="by_customer", file_name="revenue_at_risk_by_customer", column_config={
        "customer_code": st.column_config.TextColumn("Customer"),
        "customer_name": st.column_config.TextColumn("Name"),
        "tier": st.column_config.TextColumn("Tier"),
        "lines": st.column_config.NumberColumn("Lines"),
        **money_columns(frame),
    })


def render_by_supplier(frame: pd.DataFrame) -> None:
    st.subheader(f"By supplier (top {TOP})")
    if frame.empty:
        st.caption("No open order line is exposed.")
        return
    figure = go.Figure(go.Bar(x=frame["supplier_code"], y=frame["revenue_at_risk"].astype(float)))
    figure.update_layout(yaxis_title="Revenue at risk", height=300, margin=dict(t=20))
    st.plotly_chart(figure, key="supplier_chart")
    show_table(frame, key="by_supplier", file_name="revenue_at_risk_by_supplier", column_config={
        "supplier_code": st.column_config.TextColumn("Supplier"),
        "supplier_name": st.column_config.TextColumn("Name"),
        "lines": st.column_config.NumberColumn("Lines"),
        **money_columns(frame),
    })


def read_change(engine, actor: Actor, suppliers: pd.DataFrame) -> SupplyChange | None:
    """Draw the what-if form and return the change when the user asks for a preview."""
    with st.form("whatif"):
        target = st.radio("Change", ["Delay a supplier", "Delay a PO line", "Cancel a PO line"], horizontal=True,
                          key="whatif_target")
        labels = {int(row.supplier_id): f"{row.supplier_code} · {row.supplier_name} ({row.open_po_lines} open PO lines)"
                  for row in suppliers.itertuples()}
        supplier_id = st.selectbox("Supplier", list(labels), format_func=labels.get, key="whatif_supplier")
        po_column, line_column, days_column = st.columns(3)
        po_number = po_column.text_input("PO number", key="whatif_po_number")
        line_number = line_column.number_input("PO line", min_value=1, value=1, step=1, key="whatif_po_line")
        days = days_column.number_input("Days of delay", min_value=1, max_value=365, value=7, step=1, key="whatif_days")
        submitted = st.form_submit_button("Preview the change", type="primary")
    if not submitted:
        return None
    if target == "Delay a supplier":
        return SupplyChange("delay", supplier_id=supplier_id, days=int(days))
    po_line_id = find_po_line(engine, actor, po_number, int(line_number))
    if target == "Delay a PO line":
        return SupplyChange("delay", po_line_id=po_line_id, days=int(days))
    return SupplyChange("cancel", po_line_id=po_line_id)


def render_whatif_result(result: WhatIfResult) -> None:
    st.caption("A preview only: nothing has been written.")
    total = result.summary[result.summary["status"] == "all"]
    for row in total.itertuples():
        lines, revenue = st.columns(2)
        lines.metric(f"Exposed lines after ({row.currency})", f"{row.lines_after:,}", delta=f"{row.lines_change:+,}",
                     delta_color="inverse")
        revenue.metric(f"Revenue at risk after ({row.currency})", f"{row.revenue_at_risk_after:,.2f}",
                       delta=f"{row.revenue_at_risk_change:+,.2f}", delta_color="inverse")
    show_table(result.summary, key="whatif_summary", file_name="whatif_summary")
    changed = result.lines
    st.markdown(f"**Lines that change: {len(changed):,}**")
    if len(changed) > CHANGED_LINES_SHOWN:
        st.caption(f"The first {CHANGED_LINES_SHOWN:,} by order line id are shown.")
    show_table(changed.head(CHANGED_LINES_SHOWN), key="whatif_lines", file_name="whatif_lines", column_config={
        "projected_date_before": st.column_config.DateColumn("Projected before", format="YYYY-MM-DD"),
        "projected_date_after": st.column_config.DateColumn("Projected after", format="YYYY-MM-DD"),
    })


def render_whatif(engine, actor: Actor) -> None:
    st.subheader("What if")
    suppliers = load_suppliers(engine, actor)
    if suppliers.empty:
        st.caption("No supplier has an open purchase order line to delay or cancel.")
        return
    try:
        change = read_change(engine, actor, suppliers)
        if change is not None:
            with st.spinner("Netting the affected items with and without the change..."):
                st.session_state[WHATIF_RESULT_KEY] = preview_supply_change(engine, actor, change)
    except (InvalidWhatIf, InvalidBacklogRequest) as error:
        st.error(str(error))
        return
    result = st.session_state.get(WHATIF_RESULT_KEY)
    if result is not None:
        render_whatif_result(result)


def render_page() -> None:
    actor = guard_page(REVENUE_AT_RISK)
    try:
        engine = get_engine()
        with st.spinner("Summing revenue at risk..."):
            render_by_week(load_by_week(engine, actor))
            left, right = st.columns(2)
            with left:
                render_by_customer(load_by_customer(engine, actor))
            with right:
                render_by_supplier(load_by_supplier(engine, actor))
        render_whatif(engine, actor)
    except DatabaseUnavailable as error:
        logger.warning("revenue at risk page cannot read the database: %s", error)
        st.error(str(error), icon=":material/error:")


render_page()
