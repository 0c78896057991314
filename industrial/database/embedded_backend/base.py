"""Django's PostgreSQL backend, pointed at the embedded server on first connect.

The server's socket directory is only known once it runs, so settings name
this backend instead of a host, and the server is started here, lazily, by
the first query that needs it rather than at import or start-up.
"""

from django.db.backends.postgresql import base
from psycopg.conninfo import conninfo_to_dict

from industrial.database.connection import timeseries_conninfo


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        params.update(conninfo_to_dict(timeseries_conninfo(self.settings_dict["NAME"])))
        return params
