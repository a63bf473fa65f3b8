"""Settings: priority weights, governance thresholds, users with their roles and approval limits, and message templates.

Every change goes through a use case in services/admin, which checks the
administrator role, validates the value, and writes the change with its
audit entry in one transaction.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import streamlit as st

from services.admin.business_settings import (
    get_governance_policy,
    get_priority_weights,
    update_governance_policy,
    update_priority_weights,
)
from services.admin.errors import InvalidAdminChange
from services.admin.templates import list_message_templates, update_message_template
from services.admin.users import add_user, change_role, list_user_accounts, set_approval_limit, set_user_active
from services.auth.navigation import SETTINGS
from services.auth.roles import Role, RoleRefused
from services.db.engine import DatabaseUnavailable
from services.recommend.governance import ACTIONS, CONFIDENCE_LEVELS
from services.web import get_engine, guard_page, show_table

logger = logging.getLogger(__name__)

ROLES = [role.value for role in Role]


def saved(message: str) -> None:
    st.toast(message, icon=":material/check_circle:")
    st.success(message, icon=":material/check_circle:")


def render_weights(engine, actor) -> None:
    current = get_priority_weights(engine, actor).as_dict()
    st.caption("Points each priority component adds at its maximum. They apply at the next exposure recompute.")
    with st.form("priority_weights_form"):
        columns = st.columns(len(current))
        entered = {
            name: column.number_input(name, value=float(weight), step=1.0, key=f"weight_{name}")
            for column, (name, weight) in zip(columns, current.items())
        }
        submitted = st.form_submit_button("Save weights")
    if submitted:
        try:
            update_priority_weights(engine, actor, {name: Decimal(str(value)) for name, value in entered.items()})
        except InvalidAdminChange as error:
            st.error(str(error), icon=":material/error:")
            return
        saved("Priority weights saved.")


def render_governance(engine, actor) -> None:
    policy = get_governance_policy(engine, actor)
    st.caption("Classes new recommendations as auto, planner or leader approval at the next recommendation run.")
    with st.form("governance_form"):
        left, middle, right = st.columns(3)
        auto_limit = left.number_input(
            "Auto-approve value limit", value=float(policy.auto_approve_value_limit), step=100.0, key="policy_auto_limit",
            help="Revenue recovered above this needs a planner.",
        )
        leader_limit = middle.number_input(
            "Leader value limit", value=float(policy.leader_value_limit), step=1000.0, key="policy_leader_limit",
            help="Revenue recovered above this needs an operations leader.",
        )
        margin_floor = right.number_input(
            "Substitute margin floor", value=float(policy.substitute_margin_floor), step=0.01, key="policy_margin_floor",
            help="A substitution whose margin share is below this needs an operations leader (a share from 0 to 1).",
        )
        confidence = left.selectbox(
            "Minimum forecast confidence", CONFIDENCE_LEVELS,
            index=CONFIDENCE_LEVELS.index(policy.minimum_forecast_confidence), key="policy_confidence",
        )
        actions = middle.multiselect("Auto actions", ACTIONS, default=list(policy.auto_actions), key="policy_auto_actions")
        strategic = right.checkbox(
            "Strategic customers need a leader", value=policy.strategic_customer_to_leader, key="policy_strategic"
        )
        regulated = right.checkbox("Regulated items need a leader", value=policy.regulated_item_to_leader, key="policy_regulated")
        submitted = st.form_submit_button("Save governance policy")
    if submitted:
        try:
            update_governance_policy(engine, actor, {
                "auto_approve_value_limit": Decimal(str(auto_limit)),
                "leader_value_limit": Decimal(str(leader_limit)),
                "substitute_margin_floor": Decimal(str(margin_floor)),
                "minimum_forecast_confidence": confidence,
                "auto_actions": actions,
                "strategic_customer_to_leader": strategic,
                "regulated_item_to_leader": regulated,
            })
        except InvalidAdminChange as error:
            st.error(str(error), icon=":material/error:")
            return
        saved("Governance policy saved.")


def render_users(engine, actor) -> None:
    users = list_user_accounts(engine, actor)
    show_table(users, key="users", file_name="users", column_config={
        "approval_limit": st.column_config.NumberColumn("Approval limit", format="%.2f"),
        "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm z"),
    })

    st.markdown("**Change a user**")
    by_name = {row["username"]: row for row in users.to_dict("records")}
    username = st.selectbox("User", list(by_name), index=None, key="user_pick")
    if username is not None:
        render_user_change(engine, actor, by_name[username])

    st.markdown("**Add a user**")
    with st.form("add_user_form", clear_on_submit=True):
        left, right = st.columns(2)
        new_name = left.text_input("Username", key="new_username")
        display_name = right.text_input("Display name", key="new_display_name")
        role = left.selectbox("Role", ROLES, key="new_role")
        limit = right.number_input("Approval limit", value=0.0, step=1000.0, key="new_limit")
        password = left.text_input("Password", type="password", key="new_password")
        submitted = st.form_submit_button("Add user")
    if submitted:
        try:
            user_id = add_user(
                engine, actor, new_name, password, role, display_name=display_name, approval_limit=Decimal(str(limit))
            )
        except InvalidAdminChange as error:
            st.error(str(error), icon=":material/error:")
            return
        saved(f"User {new_name.strip()} added with id {user_id}.")


def render_user_change(engine, actor, user: dict) -> None:
    user_id = int(user["id"])
    with st.form(f"user_form_{user_id}"):
        left, middle, right = st.columns(3)
        role = left.selectbox("Role", ROLES, index=ROLES.index(user["role"]), key=f"user_role_{user_id}")
        limit = middle.number_input(
            "Approval limit", value=float(user["approval_limit"]), step=1000.0, key=f"user_limit_{user_id}"
        )
        active = right.checkbox("Active", value=bool(user["active"]), key=f"user_active_{user_id}")
        submitted = st.form_submit_button("Save user")
    if not submitted:
        return
    changes = []
    try:
        if role != user["role"]:
            change_role(engine, actor, user_id, role)
            changes.append(f"role {role}")
        if Decimal(str(limit)) != user["approval_limit"]:
            set_approval_limit(engine, actor, user_id, Decimal(str(limit)))
            changes.append(f"approval limit {limit:,.2f}")
        if active != user["active"]:
            set_user_active(engine, actor, user_id, active)
            changes.append("active" if active else "deactivated")
    except InvalidAdminChange as error:
        st.error(str(error), icon=":material/error:")
        return
    if changes:
        saved(f"User {user['username']}: {', '.join(changes)}.")
    else:
        st.info(f"User {user['username']} has no change to save.", icon=":material/info:")


def render_templates(engine, actor) -> None:
    templates = list_message_templates(engine, actor)
    by_code = {row["code"]: row for row in templates.to_dict("records")}
    code = st.selectbox("Template", list(by_code), key="template_pick")
    template = by_code[code]
    st.markdown(f"**{template['name']}**" + ("" if template["approved"] else " (not approved)"))
    st.caption(
        "Placeholders: {order_number}, {line_number}, {customer_name}, {item_sku}, {item_description}, {qty}, "
        "{old_promise_date}, {new_promise_date}, {substitute_sku}, {substitute_description}, {substitute_qty}, and "
        "{note} once at most, the free text the approver may write."
    )
    with st.form(f"template_form_{code}"):
        subject = st.text_input("Subject", value=template["subject"], key=f"template_subject_{code}")
        body = st.text_area("Body", value=template["body"], height=260, key=f"template_body_{code}")
        submitted = st.form_submit_button("Save template")
    if submitted:
        try:
            update_message_template(engine, actor, code, subject=subject, body=body)
        except InvalidAdminChange as error:
            st.error(str(error), icon=":material/error:")
            return
        saved(f"Template {code} saved.")


def render_page() -> None:
    actor = guard_page(SETTINGS)
    try:
        engine = get_engine()
        tabs = st.tabs(["Priority weights", "Governance", "Users and limits", "Message templates"])
        with tabs[0]:
            render_weights(engine, actor)
        with tabs[1]:
            render_governance(engine, actor)
        with tabs[2]:
            render_users(engine, actor)
        with tabs[3]:
            render_templates(engine, actor)
    except DatabaseUnavailable as error:
        logger.warning("settings page cannot read the database: %s", error)
        st.error(str(error), icon=":material/error:")
    except RoleRefused as error:
        st.error(str(error), icon=":material/lock:")


render_page()
