"""Routes the plant's tables to the `timeseries` database and Django's own to `default`.

The time-series database is the customer's: Django never migrates it. Its
shared tables (`equipment`, `alerts`) are reached through unmanaged models
of the `industrial` app, and the per-equipment tables through
`industrial.timeseries.access`.
"""

TIMESERIES_APPS = frozenset({"industrial"})


class TimeSeriesRouter:
    def db_for_read(self, model, **hints):
        return "timeseries" if model._meta.app_label in TIMESERIES_APPS else "default"

    def db_for_write(self, model, **hints):
        return self.db_for_read(model, **hints)

    def allow_relation(self, obj1, obj2, **hints):
        # Through the instances' _meta, not type(): a session's user is a lazy proxy whose type is not the model.
        return self.db_for_read(obj1) == self.db_for_read(obj2)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == "timeseries":
            return False
        return app_label not in TIMESERIES_APPS
