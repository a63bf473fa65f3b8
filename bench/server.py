"""The PostgreSQL server a benchmark creates its database on."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def benchmark_server(database_url: str | None) -> Iterator[str]:
    """Yield database_url, or the URL of a temporary embedded server that stops on exit when it is None."""
    if database_url:
        yield database_url
        return
    from services.db.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="bench-postgres-") as folder:
        server = EmbeddedPostgres(Path(folder))
        url = server.start()
        try:
            yield url
        finally:
            server.stop()
