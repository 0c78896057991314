"""Where the time-series database is: an external PostgreSQL or the embedded one, and its Django backend."""
