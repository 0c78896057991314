"""Where the time-series database is: one function every caller goes through.

With ``TIMESERIES_DATABASE_URL`` set (read in settings) that server is used;
otherwise the embedded server under the state folder is started on first
use. Both paths hand back a libpq connection string, so the code above this
never knows which one it talks to.
"""

from __future__ import annotations

from django.conf import settings

from industrial.embedded_postgres import embedded_url


def timeseries_conninfo(database: str | None = None) -> str:
    """Connection string for the time-series database (``database`` overrides its name)."""
    url = settings.TIMESERIES_DATABASE_URL
    if url:
        return _with_database(url, database) if database else url
    return embedded_url(settings.STATE_DIR / "pgdata", database or settings.TIMESERIES_DATABASE_NAME)


def _with_database(url: str, database: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    params["dbname"] = database
    return make_conninfo(**params)
