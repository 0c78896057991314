"""Typed failures of the time-series layer; the API maps them to HTTP statuses in one place."""

from __future__ import annotations


class TimeSeriesError(Exception):
    """Base class for expected failures of a time-series request."""


class UnknownName(TimeSeriesError):
    """A name not in the catalog; ``suggestions`` holds the closest real ones."""

    def __init__(self, message: str, suggestions: list[str]):
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(message + hint)


class UnknownEquipment(UnknownName):
    def __init__(self, equipment_id: str, suggestions: list[str]):
        self.equipment_id = equipment_id
        super().__init__(f"unknown equipment {equipment_id!r}", suggestions)


class UnknownMetric(UnknownName):
    def __init__(self, equipment_id: str, metric: str, suggestions: list[str]):
        self.equipment_id = equipment_id
        self.metric = metric
        super().__init__(f"{equipment_id} has no metric {metric!r}", suggestions)


class UnknownEquipmentType(UnknownName):
    def __init__(self, equipment_type: str, suggestions: list[str]):
        self.equipment_type = equipment_type
        super().__init__(f"unknown equipment type {equipment_type!r}", suggestions)


class InvalidQuery(TimeSeriesError, ValueError):
    """A parameter is out of range or malformed; ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message  # without the field name, for bodies that already key by it
        super().__init__(f"{field}: {message}")
