"""PostgreSQL advisory locks that keep worker processes from doing the same work at once.

Job locks use the single-key form, keyed on hashtext('job:' || job name).
Transaction locks use the two-key form, whose key space PostgreSQL keeps
apart from the single-key one, so a transaction lock never collides with a
job lock.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, text

logger = logging.getLogger(__name__)

TRY_JOB_LOCK = text("select pg_try_advisory_lock(hashtext('job:' || cast(:job_name as text)))")
RELEASE_JOB_LOCK = text("select pg_advisory_unlock(hashtext('job:' || cast(:job_name as text)))")
TRANSACTION_LOCK = text(
    "select pg_advisory_xact_lock(hashtext(cast(:namespace as text)), hashtext(cast(:key as text)))"
)


@contextmanager
def job_lock(engine: Engine, job_name: str) -> Iterator[bool]:
    """Try the job's advisory lock and yield whether this process holds it for the block.

    The lock is a session lock on a dedicated autocommit connection, held
    while the block runs and released at its end. If the worker process
    dies, PostgreSQL ends the session and releases the lock with it.
    """
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        acquired = connection.execute(TRY_JOB_LOCK, {"job_name": job_name}).scalar_one()
        try:
            yield acquired
        finally:
            if acquired:
                _release_job_lock(connection, job_name)
    finally:
        connection.close()


def _release_job_lock(connection: Connection, job_name: str) -> None:
    """Release the job lock, or discard the connection so that its session cannot keep the lock."""
    try:
        released = connection.execute(RELEASE_JOB_LOCK, {"job_name": job_name}).scalar_one()
    except Exception:
        logger.exception("could not release the lock of job %s; closing its database session instead", job_name)
        connection.invalidate()
        return
    if not released:
        logger.warning("the lock of job %s was not held at release; closing its database session", job_name)
        connection.invalidate()


def lock_for_transaction(connection: Connection, namespace: str, key: str) -> None:
    """Wait for the advisory lock on (namespace, key), held until the connection's transaction ends."""
    connection.execute(TRANSACTION_LOCK, {"namespace": namespace, "key": key})
