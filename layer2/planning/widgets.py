"""The widget catalog: what a dashboard can show, in which sizes, and what data each needs.

Sizes are widths on a 12-column dashboard grid: ``small`` 3 columns,
``medium`` 6, ``large`` 9, ``full`` 12. The ``needs`` of a widget says what
the data binding step fetches for it (``layer2/answering/data_binding.py``); the
planner only proposes a widget when the intent can supply that.
"""

from __future__ import annotations

from dataclasses import dataclass

SIZES = ("small", "medium", "large", "full")
SIZE_COLUMNS = {"small": 3, "medium": 6, "large": 9, "full": 12}


@dataclass(frozen=True)
class WidgetType:
    name: str
    description: str
    sizes: tuple[str, ...]
    needs: str


CATALOG: dict[str, WidgetType] = {
    w.name: w
    for w in (
        WidgetType(
            "kpi",
            "One number with its unit: a latest reading or an aggregate over the window.",
            ("small", "medium"),
            "one equipment, one metric",
        ),
        WidgetType(
            "gauge",
            "A dial of the latest reading against the metric's alarm limits.",
            ("small", "medium"),
            "one equipment, one metric with limits or a percent scale",
        ),
        WidgetType(
            "trend_line",
            "A metric over the window in time buckets.",
            ("medium", "large", "full"),
            "one equipment, one or more metrics, a window",
        ),
        WidgetType(
            "comparison",
            "The same metric for several equipment over the window, one series each.",
            ("medium", "large", "full"),
            "two or more equipment, one metric, a window",
        ),
        WidgetType(
            "bar_ranking",
            "Equipment of a type ranked by their latest value of a metric.",
            ("medium", "large"),
            "an equipment type (or several ids), one metric",
        ),
        WidgetType(
            "alerts_list",
            "Alerts, newest first, with severity and state.",
            ("medium", "large", "full"),
            "optional equipment, type or severity filter",
        ),
        WidgetType(
            "status_grid",
            "A fleet at a glance: running or stopped, a value, abnormal flags.",
            ("large", "full"),
            "an equipment type",
        ),
        WidgetType(
            "table",
            "Latest readings as rows: one per equipment, or one per metric.",
            ("medium", "large", "full"),
            "equipment ids or a type",
        ),
        WidgetType(
            "anomaly_timeline",
            "Detected anomalies and alerts of the window on a time axis.",
            ("large", "full"),
            "equipment ids or a type",
        ),
        WidgetType(
            "text_summary",
            "A few sentences of context written from the data.",
            ("small", "medium", "large"),
            "anything",
        ),
    )
}


def is_valid(widget_type: str, size: str) -> bool:
    return widget_type in CATALOG and size in CATALOG[widget_type].sizes


def next_size(widget_type: str, size: str, direction: str) -> str | None:
    """The size ``widget_type`` comes in next to ``size`` the ``direction`` way ("smaller" or "larger"), or None
    where ``size`` is already its smallest or largest (or not one of its sizes)."""
    sizes = CATALOG[widget_type].sizes
    if size not in sizes:
        return None
    at = sizes.index(size) + (1 if direction == "larger" else -1)
    return sizes[at] if 0 <= at < len(sizes) else None
