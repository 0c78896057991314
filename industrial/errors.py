"""Typed failures of the time-series layer; the API maps them to HTTP statuses in one place."""

from __future__ import annotations


class TimeSeriesError(Exception):
    """Base class for expected failures of a time-series request."""


class UnknownEquipment(TimeSeriesError):
    def __init__(self, equipment_id: str, suggestions: list[str]):
        self.equipment_id = equipment_id
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown equipment {equipment_id!r}{hint}")


class UnknownMetric(TimeSeriesError):
    def __init__(self, equipment_id: str, metric: str, suggestions: list[str]):
        self.equipment_id = equipment_id
        self.metric = metric
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"{equipment_id} has no metric {metric!r}{hint}")


class UnknownEquipmentType(TimeSeriesError):
    def __init__(self, equipment_type: str, suggestions: list[str]):
        self.equipment_type = equipment_type
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown equipment type {equipment_type!r}{hint}")


class InvalidQuery(TimeSeriesError, ValueError):
    """A parameter is out of range or malformed; ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")
