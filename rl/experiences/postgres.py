"""The shared PostgreSQL that several hosts learn through: connections, schema set-up and advisory locks.

With ``EXPERIENCE_STORE_URL`` a ``postgresql://`` URL, the experience store (``rl/experiences/pg_store.py``), Tier 1's
leader and checkpoints (``rl/tier1/shared.py``) and Tier 2's adapters and runs (``rl/tier2/shared.py``) live in that
database, so every host behind a load balancer reads and writes the same learning state.

* **Connections**: one small pool per process and URL, opened on first use and opened again after a fork (a
  child never uses its parent's sockets). Autocommit: each statement is its own transaction unless a caller opens
  one with ``conn.transaction()``.
* **Schema**: each owner passes its ``CREATE ... IF NOT EXISTS`` statements to :func:`ensure_schema`, run once per
  process under a transaction-level advisory lock, so two hosts starting together never race on DDL.
* **Advisory locks** (:class:`AdvisoryLock`): a session-level lock held by a connection of its own. PostgreSQL
  releases it when that connection ends, so a leader killed with ``kill -9``, or a host that drops off the
  network (TCP keepalives, below), hands it on without anyone cleaning up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading

import psycopg
from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

# A host that vanishes (power, network) must lose its locks within about half a minute, not TCP's two hours.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}

_pools: dict[tuple[int, str], ConnectionPool] = {}
_schemas: set[tuple[int, str, str]] = set()
_guard = threading.Lock()


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def check_store_url(url: str) -> str:
    """``EXPERIENCE_STORE_URL`` as given, once it is a PostgreSQL URL (else a configuration error naming it)."""
    if not is_postgres_url(url):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"EXPERIENCE_STORE_URL must be a postgresql:// URL or empty, got {url[:40]!r}")
    return url


def shared_store_url() -> str | None:
    """``EXPERIENCE_STORE_URL`` when several hosts share a PostgreSQL (checked), None on one host: what each
    store's factory (experiences, Tier 1's coordination, Tier 2's registry and run status) chooses by."""
    from django.conf import settings

    url = settings.EXPERIENCE_STORE_URL
    return check_store_url(url) if url else None


def pool(url: str, *, max_size: int = 4) -> ConnectionPool:
    """This process's pool for ``url`` (a forked child opens its own)."""
    key = (os.getpid(), url)
    with _guard:
        found = _pools.get(key)
        if found is None:
            found = ConnectionPool(
                url,
                min_size=1,
                max_size=max_size,
                kwargs={"autocommit": True, **KEEPALIVES},
                name=f"shared-{os.getpid()}",
                open=True,
            )
            _pools[key] = found
        return found


def close_pools() -> None:
    """Close this process's pools (tests and benchmarks that drop the database afterwards)."""
    with _guard:
        for (pid, url), found in list(_pools.items()):
            if pid == os.getpid():
                found.close()
                del _pools[(pid, url)]
        _schemas.clear()


def ensure_schema(url: str, owner: str, statements: tuple[str, ...]) -> None:
    """Run ``owner``'s idempotent DDL once per process, serialised across hosts."""
    key = (os.getpid(), url, owner)
    if key in _schemas:
        return
    with pool(url).connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("schema"),))
        for statement in statements:
            conn.execute(statement)
    _schemas.add(key)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (the same on every host)."""
    return int.from_bytes(hashlib.sha256(f"command-center:{name}".encode()).digest()[:8], "big", signed=True)


class AdvisoryLock:
    """A session-level advisory lock, held by a connection of its own (see the module docstring).

    ``try_acquire`` never waits, and keeps its connection between tries (a follower asking every half second
    opens no connection each time); ``held`` asks the server (a lost connection means the lock is gone, perhaps
    already someone else's); ``release`` ends the connection. Not shared between threads.
    """

    def __init__(self, url: str, name: str):
        self.url = url
        self.name = name
        self.key = lock_key(name)
        self._conn: psycopg.Connection | None = None
        self._held = False

    def try_acquire(self) -> bool:
        if self._held:
            return self.held()
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.url, autocommit=True, **KEEPALIVES)
            self._held = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
        except psycopg.OperationalError as error:  # the server is away: not ours, try again later
            logger.warning("advisory lock %s: cannot ask the server (%s)", self.name, error)
            self._drop()
        return self._held

    def held(self) -> bool:
        if not self._held:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            logger.warning("advisory lock %s: connection lost, the lock is no longer ours", self.name)
            self._drop()
            return False

    def release(self) -> None:
        self._drop()

    def _drop(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()  # the server releases a session's locks when it ends
            finally:
                self._conn = None


def lock_is_held(url: str, name: str) -> bool:
    """Whether any session, on any host, holds the advisory lock ``name``."""
    key = lock_key(name)
    with pool(url).connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = %s",
            (key,),
        ).fetchone()
    return row[0] > 0
