"""The Streamlit app's settings and its one database engine, each created once per process.

Under `streamlit run`, Streamlit (checked in 1.67) copies every top-level
string value of .streamlit/secrets.toml into os.environ when the server
starts, replacing a variable of the same name. So DATABASE_URL may be given
there as well as in the environment.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

import streamlit as st
from sqlalchemy import Engine

from services.db.embedded import EmbeddedPostgres, is_running
from services.db.engine import DatabaseUnavailable, check_connection, make_engine
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
