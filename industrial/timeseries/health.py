"""What the plant's store looks like right now, for the health endpoint and operators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from industrial.timeseries.access import TimeSeriesDataAccess


@dataclass(frozen=True)
class PlantHealth:
    equipment: int
    types: dict[str, int]
    latest_reading: datetime | None
    active_alerts: int


def plant_health(access: TimeSeriesDataAccess) -> PlantHealth:
    """Counts of equipment by type, the plant's newest reading, active alerts."""
    types = access.equipment_types()
    return PlantHealth(
        equipment=sum(types.values()),
        types=types,
        latest_reading=access.newest_reading(max_age=0),
        active_alerts=sum(access.alert_counts(active_only=True).values()),
    )
