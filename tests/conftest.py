"""Test databases: one PostgreSQL server per session, a fresh database per test.

The server is the embedded PostgreSQL, or the server named by
CONTROL_TOWER_TEST_DATABASE_URL (its user must be allowed to create
databases). Migrations run once into a template database; each test gets its
own copy, so tests that commit, or that start other processes, stay isolated.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from services.db.engine import make_engine
from services.db.migrate import upgrade_database
from tests.streamlit_run import isolate_streamlit_runs  # noqa: F401 (a fixture for the page tests)

REALDATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"

_database_numbers = itertools.count(1)


def _admin_dsn(url: str) -> str:
    """Return a libpq DSN for the server's maintenance database."""
    parsed = make_url(url).set(drivername="postgresql", database="postgres")
    return parsed.render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory):
    """URL of a PostgreSQL server for this test session."""
    external = os.environ.get("CONTROL_TOWER_TEST_DATABASE_URL")
    if external:
        from services.settings import normalize_database_url

        yield normalize_database_url(external)
        return

    from services.db.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path_factory.mktemp("embedded-postgres"))
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def template_database(postgres_server_url):
    """A database at the newest migration, copied for every test."""
    name = f"ct_template_{os.getpid()}"
    with psycopg.connect(_admin_dsn(postgres_server_url), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    engine = make_engine(_with_database(postgres_server_url, name))
    upgrade_database(engine)
    engine.dispose()
    yield name
    with psycopg.connect(_admin_dsn(postgres_server_url), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))


@pytest.fixture
def database_url(postgres_server_url, template_database):
    """URL of a fresh, migrated database that belongs to this test alone."""
    name = f"ct_test_{os.getpid()}_{next(_database_numbers)}"
    with psycopg.connect(_admin_dsn(postgres_server_url), autocommit=True) as admin:
        admin.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(template_database)
            )
        )
    yield _with_database(postgres_server_url, name)
    with psycopg.connect(_admin_dsn(postgres_server_url), autocommit=True) as admin:
        admin.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def realdata_dir() -> Path:
    """The public sample files beside the project; tests skip when they are absent."""
    if not REALDATA_DIR.is_dir():
        pytest.skip(f"real data folder {REALDATA_DIR} is absent; it sits beside the project in ../shared")
    return REALDATA_DIR
