"""Recommendations: the approval queue with filters, approve and reject per recommendation, and bulk approval of the auto class.

A decision acts on the recommendation the user picked, as it was shown:
its id and the quantity seen are kept in the session when it is picked, and
the Approve button passes that quantity as expected_qty. So a changed
recommendation is refused rather than approved with a quantity the user did
not see. A second click on Approve reaches the same recommendation and gets
the service's "already approved" answer.
"""

from __future__ import annotations

import functools
import logging

import pandas as pd
import streamlit as st

from services.approvals.decide import approve_all_auto, approve_recommendation, reject_recommendation
from services.approvals.errors import ApprovalRefused, format_qty
from services.approvals.governance import GovernanceClass, RecommendationStatus
from services.approvals.queries import count_recommendations, recommendation_queue
from services.auth.navigation import RECOMMENDATIONS
from services.auth.roles import RoleRefused
from services.db.engine import DatabaseUnavailable
from services.recommend.governance import ACTIONS
from services.web import get_engine, guard_page, show_table, signed_in_actor

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30
ANY = "(any)"
# recommendation_queue returns at most 1,000 rows, so no page sends more to the browser.
PAGE_SIZES = (50, 200, 1000)

TARGET_KEY = "recommendation_target"
OUTCOME_KEY = "recommendation_outcome"
BULK_KEY = "recommendation_bulk_refusals"
GENERATION_KEY = "recommendation_generation"
SHOWN_KEY = "recommendation_shown"
REASON_KEY = "recommendation_reject_reason"


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_queue(_engine, actor, status, governance_class, action, page_size, page) -> pd.DataFrame:
    return recommendation_queue(
        _engine, actor, status=status, governance_class=governance_class, action=action,
        limit=page_size, offset=(page - 1) * page_size,
    )


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_count(_engine, actor, status, governance_class, action) -> int:
    return count_recommendations(_engine, actor, status=status, governance_class=governance_class, action=action)


def chosen(value: str) -> str | None:
    return None if value == ANY else value


# --- Picking a recommendation and deciding it (widget callbacks) -----------------
# Callbacks run before the page's script. The run that drew the button
# checked the role, and the use cases check it again.


def pick(recommendation_id: int | None) -> None:
    """Keep the picked row as it was shown; the decision buttons act on it."""
    shown = st.session_state.get(SHOWN_KEY, {})
    if recommendation_id in shown:
        st.session_state[TARGET_KEY] = shown[recommendation_id]


def pick_from_table(table_key: str) -> None:
    rows = st.session_state[table_key].selection.rows
    order = list(st.session_state.get(SHOWN_KEY, {}))
    if rows and rows[0] < len(order):
        pick(order[rows[0]])


def pick_from_list(list_key: str) -> None:
    labels = {describe(row): recommendation_id for recommendation_id, row in st.session_state.get(SHOWN_KEY, {}).items()}
    pick(labels.get(st.session_state[list_key]))


def decided(kind: str, message: str) -> None:
    """Store the outcome for this run to show, and drop cached queue pages so the new status shows."""
    st.session_state[OUTCOME_KEY] = (kind, message)
    # A new key empties the table's selection, which would otherwise point at another row of the changed queue.
    st.session_state[GENERATION_KEY] = st.session_state.get(GENERATION_KEY, 0) + 1
    load_queue.clear()
    load_count.clear()


def approve_clicked(recommendation_id: int, shown_qty) -> None:
    try:
        result = approve_recommendation(
            get_engine(), signed_in_actor(), recommendation_id, expected_qty=shown_qty
        )
    except (ApprovalRefused, RoleRefused) as error:
        decided("error", str(error))
        return
    decided(
        "done",
        f"Recommendation {recommendation_id} approved: allocation {result.allocation_id or 'none'}, "
        f"{len(result.task_ids)} tasks, customer message {result.customer_message_id or 'none'}.",
    )


def reject_clicked(recommendation_id: int) -> None:
    reason = st.session_state.get(REASON_KEY, "")
    try:
        reject_recommendation(get_engine(), signed_in_actor(), recommendation_id, reason)
    except (ApprovalRefused, RoleRefused) as error:
        decided("error", str(error))
        return
    st.session_state[REASON_KEY] = ""
    decided("done", f"Recommendation {recommendation_id} rejected: {reason.strip()}")


def approve_all_clicked() -> None:
    try:
        summary = approve_all_auto(get_engine(), signed_in_actor())
    except RoleRefused as error:
        decided("error", str(error))
        return
    st.session_state[BULK_KEY] = pd.DataFrame(summary.refused, columns=["recommendation_id", "reason"])
    decided(
        "done",
        f"Approved {len(summary.approved):,} auto-approvable recommendations; {len(summary.refused):,} refused.",
    )


# --- Drawing ------------------------------------------------------------------


def show_outcome() -> None:
    outcome = st.session_state.pop(OUTCOME_KEY, None)
    if outcome is None:
        return
    kind, message = outcome
    if kind == "done":
        st.toast(message, icon=":material/check_circle:")
        st.success(message, icon=":material/check_circle:")
    else:
        st.error(message, icon=":material/block:")


def render_filters() -> tuple[str | None, str | None, str | None, int, int]:
    status_column, class_column, action_column, size_column, page_column = st.columns(5)
    status = status_column.selectbox(
        "Status", [status.value for status in RecommendationStatus] + [ANY], key="recommendation_status"
    )
    klass = class_column.selectbox("Class", [ANY, *(k.value for k in GovernanceClass)], key="recommendation_class")
    action = action_column.selectbox("Action", [ANY, *ACTIONS], key="recommendation_action")
    page_size = size_column.selectbox("Rows per page", PAGE_SIZES, index=1, key="recommendation_page_size")
    page = int(page_column.number_input("Page", min_value=1, value=1, step=1, key="recommendation_page"))
    return chosen(status), chosen(klass), chosen(action), page_size, page


def render_bulk() -> None:
    st.button(
        "Approve all auto-approvable", key="approve_all_auto", icon=":material/done_all:",
        on_click=approve_all_clicked,
        help="Approves every proposed recommendation of class auto, one transaction each.",
    )
    refused = st.session_state.get(BULK_KEY)
    if refused is not None and not refused.empty:
        with st.expander(f"Refused in the last bulk approval ({len(refused):,})"):
            st.dataframe(refused, hide_index=True, width="stretch", key="bulk_refusals_table")


def render_queue(engine, actor, filters) -> pd.DataFrame:
    status, klass, action, page_size, page = filters
    total = load_count(engine, actor, status, klass, action)
    frame = load_queue(engine, actor, status, klass, action, page_size, page)
    st.session_state[SHOWN_KEY] = {int(row["recommendation_id"]): row for row in frame.to_dict("records")}
    if frame.empty:
        st.caption(f"No recommendations match ({total:,} in all with these filters).")
        return frame

    generation = st.session_state.get(GENERATION_KEY, 0)
    table_key = f"queue_{generation}"
    show_table(
        frame, key=table_key, file_name="recommendations",
        on_select=functools.partial(pick_from_table, f"{table_key}_table"), selection_mode="single-row",
        column_order=[
            "recommendation_id", "action", "order_line", "customer", "item", "qty", "source", "substitute",
            "expected_date", "explanation", "impact", "revenue_recovered", "days_saved", "cost", "currency",
            "governance_class", "status", "stale_reason",
        ],
        column_config={
            "recommendation_id": st.column_config.NumberColumn("Id"),
            "order_line": "Line",
            "qty": st.column_config.NumberColumn("Qty", format="localized"),
            "expected_date": st.column_config.DateColumn("Expected"),
            "explanation": st.column_config.TextColumn("Explanation", width="large"),
            "revenue_recovered": st.column_config.NumberColumn("Revenue recovered", format="%.2f"),
            "days_saved": st.column_config.NumberColumn("Days saved"),
            "cost": st.column_config.NumberColumn("Cost", format="%.2f"),
            "governance_class": "Class",
            "stale_reason": st.column_config.TextColumn("What changed (stale)", width="large"),
        },
    )
    first = (page - 1) * page_size + 1
    st.caption(f"Rows {first:,}-{first + len(frame) - 1:,} of {total:,}. Select a row to decide it.")
    return frame


def describe(row: dict) -> str:
    return f"#{row['recommendation_id']} {row['action']} {format_qty(row['qty'])} x {row['item']} for {row['order_line']}"


def render_decision() -> None:
    generation = st.session_state.get(GENERATION_KEY, 0)
    list_key = f"recommendation_pick_{generation}"
    shown = st.session_state.get(SHOWN_KEY, {})
    st.selectbox(
        "Recommendation", [describe(row) for row in shown.values()], index=None, key=list_key,
        placeholder="Select a row in the table or pick it here", on_change=pick_from_list, args=(list_key,),
    )
    target = st.session_state.get(TARGET_KEY)
    if target is None:
        return

    st.markdown(f"**{describe(target)}** ({target['customer']})")
    st.caption(
        f"Source {target['source'] or 'none'}; expected {target['expected_date'] or 'not dated'}; "
        f"{target['impact']}; class {target['governance_class']}; status {target['status']}."
    )
    st.write(target["explanation"])
    if target["status"] == RecommendationStatus.STALE:
        st.warning(f"Stale: {target['stale_reason'] or 'the data it was computed from changed'}", icon=":material/history:")

    recommendation_id = int(target["recommendation_id"])
    approve_column, reason_column, reject_column = st.columns([1, 3, 1], vertical_alignment="bottom")
    approve_column.button(
        "Approve", key="approve_recommendation", type="primary", icon=":material/check:",
        on_click=approve_clicked, args=(recommendation_id, target["qty"]),
    )
    reason_column.text_input("Reason for rejecting", key=REASON_KEY)
    reject_column.button(
        "Reject", key="reject_recommendation", icon=":material/close:",
        on_click=reject_clicked, args=(recommendation_id,),
    )


def render_page() -> None:
    actor = guard_page(RECOMMENDATIONS)
    show_outcome()
    try:
        engine = get_engine()
        filters = render_filters()
        render_bulk()
        render_queue(engine, actor, filters)
        render_decision()
    except DatabaseUnavailable as error:
        logger.warning("recommendations page cannot read the database: %s", error)
        st.error(str(error), icon=":material/error:")
    except RoleRefused as error:
        st.error(str(error), icon=":material/lock:")


render_page()
