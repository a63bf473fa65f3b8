"""The Streamlit entry point: page config, navigation and the frame drawn around every page.

Pages are listed here explicitly, because calling st.navigation turns off
Streamlit's discovery of the pages/ folder.
"""

from __future__ import annotations

import logging

import streamlit as st

from services.settings import SettingsError
from services.web import describe_database, get_settings

logger = logging.getLogger(__name__)

PRODUCT_NAME = "Backorder control tower"

st.set_page_config(
    page_title=PRODUCT_NAME,
    page_icon=":material/cell_tower:",
    layout="wide",
)

# Each section groups the pages of one kind of user, so a later page joins
# the section of the people who work on it.
PAGES = {
    "Overview": [
        st.Page(
            "pages/control_tower.py",
            title="Control tower",
            icon=":material/monitoring:",
            default=True,
        ),
    ],
}

page = st.navigation(PAGES)

with st.sidebar:
    st.markdown(f"**{PRODUCT_NAME}**")
    try:
        settings = get_settings()
    except SettingsError as error:
        logger.error("app cannot start: %s", error)
        st.error(str(error))
        st.stop()
    st.caption(f"Database: {describe_database(settings)}")

st.title(page.title)
page.run()
