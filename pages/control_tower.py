"""Control tower: the backlog, what is at risk and the supply on order at a glance, and how fresh the data is."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import streamlit as st

from services.auth.navigation import CONTROL_TOWER
from services.auth.roles import Actor
from services.db.engine import DatabaseUnavailable
from services.exposure.backlog import ROOT_CAUSE_HELP, STATUS_HELP
from services.kpis.headline import (
    STALE_AFTER_HOURS,
    ExposureHeadline,
    get_exposure_headline,
    get_top_exposures,
    stale_sources,
)
from services.kpis.overview import (
    BacklogOverview,
    get_backlog_overview,
    get_job_freshness,
    get_source_freshness,
    has_loaded_data,
)
from services.web import get_engine, get_settings, guard_page, show_table

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30
FRESHNESS_REFRESH_SECONDS = 60

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}

NO_DATA_MESSAGE = (
    "No data has been loaded yet: the database holds no order lines, purchase order "
    "lines, sync runs or job runs. `control-tower up` loads the demo distributor "
    "into an empty database."
)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_has_data(_engine) -> bool:
    return has_loaded_data(_engine)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_backlog_overview(_engine) -> BacklogOverview:
    return get_backlog_overview(_engine)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_exposure_headline(_engine, actor: Actor) -> ExposureHeadline:
    return get_exposure_headline(_engine, actor)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_top_exposures(_engine, actor: Actor) -> pd.DataFrame:
    return get_top_exposures(_engine, actor)


# Ages are computed when the cache is filled, so they can be up to
# CACHE_SECONDS old when shown.
@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_source_freshness(_engine) -> pd.DataFrame:
    return get_source_freshness(_engine, now=datetime.now(timezone.utc))


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_job_freshness(_engine) -> pd.DataFrame:
    return get_job_freshness(_engine, now=datetime.now(timezone.utc))


def format_units(quantity: Decimal) -> str:
    """Format a quantity with thousands separators and no trailing zeros."""
    return f"{quantity.normalize():,f}"


def format_money(values: dict[str, Decimal]) -> str:
    """Format amounts per currency, rounded half up to cents, e.g. "$1,987.21"."""
    if not values:
        return "0.00"
    parts = []
    for currency, amount in sorted(values.items()):
        cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        symbol = CURRENCY_SYMBOLS.get(currency)
        parts.append(f"{symbol}{cents:,}" if symbol else f"{currency} {cents:,}")
    return " · ".join(parts)


def render_backlog(overview: BacklogOverview, headline: ExposureHeadline) -> None:
    st.subheader("Backlog")
    lines, units, value = st.columns(3)
    lines.metric("Open order lines", f"{overview.open_order_lines:,}")
    units.metric("Open units", format_units(overview.open_units))
    value.metric("Open value", format_money(overview.open_value))

    at_risk, late, waiting = st.columns(3)
    at_risk.metric("Revenue at risk", format_money(headline.revenue_at_risk))
    late.metric(
        "Lines late", f"{headline.lines_late:,}",
        help=(
            "Exposed lines projected after their promise (after the requested date for a line "
            "without a promise), or whose promise is today or past."
        ),
    )
    waiting.metric("Recommendations waiting", f"{headline.recommendations_waiting:,}")

    st.subheader("Supply on order")
    lines, units, value = st.columns(3)
    lines.metric("Open PO lines", f"{overview.open_po_lines:,}")
    units.metric("Units on order", format_units(overview.units_on_order))
    value.metric("Value on order", format_money(overview.value_on_order))
    if overview.po_lines_without_cost == 1:
        st.caption("1 open PO line has no unit cost and is left out of the value on order.")
    elif overview.po_lines_without_cost > 1:
        st.caption(
            f"{overview.po_lines_without_cost:,} open PO lines have no unit cost "
            "and are left out of the value on order."
        )


def freshness_columns(business_timezone: str, error_help: str) -> dict:
    """Column settings shared by the source and job freshness tables."""
    return {
        "last_success_at": st.column_config.DatetimeColumn(
            "Last success", format="YYYY-MM-DD HH:mm z", timezone=business_timezone
        ),
        "age_hours": st.column_config.NumberColumn(
            "Age (hours)", format="%.1f", help="Hours since the last successful finish."
        ),
        "last_status": st.column_config.TextColumn("Last status"),
        "last_error": st.column_config.TextColumn(
            "Last error", width="large", help=error_help
        ),
    }


def render_source_freshness(frame: pd.DataFrame, business_timezone: str) -> None:
    st.subheader("Data freshness")
    if frame.empty:
        st.caption("No source has been synced yet.")
        return
    columns = freshness_columns(business_timezone, "Error of the latest run when it failed.")
    columns["source"] = st.column_config.TextColumn("Source")
    columns["entity"] = st.column_config.TextColumn("Entity")
    columns["rows_read"] = st.column_config.NumberColumn(
        "Rows read", format="localized", help="Rows read by the last successful run."
    )
    columns["rows_rejected"] = st.column_config.NumberColumn(
        "Rows rejected",
        format="localized",
        help="Rows of the last successful run that went to quarantine with their reason.",
    )
    show_table(
        frame,
        key="source_freshness",
        file_name="source_freshness",
        column_config=columns,
        column_order=[
            "source", "entity", "last_success_at", "age_hours", "rows_read", "rows_rejected",
            "last_status", "last_error",
        ],
    )


def render_top_exposures(frame: pd.DataFrame) -> None:
    st.subheader("Top exposures")
    if frame.empty:
        st.caption("No open order line is exposed.")
        return
    show_table(
        frame,
        key="top_exposures",
        file_name="top_exposures",
        column_order=[
            "order_number", "line_number", "customer_name", "tier", "sku", "warehouse_code", "status",
            "root_cause", "shortage_qty", "current_promised_date", "projected_date_p50", "revenue_at_risk",
            "priority_score",
        ],
        column_config={
            "order_number": st.column_config.TextColumn("Order"),
            "line_number": st.column_config.NumberColumn("Line"),
            "customer_name": st.column_config.TextColumn("Customer"),
            "tier": st.column_config.TextColumn("Tier"),
            "sku": st.column_config.TextColumn("SKU"),
            "warehouse_code": st.column_config.TextColumn("Warehouse"),
            "status": st.column_config.TextColumn("Status", help=STATUS_HELP),
            "root_cause": st.column_config.TextColumn("Root cause", help=ROOT_CAUSE_HELP),
            "shortage_qty": st.column_config.NumberColumn("Shortage", format="localized"),
            "current_promised_date": st.column_config.DateColumn("Promised", format="YYYY-MM-DD"),
            "projected_date_p50": st.column_config.DateColumn("Projected (P50)", format="YYYY-MM-DD"),
            "revenue_at_risk": st.column_config.NumberColumn("Revenue at risk", format="dollar"),
            "priority_score": st.column_config.NumberColumn("Priority", format="%.1f"),
        },
    )


def render_stale_warning(frame: pd.DataFrame) -> None:
    stale = stale_sources(frame)
    if stale.empty:
        return
    names = ", ".join(f"{row.source}/{row.entity}" for row in stale.itertuples())
    st.warning(
        f"Stale data: {names} had no successful sync in the last {STALE_AFTER_HOURS:g} hours. "
        "Figures that depend on them may be out of date; check the connector and its inbox folder.",
        icon=":material/schedule:",
    )


def render_job_freshness(frame: pd.DataFrame, business_timezone: str) -> None:
    st.subheader("Jobs")
    if frame.empty:
        st.caption("No job has run yet.")
        return
    columns = freshness_columns(
        business_timezone, "Error of the latest run when it failed or finished as partial."
    )
    columns["job_name"] = st.column_config.TextColumn("Job")
    show_table(frame, key="job_freshness", file_name="job_freshness", column_config=columns)


@st.fragment(run_every=FRESHNESS_REFRESH_SECONDS)
def render_freshness(business_timezone: str) -> None:
    """Redraw the freshness tables on a timer, without rerunning the whole page."""
    try:
        engine = get_engine()
        sources = load_source_freshness(engine)
        jobs = load_job_freshness(engine)
    except DatabaseUnavailable as error:
        logger.warning("control tower page cannot read the freshness tables: %s", error)
        st.error(str(error), icon=":material/error:")
        return
    render_stale_warning(sources)
    render_source_freshness(sources, business_timezone)
    render_job_freshness(jobs, business_timezone)


def render_page() -> None:
    actor = guard_page(CONTROL_TOWER)
    business_timezone = get_settings().business_timezone
    try:
        engine = get_engine()
        if not load_has_data(engine):
            st.info(NO_DATA_MESSAGE, icon=":material/info:")
            return
        overview = load_backlog_overview(engine)
        headline = load_exposure_headline(engine, actor)
        top = load_top_exposures(engine, actor)
    except DatabaseUnavailable as error:
        logger.warning("control tower page cannot read the database: %s", error)
        st.error(str(error), icon=":material/error:")
        return

    render_backlog(overview, headline)
    render_top_exposures(top)
    render_freshness(business_timezone)


render_page()
