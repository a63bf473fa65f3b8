"""The Streamlit entry point: page config, sign-in, navigation by role and the frame drawn around every page.

Pages are listed here explicitly, because calling st.navigation turns off
Streamlit's discovery of the pages/ folder. Every built page is registered
with the router, so a page opened by its URL reaches the page's own role
check and its refusal message. The sidebar menu lists only the pages of the
signed-in role.
"""

from __future__ import annotations

import logging

import streamlit as st

from services.auth.navigation import (
    CONTROL_TOWER,
    CUSTOMER_UPDATES,
    EXPOSURE,
    OPERATIONS,
    RECOMMENDATIONS,
    REVENUE_AT_RISK,
    SETTINGS,
    SUPPLIER_ETA,
    WEEKLY_KPIS,
    pages_for,
)
from services.auth.users import SignInFailed, authenticate
from services.db.engine import DatabaseUnavailable
from services.settings import SettingsError
from services.web import ACTOR_KEY, describe_database, get_engine, get_settings, signed_in_actor

logger = logging.getLogger(__name__)

PRODUCT_NAME = "Backorder control tower"

st.set_page_config(
    page_title=PRODUCT_NAME,
    page_icon=":material/cell_tower:",
    layout="wide",
)

# Every page of the role map in services.auth.navigation; a role's menu
# lists a page once it is added here.
BUILT_PAGES = {
    CONTROL_TOWER: st.Page(
        "pages/control_tower.py", title="Control tower", icon=":material/monitoring:", default=True
    ),
    EXPOSURE: st.Page("pages/exposure.py", title="Exposure", icon=":material/inventory:"),
    REVENUE_AT_RISK: st.Page(
        "pages/revenue_at_risk.py", title="Revenue at risk", icon=":material/payments:"
    ),
    SUPPLIER_ETA: st.Page("pages/supplier_eta.py", title="Supplier ETA", icon=":material/local_shipping:"),
    WEEKLY_KPIS: st.Page("pages/weekly_kpis.py", title="Weekly KPIs", icon=":material/trending_up:"),
    OPERATIONS: st.Page("pages/operations.py", title="Operations", icon=":material/settings_suggest:"),
    RECOMMENDATIONS: st.Page("pages/recommendations.py", title="Recommendations", icon=":material/task_alt:"),
    CUSTOMER_UPDATES: st.Page("pages/customer_updates.py", title="Customer updates", icon=":material/mail:"),
    SETTINGS: st.Page("pages/settings.py", title="Settings", icon=":material/tune:"),
}


def render_sign_in() -> None:
    try:
        engine = get_engine()
    except DatabaseUnavailable as error:
        logger.warning("sign-in page cannot reach the database: %s", error)
        st.error(str(error), icon=":material/error:")
        return
    with st.form("sign_in"):
        username = st.text_input("Username", key="sign_in_username")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    try:
        actor = authenticate(engine, username, password)
    except SignInFailed as error:
        st.error(str(error).capitalize() + ".", icon=":material/lock:")
        return
    st.session_state[ACTOR_KEY] = actor
    st.rerun()


def sign_out() -> None:
    # Filters and other choices of the previous user go with them.
    st.session_state.clear()


with st.sidebar:
    st.markdown(f"**{PRODUCT_NAME}**")
    try:
        settings = get_settings()
    except SettingsError as error:
        logger.error("app cannot start: %s", error)
        st.error(str(error))
        st.stop()
    st.caption(f"Database: {describe_database(settings)}")

actor = signed_in_actor()
if actor is None:
    page = st.navigation([st.Page(render_sign_in, title="Sign in", icon=":material/login:")], position="hidden")
else:
    page = st.navigation(list(BUILT_PAGES.values()), position="hidden")
    with st.sidebar:
        for name in pages_for(actor.role):
            if name in BUILT_PAGES:
                st.page_link(BUILT_PAGES[name])
        st.divider()
        st.caption(f"Signed in as {actor.display_name or actor.username} ({actor.role.label})")
        st.button("Sign out", key="sign_out", on_click=sign_out, icon=":material/logout:")

st.title(page.title)
page.run()
