"""Plain-text context about the plant for a language model: ``TimeSeriesRAGProvider``.

Every number in the text comes from :class:`~industrial.timeseries.access.TimeSeriesDataAccess`
(readings, series, statistics, anomalies, alerts), formatted by one rule
(:func:`format_value`): 2 decimals for ``power_factor`` and ``cop``, whole
numbers for rpm and ppm, 1 decimal for everything else. Time windows end at
the equipment's latest reading, not the wall clock, like the anomaly scan.

``build_context`` assembles sections in priority order under a character
budget, dropping whole sections from the lowest priority up, so what a model
reads first is always what it was asked about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from industrial.timeseries.access import SEVERITIES, AlertRow, Anomaly, Series, TimeSeriesDataAccess
from industrial.timeseries.catalog import MetricColumn, unit_for

STATUS_METRIC = "running_status"
STABLE_FRACTION = 0.10
"""A first-to-last change smaller than this fraction of the window's range (max − min) reads as "stable"."""
TRUNCATED = "[truncated]"
_TWO_DECIMALS = frozenset({"power_factor", "cop"})
_WHOLE_UNITS = frozenset({"rpm", "ppm"})
_END_EPSILON = timedelta(microseconds=1)  # [start, end) windows that include the latest reading itself
_SUMMARY_ALERTS = 10


def decimals_for(metric: str) -> int:
    """The decimals every spoken and shown figure of ``metric`` is rounded to (the console applies the same)."""
    return 2 if metric in _TWO_DECIMALS else 0 if unit_for(metric) in _WHOLE_UNITS else 1


def format_number(metric: str, value: float) -> str:
    """``value`` rounded by the module's rule for ``metric`` (decided by the metric, whatever unit is shown)."""
    text = f"{value:.{decimals_for(metric)}f}"
    return text.lstrip("-") if text.lstrip("-").strip("0.") == "" else text  # "-0.0" -> "0.0"


def format_value(metric: str, value: float | None, unit: str | None = None) -> str:
    """``value`` rounded by :func:`format_number`, with ``unit`` (default: the metric's) appended."""
    if value is None:
        return "n/a"
    unit = unit_for(metric) if unit is None else unit
    text = format_number(metric, value)
    return f"{text} {unit}" if unit else text


def format_time(ts: datetime) -> str:
    """``ts`` in UTC to the minute (the server may hand timestamps back in its own time zone)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class TimeSeriesRAGProvider:
    """Builds plain-text context for a language model from the time-series store."""

    def __init__(self, access: TimeSeriesDataAccess):
        self._access = access

    # -- single equipment ----------------------------------------------------

    def equipment_summary(self, equipment_id: str) -> str:
        """Name, type, location, running state, latest value of every metric and active alerts, as lines."""
        info = self._access.equipment(equipment_id)
        location = " / ".join(p for p in (info.building, info.zone) if p) or "unknown"
        header = f"{info.display_name} ({info.equipment_id}), type {info.equipment_type}, location {location}"
        if info.rated_capacity is not None:
            header += f", rated {info.rated_capacity:g} {info.rated_unit or ''}".rstrip()
        if info.criticality:
            header += f", criticality {info.criticality}"
        lines = [header + "."]
        reading = self._access.latest(info.equipment_id)
        if reading is None:
            lines.append("No readings recorded.")
        else:
            status = reading.values.get(STATUS_METRIC)
            if STATUS_METRIC in reading.values:
                lines.append(f"Status: {_running_word(status)}.")
            lines.append(f"Latest reading at {format_time(reading.timestamp)}:")
            lines += [
                f"- {c.label}: {format_value(c.name, reading.values[c.name], c.unit)}"
                for c in info.metrics
                if c.name != STATUS_METRIC
            ]
        active = sum(self._access.alert_counts(active_only=True, equipment_id=info.equipment_id).values())
        if not active:
            lines.append("Active alerts: none.")
        else:
            alerts = self._access.alerts(active_only=True, equipment_id=info.equipment_id, limit=_SUMMARY_ALERTS)
            lines.append(f"Active alerts ({active}):")
            lines += [f"- [{a.severity}] {a.message} (raised {format_time(a.raised_at)})" for a in alerts]
            if active > _SUMMARY_ALERTS:
                lines.append(f"- … and {active - _SUMMARY_ALERTS} more")
        return "\n".join(lines)

    def window(self, equipment_id: str, hours: float) -> tuple[datetime, datetime] | None:
        """``[start, end)`` covering the ``hours`` up to and including the latest reading; None if no readings."""
        if hours <= 0:
            raise ValueError(f"hours must be positive, got {hours}")
        reading = self._access.latest(equipment_id)
        if reading is None:
            return None
        end = reading.timestamp + _END_EPSILON
        return end - timedelta(hours=hours), end

    def trend_analysis(self, equipment_id: str, metric: str, hours: float = 24, bucket: str = "1h") -> str:
        """Min/mean/max, first-to-last change, direction, peak bucket and the series of ``metric``, as lines.

        Direction is "stable" when ``|last − first|`` is under ``STABLE_FRACTION``
        of the window's range, otherwise "rising" or "falling".
        """
        column = self._column(equipment_id, metric)
        name = self._access.equipment(equipment_id).display_name
        window = self.window(equipment_id, hours)
        if window is None:
            return f"Trend of {column.label} for {name} ({equipment_id}): no readings recorded."
        start, end = window
        stats = self._access.stats(equipment_id, metric, start, end, percentiles=False)
        title = (
            f"Trend of {column.label} for {name} ({equipment_id}) over the {hours:g} h "
            f"to {format_time(end - _END_EPSILON)}"
        )
        if stats.count == 0:
            return f"{title}: no readings in this window."

        def fmt(value: float | None) -> str:
            return format_value(column.name, value, column.unit)

        peaks = self._access.series(equipment_id, metric, start, end, bucket, "max")
        peak_at = next((ts for ts, v in peaks.points if v is not None and v == stats.max), None)
        peak = "" if peak_at is None else f" (peak at {format_time(peak_at)})"
        if peak_at is not None and bucket != "raw":
            peak = f" (peak in the {bucket} from {format_time(peak_at)})"
        series = self._access.series(equipment_id, metric, start, end, bucket, "avg")
        lines = [
            f"{title} ({stats.count} readings):",
            f"min {fmt(stats.min)}, mean {fmt(stats.mean)}, max {fmt(stats.max)}{peak}",
            f"change: first {fmt(stats.first)} -> last {fmt(stats.last)}, {_change(column, stats.first, stats.last)}, "
            f"{_direction(stats.first, stats.last, stats.min, stats.max)}",
            self.format_series(series),
        ]
        return "\n".join(lines)

    @staticmethod
    def format_series(series: Series, max_points: int = 12) -> str:
        """``series`` as one line of ``time value`` pairs, evenly downsampled to ``max_points`` (ends kept)."""
        if max_points <= 0:
            raise ValueError(f"max_points must be positive, got {max_points}")
        points = series.points
        if len(points) > max_points:
            step = (len(points) - 1) / max(max_points - 1, 1)
            picks = [round(i * step) for i in range(max_points)] if max_points > 1 else [len(points) - 1]
            points = [points[i] for i in picks]
        kind = "raw" if series.aggregation == "raw" else f"{series.bucket} {series.aggregation}"
        shown = f"{len(points)} of {len(series.points)}" if len(points) < len(series.points) else str(len(points))
        if not points:
            return f"{kind} series ({series.unit or 'no unit'}): no points"
        times = [ts.astimezone(UTC) for ts, _ in points]
        pattern = "%H:%M" if times[0].date() == times[-1].date() else "%m-%d %H:%M"
        pairs = "; ".join(
            f"{ts.strftime(pattern)} {format_value(series.metric, v, '')}"
            for ts, (_, v) in zip(times, points, strict=True)
        )
        return f"{kind} series ({series.unit or 'no unit'}, {shown} points, UTC): {pairs}"

    # -- across equipment ----------------------------------------------------

    def anomaly_context(self, equipment_id: str | None = None, equipment_type: str | None = None) -> str:
        """One line per anomaly now, for one equipment, one type, or (neither given) the whole plant.

        ``equipment_id`` wins over ``equipment_type``. "No anomalies detected" when none.
        """
        if equipment_id is not None:
            return self._anomaly_text(self._access.detect_anomalies(equipment_id), equipment_id)
        if equipment_type is not None:
            return self._anomaly_text(self._access.anomaly_scan(equipment_type), f"{equipment_type} equipment")
        found = [a for t in self._access.equipment_types() for a in self._access.anomaly_scan(t)]
        found.sort(key=lambda a: SEVERITIES.index(a.severity))
        return self._anomaly_text(found, "the plant")

    def comparison(self, equipment_ids: Sequence[str], metric: str) -> str:
        """Latest ``metric`` of each equipment ranked highest first, with the spread and highest/lowest."""
        ids = list(dict.fromkeys(equipment_ids))
        if not ids:
            raise ValueError("equipment_ids must name at least one equipment, got none")
        column = self._column(ids[0], metric)
        rows = []
        for eq_id in ids:
            reading = self._access.latest(eq_id, [metric])
            value = None if reading is None else reading.values[metric]
            rows.append((eq_id, self._access.equipment(eq_id).display_name, value, reading))
        ranked = sorted((r for r in rows if r[2] is not None), key=lambda r: (-r[2], r[0]))
        missing = [r for r in rows if r[2] is None]

        def fmt(value: float | None) -> str:
            return format_value(column.name, value, column.unit)

        lines = [f"Latest {column.label} ({', '.join(ids)}), highest first:"]
        lines += [
            f"{rank}. {name} ({eq_id}): {fmt(value)} at {format_time(reading.timestamp)}"
            for rank, (eq_id, name, value, reading) in enumerate(ranked, 1)
        ]
        lines += [f"-. {name} ({eq_id}): no reading" for eq_id, name, _, _ in missing]
        if len(ranked) >= 2:
            (_, top_name, top, _), (_, low_name, low, _) = ranked[0], ranked[-1]
            lines.append(f"highest {top_name} ({fmt(top)}), lowest {low_name} ({fmt(low)}), spread {fmt(top - low)}")
        return "\n".join(lines)

    def alerts_context(self, active_only: bool = True, equipment_type: str | None = None, limit: int = 20) -> str:
        """Alert counts by severity, then one line per alert (newest first, at most ``limit``)."""
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        counts = self._access.alert_counts(active_only=active_only, equipment_type=equipment_type)
        scope = ("active " if active_only else "") + "alerts" + (f" of {equipment_type}" if equipment_type else "")
        total = sum(counts.values())
        if not total:
            return f"No {scope}."
        by_severity = ", ".join(f"{s} {counts[s]}" for s in SEVERITIES)
        lines = [f"{scope.capitalize()}: {total} ({by_severity})."]
        if total > limit:
            lines.append(f"Newest {limit}:")
        alerts = self._access.alerts(active_only=active_only, equipment_type=equipment_type, limit=min(limit, 10_000))
        lines += [_alert_line(a) for a in alerts]
        return "\n".join(lines)

    # -- assembly ------------------------------------------------------------

    def build_context(
        self,
        equipment_ids: Sequence[str] = (),
        metrics: Sequence[str] = (),
        equipment_type: str | None = None,
        include_alerts: bool = True,
        include_anomalies: bool = True,
        max_chars: int = 4000,
    ) -> str:
        """Sections in priority order, at most ``max_chars`` long.

        Order: a summary of each named equipment, a trend of each requested
        metric on each, a comparison per metric when 2+ equipment are named,
        anomalies, alerts. Sections are kept while they fit, so the lowest
        priority ones go first; a first section that alone is too long is cut
        and ends with ``[truncated]``. Sections after the first one that does
        not fit are never computed.
        """
        if max_chars <= 0:
            raise ValueError(f"max_chars must be positive, got {max_chars}")
        ids, metrics = list(dict.fromkeys(equipment_ids)), list(dict.fromkeys(metrics))
        # Validate every name now, so a bad one fails the same way whatever the budget keeps.
        for eq_id in ids:
            self._access.metrics(eq_id)
            for m in metrics:
                self._column(eq_id, m)
        if equipment_type is not None:
            self._access.catalog.ids_of_type(equipment_type)
        sections = self._sections(ids, metrics, equipment_type, include_alerts, include_anomalies)
        return _fit(sections, max_chars)

    def _sections(
        self, ids: list[str], metrics: list[str], equipment_type: str | None, alerts: bool, anomalies: bool
    ) -> list[tuple[str, Callable[[], str]]]:
        sections: list[tuple[str, Callable[[], str]]] = [
            (f"Summary of {eq_id}", lambda eq_id=eq_id: self.equipment_summary(eq_id)) for eq_id in ids
        ]
        sections += [
            (f"Trend of {m} on {eq_id}", lambda eq_id=eq_id, m=m: self.trend_analysis(eq_id, m))
            for eq_id in ids
            for m in metrics
        ]
        if len(ids) >= 2:
            compared = metrics or self._common_metric(ids)
            sections += [(f"Comparison of {m}", lambda m=m: self.comparison(ids, m)) for m in compared]
        if anomalies:
            sections.append(("Anomalies", lambda: self._anomalies_of(ids, equipment_type)))
        if alerts:
            sections.append(("Alerts", lambda: self.alerts_context(equipment_type=equipment_type)))
        return sections

    # -- helpers -------------------------------------------------------------

    def _column(self, equipment_id: str, metric: str) -> MetricColumn:
        return self._access.metric(equipment_id, metric)  # UnknownEquipment or UnknownMetric

    def _common_metric(self, ids: list[str]) -> list[str]:
        shared = set.intersection(*({c.name for c in self._access.metrics(i)} for i in ids))
        first = [c.name for c in self._access.metrics(ids[0]) if c.name in shared and c.name != STATUS_METRIC]
        return first[:1]

    def _anomalies_of(self, ids: list[str], equipment_type: str | None) -> str:
        if not ids:
            return self.anomaly_context(equipment_type=equipment_type)
        found = [a for eq_id in ids for a in self._access.detect_anomalies(eq_id)]
        return self._anomaly_text(found, ", ".join(ids))

    def _anomaly_text(self, anomalies: Iterable[Anomaly], scope: str) -> str:
        anomalies = list(anomalies)
        if not anomalies:
            return f"No anomalies detected for {scope}."
        lines = [f"Anomalies detected for {scope} ({len(anomalies)}):"]
        lines += [self._anomaly_line(a) for a in anomalies]
        return "\n".join(lines)

    def _anomaly_line(self, a: Anomaly) -> str:
        name = self._access.equipment(a.equipment_id).display_name
        label = self._access.metric(a.equipment_id, a.metric).label

        def fmt(value: float | None) -> str:
            return format_value(a.metric, value, a.unit)

        if a.kind == "limit" and a.threshold is not None:
            side = ">" if a.value > a.threshold else "<"
            detail = f"limit breach, latest {fmt(a.value)} {side} limit {fmt(a.threshold)}"
        elif a.kind == "deviation":
            z = "n/a" if a.robust_z is None else f"{a.robust_z:.2f}"
            detail = f"deviation, recent mean {fmt(a.value)}, robust z {z}"
        elif a.kind == "stuck":
            detail = f"stuck sensor, flat at {fmt(a.value)}"
        else:
            detail = f"{a.kind}, value {fmt(a.value)}"
        baseline = "" if a.baseline_median is None else f", baseline median {fmt(a.baseline_median)}"
        return f"- [{a.severity}] {name} ({a.equipment_id}) {label}: {detail}{baseline}"


def _running_word(status: float | None) -> str:
    return "unknown" if status is None else "running" if status >= 0.5 else "stopped"


def _change(column: MetricColumn, first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return "change n/a"
    delta = format_value(column.name, last - first, column.unit)
    sign = "" if delta.startswith("-") else "+"
    percent = f"{100 * (last - first) / abs(first):+.1f}%" if first else "percent n/a: first is 0"
    return f"{sign}{delta} ({percent})"


def _direction(first: float | None, last: float | None, low: float | None, high: float | None) -> str:
    if None in (first, last, low, high) or high == low:
        return "stable"
    change = last - first
    if abs(change) < STABLE_FRACTION * (high - low):
        return "stable"
    return "rising" if change > 0 else "falling"


def _alert_line(a: AlertRow) -> str:
    state = "active" if a.active else f"cleared {format_time(a.cleared_at)}"
    ack = ", acknowledged" if a.acknowledged else ""
    return f"- [{a.severity}] {a.equipment_id}: {a.message} (raised {format_time(a.raised_at)}, {state}{ack})"


def _fit(sections: list[tuple[str, Callable[[], str]]], max_chars: int) -> str:
    """Join the longest prefix of ``sections`` that fits ``max_chars``; cut the first one if even it does not."""
    kept: list[str] = []
    used = 0
    for i, (title, build) in enumerate(sections):
        text = f"## {title}\n{build()}"
        cost = len(text) + (2 if kept else 0)  # the blank line between sections
        if used + cost <= max_chars:
            kept.append(text)
            used += cost
            continue
        if not kept:
            return _truncate(text, max_chars)
        note = f"[omitted for length: {', '.join(t for t, _ in sections[i:])}]"
        if used + 2 + len(note) <= max_chars:
            kept.append(note)
        break
    return "\n\n".join(kept)


def _truncate(text: str, max_chars: int) -> str:
    if max_chars <= len(TRUNCATED) + 1:
        return TRUNCATED[:max_chars]
    return text[: max_chars - len(TRUNCATED) - 1].rstrip() + "\n" + TRUNCATED
