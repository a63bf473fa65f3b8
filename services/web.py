"""The Streamlit app's settings, its one database engine, the signed-in actor and the helpers pages share.

Under `streamlit run`, Streamlit (checked in 1.67) copies every top-level
string value of .streamlit/secrets.toml into os.environ when the server
starts, replacing a variable of the same name. So DATABASE_URL may be given
there as well as in the environment.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import unquote

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from services.auth.navigation import PAGE_TITLES, require_page, roles_for
from services.auth.roles import Actor, RoleRefused
from services.db.embedded import EmbeddedPostgres, is_running
from services.db.engine import DatabaseUnavailable, check_connection, make_engine
from services.reports.downloads import to_csv_bytes, to_excel_bytes
from services.settings import Settings, configure_logging, load_settings, mask_password

logger = logging.getLogger(__name__)


class EmbeddedDatabaseNotRunning(DatabaseUnavailable):
    """DATABASE_URL is unset and no embedded PostgreSQL runs under the data folder."""


@st.cache_resource(show_spinner=False)
def get_settings() -> Settings:
    """Read the settings once per app process and configure logging from them.

    Raises SettingsError naming the first invalid setting, and caches nothing then.
    """
    settings = load_settings()
    configure_logging(settings.log_level)
    return settings


def describe_database(settings: Settings) -> str:
    """Name the database the app uses, with any password masked, without connecting."""
    if settings.database_url:
        # Unquoted so that a socket folder in the query reads as a path.
        return unquote(mask_password(settings.database_url))
    return f"embedded PostgreSQL in {settings.data_dir / 'postgres'}"


def _resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    if not is_running(settings.data_dir):
        raise EmbeddedDatabaseNotRunning(
            f"DATABASE_URL is unset and the embedded PostgreSQL in "
            f"{settings.data_dir / 'postgres'} is not running. Start the product with "
            "`control-tower up`, or set DATABASE_URL to a running PostgreSQL."
        )
    # The server runs already, so start() only attaches to it and returns its URL.
    return EmbeddedPostgres(settings.data_dir).start()


def _dispose_engine(engine: Engine) -> None:
    engine.dispose()


@st.cache_resource(show_spinner=False, on_release=_dispose_engine)
def get_engine() -> Engine:
    """Create the app's engine and check one connection.

    Raises DatabaseUnavailable (or EmbeddedDatabaseNotRunning) with the fix
    and caches nothing then, so the next rerun tries again.
    """
    settings = get_settings()
    engine = make_engine(_resolve_database_url(settings))
    try:
        check_connection(engine)
    except DatabaseUnavailable:
        engine.dispose()
        raise
    logger.info("app connected to %s", describe_database(settings))
    return engine


# --- Signed-in actor and page guard ---------------------------------------------

ACTOR_KEY = "actor"


def signed_in_actor() -> Actor | None:
    """Return the actor signed in to this browser session, or None."""
    return st.session_state.get(ACTOR_KEY)


def refusal_message(actor: Actor, page: str) -> str:
    """Say which role the actor has and which roles may open the page."""
    allowed = ", ".join(role.label for role in roles_for(page))
    return (
        f"The {PAGE_TITLES[page]} page is open to these roles: {allowed}. You are signed in as "
        f"{actor.username} with the role {actor.role.label}; ask an administrator if you need it."
    )


def guard_page(page: str) -> Actor:
    """Return the signed-in actor when its role may open the page; otherwise show why and stop the run."""
    actor = signed_in_actor()
    if actor is None:
        st.warning("Sign in to see this page.", icon=":material/lock:")
        st.stop()
    try:
        require_page(actor, page)
    except RoleRefused:
        logger.warning("user %s (%s) may not open the %s page; access denied", actor.username, actor.role.value, page)
        st.error(refusal_message(actor, page), icon=":material/block:")
        st.stop()
    return actor


# --- Tables with downloads ------------------------------------------------------


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with exact Decimal columns as floats, which the browser table can format and chart."""
    shown = frame.copy()
    for column in shown.columns:
        if shown[column].dtype == object:
            sample = shown[column].dropna()
            if not sample.empty and isinstance(sample.iloc[0], Decimal):
                shown[column] = pd.to_numeric(shown[column].map(lambda value: None if value is None else float(value)))
    return shown


def money_format(currencies) -> str:
    """Column format for money: dollars when every amount is in USD, else plain two decimals."""
    codes = set(currencies)
    return "dollar" if codes <= {"USD"} else "%.2f"


def download_buttons(frame: pd.DataFrame, file_name: str, key: str) -> None:
    """Offer the table as CSV and Excel, with formula-like text neutralised; the files are built when clicked."""
    csv_column, excel_column, _ = st.columns([1, 1, 6])
    csv_column.download_button(
        "CSV", data=lambda: to_csv_bytes(frame), file_name=f"{file_name}.csv", mime="text/csv",
        key=f"{key}_csv", icon=":material/download:", on_click="ignore",
    )
    excel_column.download_button(
        "Excel", data=lambda: to_excel_bytes(frame, sheet_name=file_name), file_name=f"{file_name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx", icon=":material/download:", on_click="ignore",
    )


def show_table(frame: pd.DataFrame, *, key: str, file_name: str, **dataframe_options):
    """Draw a table with CSV and Excel download buttons and return what st.dataframe returns.

    The downloads hold the exact values of the frame.
    """
    shown = st.dataframe(
        display_frame(frame), key=f"{key}_table", hide_index=True, width="stretch", **dataframe_options
    )
    download_buttons(frame, file_name, key)
    return shown
