"""One request's view of the time-series store: identical reads hit the database once.

The widgets and the spoken answer ask for some of the same facts (the KPI
value, an anomaly scan of a fleet); wrapping the access layer for the
length of one orchestrate call makes the second ask free and guarantees
both see the same numbers. Results are shared, so callers must not mutate them.
"""

from __future__ import annotations

from datetime import datetime

from industrial.timeseries.access import TimeSeriesDataAccess

_MEMOISED = frozenset(
    {
        "latest",
        "series",
        "stats",
        "counter_increase",
        "counter_increases",
        "detect_anomalies",
        "anomaly_scan",
        "alerts",
        "alert_counts",
        "fleet_latest",
        "equipment_types",
        "first_reading",
        "window_aggregates",
        "profile",
    }
)


class MemoizedAccess:
    def __init__(self, access: TimeSeriesDataAccess):
        self._access = access
        self._memo: dict[tuple, object] = {}

    def __getattr__(self, name: str):
        attribute = getattr(self._access, name)
        if name not in _MEMOISED:
            return attribute

        def call(*args, **kwargs):
            key = (name, _freeze(args), _freeze(sorted(kwargs.items())))
            if key not in self._memo:
                self._memo[key] = attribute(*args, **kwargs)
            return self._memo[key]

        return call


def _freeze(value):
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, str | int | float | bool | datetime) or value is None:
        return value
    return repr(value)
