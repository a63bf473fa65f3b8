"""Read a query's rows into pandas through COPY ... TO STDOUT.

Reading large results row by row through the driver takes several times
longer than one COPY of their CSV text.
"""

from __future__ import annotations

import io
from typing import Collection, Mapping, Sequence

import pandas as pd
from sqlalchemy import Connection


def copy_query_frame(
    connection: Connection,
    query: str,
    params: Mapping,
    columns: Sequence[str],
    dtypes: Mapping[str, object],
    *,
    blank_is_missing: Collection[str] = (),
) -> pd.DataFrame:
    """Run the query through COPY and return its columns with the given dtypes.

    Text stays as written: an empty field is an empty string, except in the
    blank_is_missing columns, where it is NaN.
    """
    buffer = io.BytesIO()
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"copy ({query}) to stdout with (format csv, header true)", params) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    frame = pd.read_csv(
        buffer,
        dtype={name: dtypes[name] for name in columns},
        keep_default_na=False,
        na_values={name: [""] for name in blank_is_missing},
    )
    return frame[list(columns)]
