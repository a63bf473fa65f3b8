"""Engine creation and the one place that turns connection failures into a clear error."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from services.settings import Settings, mask_password

logger = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached at the configured URL."""


def make_engine(url: str, **options) -> Engine:
    """Create an engine that checks each pooled connection before use."""
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def check_connection(engine: Engine) -> None:
    """Open one connection, or raise DatabaseUnavailable naming the URL and the fix."""
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        shown = mask_password(engine.url.render_as_string(hide_password=False))
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {shown} ({reason}); "
            "check DATABASE_URL, or unset it to use the embedded PostgreSQL"
        ) from None


@contextmanager
def database_url(settings: Settings, *, own_embedded_server: bool = False) -> Iterator[str]:
    """Yield the URL to use: DATABASE_URL, or the embedded server started for this block.

    With own_embedded_server the embedded server is stopped at exit even if it
    was already running when the block began.
    """
    if settings.database_url:
        yield settings.database_url
        return
    from services.db.embedded import embedded_database

    with embedded_database(settings.data_dir, always_stop=own_embedded_server) as url:
        yield url
