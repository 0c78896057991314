"""Each chosen widget gets its data from the time-series store.

One function per widget type turns a :class:`~layer2.planning.planner.Candidate`
and the intent into the widget's ``data`` (JSON-ready: ISO timestamps,
plain floats) through ``TimeSeriesDataAccess``. The spoken answer is written
from these same numbers (``layer2/answering/voice.py``), so what is said is what is
shown is what the database holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from industrial.plant.spec import READING_INTERVAL, limit_for
from industrial.timeseries.access import MAX_POINTS, Series, TimeSeriesDataAccess, bucket_width
from industrial.timeseries.rag import TimeSeriesRAGProvider
from industrial.timestamps import iso_timestamp
from layer2.planning.planner import Candidate
from layer2.understanding.intent import Intent, TimeRange
from layer2.understanding.vocabulary import plural

ALERT_ROWS = 20
INTEGRATED_UNITS = {"kW": "kWh", "kVA": "kVAh", "m³/h": "m³", "kg/h": "kg"}
"""What a rate's total over a window is measured in."""


@dataclass(frozen=True)
class BoundWidget:
    widget_type: str
    size: str
    title: str
    equipment_ids: list[str]
    metric: str | None
    data: dict

    def to_dict(self) -> dict:
        return {
            "type": self.widget_type,
            "size": self.size,
            "title": self.title,
            "equipment_ids": self.equipment_ids,
            "metric": self.metric,
            "data": self.data,
        }


def bind(*, candidate: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> BoundWidget:
    data = _BINDERS[candidate.widget_type](candidate, intent, access)
    ids = list(candidate.equipment_ids)
    return BoundWidget(candidate.widget_type, candidate.size, _title(candidate, access), ids, candidate.metric, data)


# --------------------------------------------------------------------------- binders


def _kpi(c: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    if not c.equipment_ids and c.equipment_type is None:  # plant level: the alert count
        counts = access.alert_counts(active_only=True, severity=intent.filters.get("severity"))
        return {
            "value": float(sum(counts.values())),
            "unit": "",
            "label": "active alerts",
            "aggregation": "count",
            "counts_by_severity": counts,
        }
    if not c.equipment_ids and intent.aggregation == "delta":
        return fleet_increase(c.equipment_type, c.metric, intent, access)
    if not c.equipment_ids:
        return _fleet_kpi(c, access)
    if len(c.equipment_ids) > 1:  # energy over several meters: their total
        values = [aggregate_value(eq, c.metric, intent, access) for eq in c.equipment_ids]
        known = [v["value"] for v in values if v["value"] is not None]
        return {**values[0], "value": sum(known) if known else None, "label": f"total {values[0]['label']}"}
    return aggregate_value(c.equipment_ids[0], c.metric, intent, access)


def aggregate_value(
    equipment_id: str, metric: str, intent: Intent, access: TimeSeriesDataAccess, aggregation: str | None = None
) -> dict:
    """The KPI number: the latest reading, the reading at a minute, or an aggregate over the intent's window.

    ``sum`` of a rate (kW, m³/h, kg/h) is its integral over the window (kWh, m³, kg); of anything else,
    which a total does not fit (a temperature), the average. ``runtime`` is the hours ``running_status``
    was on.
    """
    aggregation = aggregation or intent.aggregation
    column = access.metric(equipment_id, metric)
    base = {"unit": column.unit, "label": column.label, "aggregation": aggregation}
    tr = intent.time_range
    if tr.point:
        stats = access.stats(equipment_id, metric, tr.start, tr.end, percentiles=False)
        return {**base, "aggregation": "latest", "value": stats.last, "timestamp": iso_timestamp(tr.start, utc="Z")}
    if aggregation in ("latest", "count") or tr.label == "now":
        reading = access.latest(equipment_id, [metric])
        value = None if reading is None else reading.values[metric]
        return {
            **base,
            "aggregation": "latest",
            "value": value,
            "timestamp": iso_timestamp(reading.timestamp if reading else None, utc="Z"),
        }
    window = {"start": iso_timestamp(tr.start, utc="Z"), "end": iso_timestamp(tr.end, utc="Z")}
    if aggregation == "delta":
        return {**base, **window, "value": access.counter_increase(equipment_id, metric, tr.start, tr.end)}
    stats = access.stats(equipment_id, metric, tr.start, tr.end, percentiles=False)
    value, unit, aggregation = _window_figure(aggregation, column.unit, stats)
    label = "running time" if aggregation == "runtime" else column.label
    return {**base, **window, "aggregation": aggregation, "value": value, "unit": unit, "label": label,
            "count": stats.count}  # fmt: skip


def _window_figure(aggregation: str, unit: str, window) -> tuple[float | None, str, str]:
    """(value, unit, aggregation) of ``aggregation`` from a window's ``count``, ``mean``, ``min``, ``max``
    (a ``Stats`` or a ``WindowAggregate``): a rate's total is its integral (kWh from kW), ``runtime`` the
    hours ``running_status`` was on, and a total of anything else (a temperature) its average."""
    integral = None if window.mean is None else window.mean * window.count * READING_INTERVAL / timedelta(hours=1)
    if aggregation == "runtime" or (aggregation == "sum" and unit in INTEGRATED_UNITS):
        return integral, _figure_unit(aggregation, unit), aggregation
    if aggregation in ("min", "max"):
        return getattr(window, aggregation), unit, aggregation
    return window.mean, unit, "avg"


def _figure_unit(aggregation: str, unit: str) -> str:
    """The unit of ``aggregation`` over a column in ``unit``: hours for ``runtime``, kWh for a total of kW."""
    if aggregation == "runtime":
        return "h"
    return INTEGRATED_UNITS.get(unit, unit) if aggregation == "sum" else unit


def ranked_values(equipment_type: str, metric: str, intent: Intent, access: TimeSeriesDataAccess) -> list[dict]:
    """Every equipment of a type with its value (latest, or aggregated over the window), in the order asked,
    only those past the threshold if one was said."""
    descending = intent.filters.get("order", "desc") != "asc"
    if intent.time_range.label == "now" or intent.aggregation == "latest":
        items = [_record(v) for v in access.fleet_latest(equipment_type, metric, descending=descending)]
    else:
        items = [i for i in fleet_window_values(equipment_type, metric, intent, access) if i["value"] is not None]
        items.sort(key=lambda i: i["value"], reverse=descending)
    threshold = intent.filters.get("threshold")
    if threshold:
        above = threshold["op"] == ">"
        items = [i for i in items if (i["value"] > threshold["value"]) == above and i["value"] != threshold["value"]]
    return items


def fleet_window_values(equipment_type: str, metric: str, intent: Intent, access: TimeSeriesDataAccess) -> list[dict]:
    """Each equipment's aggregate over the intent's window, as ``aggregate_value`` would give it, in two
    statements for the whole fleet (a counter's increase, or count / mean / min / max)."""
    ids = access.catalog.ids_of_type(equipment_type)
    tr, aggregation = intent.time_range, intent.aggregation
    unit = access.metric(ids[0], metric).unit
    if aggregation == "delta":
        values = access.counter_increases(ids, metric, tr.start, tr.end)
    else:
        rows = access.window_aggregates(ids, metric, tr.start, tr.end)
        values = {eq: _window_figure(aggregation, unit, r)[0] for eq, r in rows.items()}
        unit = _figure_unit(aggregation, unit)
    return [
        {
            "equipment_id": eq,
            "display_name": access.catalog.table(eq).display_name,
            "value": values.get(eq),
            "unit": unit,
            "abnormal": False,
            "reason": None,
        }
        for eq in ids
    ]


def fleet_increase(equipment_type: str, metric: str, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    """A counter's total increase over the window across every equipment of a type (plant energy)."""
    tr = intent.time_range
    ids = access.catalog.ids_of_type(equipment_type)
    known = [v for v in access.counter_increases(ids, metric, tr.start, tr.end).values() if v is not None]
    return {
        "value": sum(known) if known else None,
        "unit": access.metric(ids[0], metric).unit,
        "label": f"total {access.metric(ids[0], metric).label}",
        "aggregation": "delta",
        "equipment": len(ids),
        "start": iso_timestamp(tr.start, utc="Z"),
        "end": iso_timestamp(tr.end, utc="Z"),
    }


def _fleet_kpi(c: Candidate, access: TimeSeriesDataAccess) -> dict:
    fleet = access.fleet_latest(c.equipment_type, c.metric) if c.metric else []
    statuses = [v.running for v in fleet if v.running is not None]
    data = {"unit": fleet[0].unit if fleet else "", "equipment": len(access.catalog.ids_of_type(c.equipment_type))}
    if statuses:
        return {**data, "value": float(sum(statuses)), "label": "running", "aggregation": "count", "unit": ""}
    return {**data, "value": sum(v.value for v in fleet), "label": f"total {c.metric}", "aggregation": "sum"}


def _gauge(c: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    eq_id = c.equipment_ids[0]
    reading = access.latest(eq_id, [c.metric])
    limit = limit_for(access.catalog.table(eq_id).equipment_type, c.metric)
    low, high = (limit.low, limit.high) if limit else (None, None)
    scale_max = 100.0 if c.metric.endswith("_percent") else (high * 1.25 if high else None)
    return {
        "value": reading.values[c.metric] if reading else None,
        "unit": reading.units[c.metric] if reading else "",
        "timestamp": iso_timestamp(reading.timestamp if reading else None, utc="Z"),
        "min": 0.0,
        "max": scale_max,
        "limits": {"low": low, "high": high},
    }


def _trend(c: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    ids = c.equipment_ids or tuple(access.catalog.ids_of_type(c.equipment_type)[:5])
    tr, bucket = _charted(_chart_window(intent), [access.first_reading(eq) for eq in ids])
    aggregation = "delta" if c.metric == "energy_kwh" else "avg"
    zone = intent.time_range.time_zone  # days, weeks and months are the plant's
    series = [access.series(eq, c.metric, tr.start, tr.end, bucket, aggregation, time_zone=zone) for eq in ids]
    if intent.intent_type == "diagnosis" and c.widget_type == "trend_line" and len(intent.metrics) > 1:
        driver = intent.metrics[1]
        series.append(access.series(ids[0], driver, tr.start, tr.end, bucket, aggregation, time_zone=zone))
    return {
        "window": {**tr.to_dict()},
        "bucket": bucket,
        "aggregation": aggregation,
        "series": [_series(s, access) for s in series],
    }


def _ranking(c: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    descending = intent.filters.get("order", "desc") != "asc"
    if c.equipment_ids:
        readings = [(eq, access.latest(eq, [c.metric])) for eq in c.equipment_ids]
        items = [
            {
                "equipment_id": eq,
                "display_name": access.catalog.table(eq).display_name,
                "value": r.values[c.metric],
                "unit": r.units[c.metric],
                "abnormal": False,
                "reason": None,
            }
            for eq, r in readings
            if r is not None
        ]
        items.sort(key=lambda i: i["value"], reverse=descending)
    else:
        items = ranked_values(c.equipment_type, c.metric, intent, access)
    limit = intent.top_k or len(items)
    return {"metric": c.metric, "order": "desc" if descending else "asc", "items": items[:limit], "total": len(items)}


def _alerts(c: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    filters = alert_filters(intent, equipment_ids=c.equipment_ids, equipment_type=c.equipment_type)
    rows = access.alerts(**filters, limit=ALERT_ROWS)
    return {"counts_by_severity": access.alert_counts(**filters), "alerts": [_record(r) for r in rows]}


def alert_filters(intent: Intent, *, equipment_ids, equipment_type: str | None) -> dict:
    """The access-layer filters an alert question means: active ones, or those raised in its window."""
    active = bool(intent.filters.get("active_only", True))
    filters = {
        "active_only": active,
        "severity": intent.filters.get("severity"),
        "equipment_id": list(equipment_ids) or None,  # each one named, never the whole plant instead
        "equipment_type": equipment_type if not equipment_ids else None,
        "acknowledged": intent.filters.get("acknowledged"),
    }
    if intent.time_range.label != "now" and not intent.filters.get("newest"):
        filters.update(start=intent.time_range.start, end=intent.time_range.end)  # [start, end), as asked
    return filters


def _status_grid(c: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    fleet = access.fleet_latest(c.equipment_type, c.metric) if c.metric else []
    fleet = sorted(fleet, key=lambda v: v.equipment_id)  # a copy: the request memo shares the list
    return {
        "metric": c.metric,
        "items": [_record(v) for v in fleet],
        "running": sum(1 for v in fleet if v.running),
        "abnormal": sum(1 for v in fleet if v.abnormal),
    }


def _table(c: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    if len(c.equipment_ids) == 1:
        reading = access.latest(c.equipment_ids[0])
        rows = (
            []
            if reading is None
            else [
                {"metric": m, "label": access.metric(c.equipment_ids[0], m).label, "value": v, "unit": reading.units[m]}
                for m, v in reading.values.items()
            ]
        )
        return {
            "columns": ["metric", "value", "unit"],
            "rows": rows,
            "timestamp": iso_timestamp(reading.timestamp if reading else None, utc="Z"),
        }
    ranked = _ranking(c, intent, access)
    rows = [{k: i[k] for k in ("equipment_id", "display_name", "value", "unit")} for i in ranked["items"]]
    return {"columns": ["equipment_id", "display_name", "value", "unit"], "metric": c.metric, "rows": rows}


def _anomaly_timeline(c: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    if c.equipment_ids:
        anomalies = [a for eq in c.equipment_ids for a in access.detect_anomalies(eq)]
    else:
        anomalies = access.anomaly_scan(c.equipment_type)
    if intent.metrics:
        anomalies = [a for a in anomalies if a.metric in intent.metrics]
    tr = _chart_window(intent)
    alerts = access.alerts(
        equipment_id=list(c.equipment_ids) or None,
        equipment_type=c.equipment_type if not c.equipment_ids else None,
        start=tr.start,
        end=tr.end + timedelta(microseconds=1),
        limit=ALERT_ROWS,
    )
    return {
        "window": tr.to_dict(),
        "anomalies": [_record(a) for a in anomalies],
        "alerts": [_record(r) for r in alerts],
    }


def _text(c: Candidate, intent: Intent, access: TimeSeriesDataAccess) -> dict:
    rag = TimeSeriesRAGProvider(access)
    text = rag.build_context(
        list(c.equipment_ids),
        [c.metric] if c.metric and c.equipment_ids else [],
        c.equipment_type,
        include_anomalies=False,
        max_chars=700,
    )
    return {"text": text}


_BINDERS: dict[str, Callable[[Candidate, Intent, TimeSeriesDataAccess], dict]] = {
    "kpi": _kpi,
    "gauge": _gauge,
    "trend_line": _trend,
    "comparison": _trend,
    "bar_ranking": _ranking,
    "alerts_list": _alerts,
    "status_grid": _status_grid,
    "table": _table,
    "anomaly_timeline": _anomaly_timeline,
    "text_summary": _text,
}


# --------------------------------------------------------------------------- helpers


CHART_BUCKETS = (
    (timedelta(hours=3), "5m"),
    (timedelta(days=2), "1h"),
    (timedelta(days=14), "6h"),
    (timedelta(days=150), "1d"),
    (timedelta(days=3 * 366), "1w"),
)
"""The finest bucket for a span up to each length; longer spans are charted by month."""


def bucket_for(span: timedelta) -> str:
    """A bucket that gives a readable chart (roughly 12 to 160 points) for a window of ``span``: minutes for
    hours, then hours, days, weeks and, past three years, months (a century is 1,200 points)."""
    return next((bucket for limit, bucket in CHART_BUCKETS if span <= limit), "1mo")


def _charted(tr: TimeRange, first_readings: list[datetime | None]) -> tuple[TimeRange, str]:
    """The part of ``tr`` a chart can show, and its bucket, chosen from that part: from the first reading on
    (a 3-year window over 7 days of data draws 7 days in hours), and no more points than one range query
    returns."""
    known = [f for f in first_readings if f is not None]
    start = min(max([tr.start, min(known)] if known else [tr.start]), tr.end - timedelta(minutes=1))
    bucket = bucket_for(tr.end - start)
    start = max(start, tr.end - MAX_POINTS * bucket_width(bucket))
    return replace(tr, start=start), bucket


def _chart_window(intent: Intent) -> TimeRange:
    """A chart of "now" shows the last 24 hours; otherwise the intent's window."""
    tr = intent.time_range
    if tr.label == "now":
        return TimeRange(tr.end - timedelta(hours=24), tr.end, "last 24 hours")
    return tr


def _title(c: Candidate, access: TimeSeriesDataAccess) -> str:
    if not c.equipment_ids and c.equipment_type is None:
        return "Active alerts" if c.widget_type in ("kpi", "alerts_list") else "Plant summary"
    names = [access.catalog.table(eq).display_name for eq in c.equipment_ids]
    subject = ", ".join(names) if names else _fleet_name(c.equipment_type)
    some_id = c.equipment_ids[0] if c.equipment_ids else access.catalog.ids_of_type(c.equipment_type)[0]
    label = access.metric(some_id, c.metric).label if c.metric and c.widget_type != "alerts_list" else ""
    kind = {
        "trend_line": "trend",
        "comparison": "comparison",
        "bar_ranking": "ranking",
        "alerts_list": "alerts",
        "status_grid": "status",
        "table": "readings",
        "anomaly_timeline": "anomalies",
        "text_summary": "summary",
    }.get(c.widget_type, "")
    return " ".join(p for p in (subject, label, kind) if p)


def _fleet_name(equipment_type: str) -> str:
    """The fleet as a title: "Air Compressors", but "AHUs" and "UPS units" as they are."""
    name = plural(equipment_type)
    return name if name != name.lower() else name.title()


def _series(s: Series, access: TimeSeriesDataAccess) -> dict:
    return {
        "equipment_id": s.equipment_id,
        "display_name": access.catalog.table(s.equipment_id).display_name,  # the chart's legend
        "metric": s.metric,
        "label": access.metric(s.equipment_id, s.metric).label,
        "unit": s.unit,
        "points": [[iso_timestamp(ts, utc="Z"), v] for ts, v in s.points],
    }


def _record(obj) -> dict:
    """A result dataclass as JSON-ready data: datetimes as ISO-8601 UTC."""
    return {k: iso_timestamp(v, utc="Z") if isinstance(v, datetime) else v for k, v in asdict(obj).items()}
