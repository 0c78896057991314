"""Request counts per client and time window, in one SQLite file every process on the host opens.

The throttles (``command_center/throttling.py``) need a count that all gunicorn workers and every other
process on the host share, read and bumped atomically. Django's file cache could, under a host-wide file
lock, but a count in it is a pickled file rewritten (temporary file, rename) on every request: 0.6 ms a
request, against 0.05 ms here (measured in process, ``docs/benchmarks.md``). Here a request is one short
SQLite transaction in write-ahead-log mode: ``BEGIN IMMEDIATE`` makes a check and its
bump one step for every process, and readers never wait. Counts are not records: ``synchronous=OFF``,
since a power cut losing the last second of counts only forgives a few requests.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

PURGE_EVERY_S = 60.0  # how often a process deletes the windows that have ended


class ThrottleCounts:
    """``counts(slots)`` reads; ``bump_if(slot, allowed, expires)`` checks and counts in one transaction."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS counts (slot TEXT PRIMARY KEY, n INTEGER NOT NULL, expires REAL NOT NULL)"
        )
        self._lock = threading.Lock()  # one connection per process, shared by its threads
        self._purged = time.time()

    def counts(self, slots: list[str]) -> list[int]:
        with self._lock:
            return self._read(slots)

    def bump_if(self, slot: str, *, read: list[str], allowed: Callable[[list[int]], bool], expires: float) -> bool:
        """Count one in ``slot`` if ``allowed(counts of read)``; atomically for every process. Returns allowed."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                ok = allowed(self._read(read))
                if ok:
                    self._conn.execute(
                        "INSERT INTO counts VALUES (?, 1, ?) ON CONFLICT(slot) DO UPDATE SET n = n + 1",
                        (slot, expires),
                    )
                self._purge_now_and_then()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return ok

    def _read(self, slots: list[str]) -> list[int]:
        marks = ",".join("?" * len(slots))
        found = dict(self._conn.execute(f"SELECT slot, n FROM counts WHERE slot IN ({marks})", slots).fetchall())
        return [found.get(s, 0) for s in slots]

    def _purge_now_and_then(self) -> None:
        now = time.time()
        if now - self._purged >= PURGE_EVERY_S:
            self._conn.execute("DELETE FROM counts WHERE expires < ?", (now,))
            self._purged = now


_stores: dict[tuple[int, Path], ThrottleCounts] = {}


def throttle_counts(path: Path) -> ThrottleCounts:
    """This process's store at ``path`` (a forked worker opens its own connection)."""
    key = (os.getpid(), Path(path))
    if key not in _stores:
        _stores[key] = ThrottleCounts(Path(path))
    return _stores[key]
