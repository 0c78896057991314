"""What the console's scripts are told when the page loads: who is signed in, the widget catalog, the plant's
clock and the rounding of every metric, so that the page shows numbers as the voice says them."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from industrial.timeseries.access import get_timeseries_access
from industrial.timeseries.rag import decimals_for
from layer2 import services
from layer2.planning.widgets import CATALOG, SIZE_COLUMNS

API_URLS = (
    "orchestrate", "feedback", "signals", "rl-status", "approve-training", "learning-history",
    "planner-adapters-promote", "planner-adapters-rollback",
)  # fmt: skip


def console_config(*, user) -> dict:
    """The page's configuration for ``user`` (rendered into the page as JSON, read by console/app.js)."""
    return {
        "account": services.account(user=user),
        "time_zone": settings.PLANT_TIME_ZONE,
        "widgets": [{"type": w.name, "description": w.description, "sizes": list(w.sizes)} for w in CATALOG.values()],
        "size_columns": SIZE_COLUMNS,
        "decimals": metric_decimals(),
        "urls": {name: reverse(name) for name in API_URLS},
    }


def metric_decimals() -> dict[str, int]:
    """Every metric of the plant's catalog and the decimals its figures are rounded to (``decimals_for``)."""
    tables = get_timeseries_access().catalog.equipment.values()
    return {metric: decimals_for(metric) for metric in sorted({m for t in tables for m in t.metrics})}
