"""PostgreSQL's binary COPY layout, packed by numpy: rows go to the server without Python touching each one.

A row is a 16-bit field count, then per field a 32-bit length and the value,
all big-endian (https://www.postgresql.org/docs/current/sql-copy.html).
Every value here is present: the layout has no room for NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PG_EPOCH = 946_684_800  # 2000-01-01 in unix seconds: PostgreSQL's timestamp origin
HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
TIMESTAMPTZ = ">i8"  # microseconds since PG_EPOCH


def pg_timestamps(unix_seconds: np.ndarray) -> np.ndarray:
    """Unix seconds as PostgreSQL's binary timestamptz (microseconds since 2000-01-01 UTC)."""
    return (np.asarray(unix_seconds, dtype=np.int64) - PG_EPOCH) * 1_000_000


def pack_rows(fields: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """Rows of ``fields`` (each a big-endian numpy dtype such as ``">f8"`` and a column of values, all one
    length) in binary COPY layout, without header or trailer."""
    layout: list[tuple[str, str]] = [("count", ">i2")]
    for i, (dtype, _) in enumerate(fields):
        layout += [(f"len{i}", ">i4"), (f"v{i}", dtype)]
    rows = np.empty(len(fields[0][1]) if fields else 0, dtype=np.dtype(layout))
    rows["count"] = len(fields)
    for i, (dtype, values) in enumerate(fields):
        rows[f"len{i}"] = np.dtype(dtype).itemsize
        rows[f"v{i}"] = values
    return rows.tobytes()
