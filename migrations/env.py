"""Alembic environment: runs against a connection handed in by the product, or its settings."""

from __future__ import annotations

from alembic import context

from services.db.schema import metadata

config = context.config
target_metadata = metadata


def run_with_connection(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with_connection(connection)
        return

    from services.db.engine import database_url, make_engine
    from services.settings import load_settings

    with database_url(load_settings()) as url:
        engine = make_engine(url)
        with engine.begin() as connection:
            run_with_connection(connection)
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `control-tower db upgrade`")
run_online()
