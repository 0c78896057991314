"""Request counts per client and time window, shared by every process that serves the API.

The throttles (``command_center/throttling.py``) need a count that all gunicorn workers and every other
process share, read and bumped atomically. ``throttle_counts()`` picks the store from Django's database:

- SQLite (one host): one SQLite file every process on the host opens (``THROTTLE_COUNTS_PATH``). Django's
  file cache could, under a host-wide file lock, but a count in it is a pickled file rewritten (temporary
  file, rename) on every request: 0.6 ms a request, against 0.05 ms here (measured in process,
  ``docs/benchmarks.md``). Here a request is one short SQLite transaction in write-ahead-log mode:
  ``BEGIN IMMEDIATE`` makes a check and its bump one step for every process, and readers never wait.
  Counts are not records: ``synchronous=OFF``, since a power cut losing the last second of counts only
  forgives a few requests.
- PostgreSQL (several hosts behind a load balancer): a table in that database, so every host counts
  together. A bump is one transaction that locks the slot's row (``INSERT ... ON CONFLICT DO NOTHING``,
  then ``SELECT ... FOR UPDATE``) before it reads, so a check and its bump are one step for every process
  on every host. The table is ``UNLOGGED`` and commits are asynchronous for the same reason as above (a
  crash or a fail-over empties it: a few requests forgiven); it is created on first use.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import psycopg
from django.conf import settings
from django.db import connections

PURGE_EVERY_S = 60.0  # how often a process deletes the windows that have ended
TABLE = "command_center_throttle_counts"


class CountStore(Protocol):
    def counts(self, slots: list[str]) -> list[int]: ...

    def bump_if(self, slot: str, *, read: list[str], allowed: Callable[[list[int]], bool], expires: float) -> bool: ...


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


class PostgresThrottleCounts:
    """The same contract over a table in PostgreSQL, which every host shares.

    Its own psycopg connection (one per process, shared by its threads like the SQLite one), not Django's
    ``connections["default"]``: a throttle runs inside the request, and Django's connection may be inside a
    transaction there (``ATOMIC_REQUESTS``, a caller's ``atomic()``). The row lock would then be held until
    the response is done, serialising a client's requests, and a rolled-back request (a failed sign-in
    answers 401 from an exception) would take its count with it. Django also closes its connection after
    ``CONN_MAX_AGE``; this one stays open and is reopened once if the server dropped it.
    """

    def __init__(self, conninfo: str = "", **params):
        """``conninfo`` and ``psycopg.connect`` keyword ``params`` (Django's: :func:`connection_params`)."""
        self._conninfo = conninfo
        # No prepared statements unless asked for (Django's default too), so connection poolers work.
        self._params = {"prepare_threshold": None, **params}
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self._purged = time.time()

    def counts(self, slots: list[str]) -> list[int]:
        with self._lock:
            return self._on_connection(lambda conn: self._read(conn, slots, lock=False))

    def bump_if(self, slot: str, *, read: list[str], allowed: Callable[[list[int]], bool], expires: float) -> bool:
        """Count one in ``slot`` if ``allowed(counts of read)``; atomically for every host. Returns allowed."""

        def bump(conn: psycopg.Connection) -> bool:
            with conn.transaction():
                # A row to lock even for a slot's first request; SELECT ... FOR UPDATE then waits for any other
                # bump of the slot and reads what it committed.
                conn.execute(
                    f"INSERT INTO {TABLE} (slot, n, expires) VALUES (%s, 0, %s) ON CONFLICT (slot) DO NOTHING",
                    (slot, expires),
                )
                ok = allowed(self._read(conn, read, lock=slot))
                if ok:
                    conn.execute(f"UPDATE {TABLE} SET n = n + 1 WHERE slot = %s", (slot,))
            return ok

        with self._lock:
            ok = self._on_connection(bump)
            self._on_connection(self._purge_now_and_then)
            return ok

    def _read(self, conn: psycopg.Connection, slots: list[str], *, lock: str | bool) -> list[int]:
        if lock:  # the slots read and the one bumped, locked in slot order (two bumps never wait on each other)
            query = f"SELECT slot, n FROM {TABLE} WHERE slot = ANY(%s) ORDER BY slot FOR UPDATE"
            found = dict(conn.execute(query, (list({*slots, lock}),)).fetchall())
        else:
            found = dict(conn.execute(f"SELECT slot, n FROM {TABLE} WHERE slot = ANY(%s)", (slots,)).fetchall())
        return [found.get(s, 0) for s in slots]

    def _purge_now_and_then(self, conn: psycopg.Connection) -> None:
        now = time.time()
        if now - self._purged >= PURGE_EVERY_S:
            conn.execute(f"DELETE FROM {TABLE} WHERE expires < %s", (now,))
            self._purged = now

    def _on_connection(self, work):
        for attempt in (1, 2):
            conn = self._connection()
            try:
                return work(conn)
            except psycopg.OperationalError:
                if attempt == 2 or not conn.broken:
                    raise
                self._conn = None  # dropped (a server restart, a proxy's idle timeout): once more on a fresh one
        raise AssertionError("unreachable")

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self._conninfo, autocommit=True, **self._params)
            # A bump never waits long, nor holds its lock if its process stalls; counts are not records.
            conn.execute("SET lock_timeout = '10s'")
            conn.execute("SET idle_in_transaction_session_timeout = '10s'")
            conn.execute("SET synchronous_commit = off")
            if conn.execute("SELECT to_regclass(%s) IS NULL", (TABLE,)).fetchone()[0]:
                with conn.transaction():  # two processes creating it at once would clash in the catalog
                    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (TABLE,))
                    conn.execute(
                        f"CREATE UNLOGGED TABLE IF NOT EXISTS {TABLE}"
                        " (slot text PRIMARY KEY, n integer NOT NULL, expires double precision NOT NULL)"
                    )
            self._conn = conn
        return self._conn


def connection_params(connection) -> dict:
    """``psycopg.connect`` keyword arguments of a Django PostgreSQL connection: Django's own
    (``get_connection_params``: OPTIONS, the credentials, prepared statements off unless OPTIONS say), less
    its cursor class and adapters, which only Django's cursors use."""
    params = connection.get_connection_params()
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    return params


_stores: dict[tuple, CountStore] = {}


def throttle_counts() -> CountStore:
    """This process's store: a table in Django's database when that is PostgreSQL (every host shares it), else
    the SQLite file at ``THROTTLE_COUNTS_PATH`` (every process on the host shares it)."""
    return counts_store(connection=connections["default"], path=settings.THROTTLE_COUNTS_PATH)


def counts_store(*, connection, path: Path) -> CountStore:
    """This process's store for Django database ``connection`` (a forked worker opens its own connection)."""
    if connection.vendor == "postgresql":
        database = connection.settings_dict
        key = (os.getpid(), "postgresql", database.get("NAME"), database.get("HOST"), database.get("PORT"))
        if key not in _stores:
            _stores[key] = PostgresThrottleCounts(**connection_params(connection))
    else:
        key = (os.getpid(), Path(path))
        if key not in _stores:
            _stores[key] = ThrottleCounts(Path(path))
    return _stores[key]
