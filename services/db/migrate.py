"""Alembic migrations applied from code, so `up` and the tests use the same path."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from services.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_database(engine: Engine, revision: str = "heads") -> None:
    """Apply migrations up to revision; a database at head is left as it is."""
    with engine.begin() as connection:
        # Two processes starting at once must not both run the migrations.
        connection.exec_driver_sql("select pg_advisory_xact_lock(hashtext('alembic-upgrade'))")
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    logger.info("database schema at revision %s", revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
