"""Where the time-series database is: one function every caller goes through.

With ``TIMESERIES_DATABASE_URL`` set (read in settings) that server is used;
otherwise the embedded server under the state folder is started on first
use. Both paths hand back a libpq connection string, so the code above this
never knows which one it talks to.
"""

from __future__ import annotations

import psycopg
from django.conf import settings
from psycopg import sql

from industrial.database.embedded import embedded_url


def timeseries_conninfo(database: str | None = None) -> str:
    """Connection string for the time-series database (``database`` overrides its name)."""
    url = settings.TIMESERIES_DATABASE_URL
    if url:
        return _with_database(url, database) if database else url
    return embedded_url(settings.STATE_DIR / "pgdata", database or settings.TIMESERIES_DATABASE_NAME)


def _with_database(url: str, database: str) -> str:
    """``url`` naming ``database`` instead; still a URL, so it can be handed on as a setting."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database)))


def recreate_database(name: str) -> str:
    """Drop (if present) and create database ``name`` on the time-series server; return its connection string.

    For scratch databases (tests, benchmarks): they live beside the real one,
    the way Django's test runner keeps test databases.
    """
    with psycopg.connect(timeseries_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return timeseries_conninfo(name)


def drop_database(name: str) -> None:
    with psycopg.connect(timeseries_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
