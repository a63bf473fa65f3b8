"""Customer updates: message drafts with their order context, approve one as edited within its template, and the mails delivered."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from services.approvals.errors import InvalidMessageEdit
from services.approvals.messages import MessageNotDraft, approve_customer_message
from services.approvals.queries import customer_message_drafts, delivered_customer_mail
from services.auth.navigation import CUSTOMER_UPDATES
from services.auth.roles import RoleRefused
from services.db.engine import DatabaseUnavailable
from services.web import get_engine, get_settings, guard_page, show_table, signed_in_actor

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30
# customer_message_drafts and delivered_customer_mail return at most 1,000 rows.
ROWS = 1000
ANY = "(any)"
OUTCOME_KEY = "customer_update_outcome"


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_drafts(_engine, actor) -> pd.DataFrame:
    return customer_message_drafts(_engine, actor, status="draft", limit=ROWS)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_mail(_engine, actor, status) -> pd.DataFrame:
    return delivered_customer_mail(_engine, actor, status=status, limit=ROWS)


def describe(row: dict) -> str:
    return f"#{row['message_id']} {row['order_line']} {row['customer']}: {row['subject']}"


def approve_clicked(message_id: int) -> None:
    subject = st.session_state.get(f"message_subject_{message_id}", "")
    body = st.session_state.get(f"message_body_{message_id}", "")
    try:
        approval = approve_customer_message(get_engine(), signed_in_actor(), message_id, subject=subject, body=body)
    except (InvalidMessageEdit, MessageNotDraft, RoleRefused) as error:
        st.session_state[OUTCOME_KEY] = ("error", str(error))
        return
    st.session_state[OUTCOME_KEY] = (
        "done", f"Customer message {message_id} approved; the mail {approval.outbox_message_id} is queued in the outbox.",
    )
    load_drafts.clear()
    load_mail.clear()


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


def render_drafts(engine, actor, business_timezone: str) -> None:
    drafts = load_drafts(engine, actor)
    if drafts.empty:
        st.caption("No customer message waits for approval.")
        return
    show_table(
        drafts, key="drafts", file_name="customer_message_drafts",
        column_order=[
            "message_id", "order_line", "customer", "item", "old_promise_date", "new_promise_date",
            "template_code", "subject", "recommendation_id", "created_at",
        ],
        column_config={
            "message_id": st.column_config.NumberColumn("Message"),
            "order_line": "Line",
            "old_promise_date": "Old promise",
            "new_promise_date": "New promise",
            "template_code": "Template",
            "recommendation_id": st.column_config.NumberColumn("Recommendation"),
            "created_at": st.column_config.DatetimeColumn("Drafted", format="YYYY-MM-DD HH:mm z", timezone=business_timezone),
        },
    )
    rows = {describe(row): row for row in drafts.to_dict("records")}
    label = st.selectbox("Draft", list(rows), index=None, key="draft_pick", placeholder="Pick a draft to review")
    if label is None:
        return

    draft = rows[label]
    message_id = int(draft["message_id"])
    st.caption(
        f"Order line {draft['order_line']} of {draft['customer']}, item {draft['item']}: promise date "
        f"{draft['old_promise_date']} moves to {draft['new_promise_date']}. Template {draft['template_code']}."
    )
    st.text_input("Subject", value=draft["subject"], key=f"message_subject_{message_id}")
    st.text_area(
        "Body", value=draft["body"], height=260, key=f"message_body_{message_id}",
        help="Only the note line of the template, empty in the draft, is free text. Keep the other wording and values.",
    )
    st.button(
        "Approve and send", key="approve_message", type="primary", icon=":material/send:",
        on_click=approve_clicked, args=(message_id,),
    )


def render_mail(engine, actor, business_timezone: str) -> None:
    status_column, refresh_column = st.columns([3, 1], vertical_alignment="bottom")
    status = status_column.selectbox("Status", [ANY, "pending", "delivered", "failed"], key="mail_status")
    refresh_column.button(
        "Refresh", key="refresh_mail", icon=":material/refresh:", on_click=load_mail.clear,
        help=f"The list is read again at most every {CACHE_SECONDS} s; this reads it now.",
    )
    mail = load_mail(engine, actor, None if status == ANY else status)
    if mail.empty:
        st.caption("No customer mail is in the outbox.")
        return
    timestamp = {"format": "YYYY-MM-DD HH:mm z", "timezone": business_timezone}
    show_table(
        mail, key="customer_mail", file_name="customer_mail",
        column_config={
            "message_id": st.column_config.TextColumn("Outbox message"),
            "customer_message_id": st.column_config.NumberColumn("Customer message"),
            "order_line": "Line",
            "created_at": st.column_config.DatetimeColumn("Queued", **timestamp),
            "delivered_at": st.column_config.DatetimeColumn("Delivered", **timestamp),
            "last_error": st.column_config.TextColumn("Last error", width="large"),
        },
    )


def render_page() -> None:
    actor = guard_page(CUSTOMER_UPDATES)
    show_outcome()
    try:
        engine = get_engine()
        business_timezone = get_settings().business_timezone
        st.subheader("Drafts")
        render_drafts(engine, actor, business_timezone)
        st.subheader("Customer mail in the outbox")
        render_mail(engine, actor, business_timezone)
    except DatabaseUnavailable as error:
        logger.warning("customer updates page cannot read the database: %s", error)
        st.error(str(error), icon=":material/error:")
    except RoleRefused as error:
        st.error(str(error), icon=":material/lock:")


render_page()
