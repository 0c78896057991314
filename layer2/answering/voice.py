"""The spoken answer: one or two sentences whose numbers are what the database holds.

Numbers are rounded for speech by the one rule of ``timeseries_rag.format_number``
(one decimal; two for power factor and COP; whole rpm and ppm) and units are
spoken in words. Facts come from the same access-layer calls the widgets
use (memoised per request), not from the widgets chosen, so a ranker that
leaves out the KPI cannot change what is said.
"""

from __future__ import annotations

from industrial.timeseries.access import TimeSeriesDataAccess
from industrial.timeseries.rag import format_number
from layer2.answering.data_binding import aggregate_value, fleet_increase
from layer2.planning.planner import primary_metric
from layer2.understanding.intent import Intent, ParsedQuery, PlantVocabulary
from layer2.understanding.vocabulary import plural

UNIT_WORDS = {
    "kW": "kilowatts",
    "kWh": "kilowatt hours",
    "kVA": "kilovolt-amperes",
    "°C": "degrees Celsius",
    "%": "percent",
    "m³/h": "cubic meters per hour",
    "kg/h": "kilograms per hour",
    "bar": "bar",
    "mm/s": "millimeters per second",
    "rpm": "RPM",
    "ppm": "parts per million",
    "Pa": "pascals",
    "Hz": "hertz",
    "V": "volts",
    "A": "amps",
    "h": "hours",
    "": "",
}
_VERB = {"avg": "averaged", "max": "peaked at", "min": "was as low as", "sum": "totalled"}
MAX_SPOKEN = 3  # equipment named in one answer
MAX_SPOKEN_METRICS = 2  # metrics spoken per equipment


def spoken(metric: str, value: float | None, unit: str) -> str:
    """``value`` rounded for speech with its unit in words: "94.7 kilowatts"."""
    if value is None:
        return "no reading"
    return f"{format_number(metric, value)} {UNIT_WORDS.get(unit, unit)}".strip()


def compose(*, parsed: ParsedQuery, access: TimeSeriesDataAccess, vocabulary: PlantVocabulary) -> str:
    intent = parsed.intent
    sentences = [_unresolved(parsed, access)] if parsed.unresolved else []
    if parsed.unresolved and not intent.equipment_ids:
        return " ".join(sentences)
    body = {
        "alerts": _alerts,
        "anomaly": _anomaly,
        "ranking": _ranking,
        "summary": _summary,
    }.get(intent.intent_type, _values)(intent, access, vocabulary)
    return " ".join(s for s in [*sentences, body] if s)


# --------------------------------------------------------------------------- per intent


def _values(intent: Intent, access: TimeSeriesDataAccess, vocabulary: PlantVocabulary) -> str:
    """Status, trend, comparison and energy: the value of each named equipment."""
    ids = intent.equipment_ids[:MAX_SPOKEN]
    if not ids and intent.intent_type == "energy" and intent.equipment_type and intent.metrics:
        return _fleet_energy(intent, access)
    if not ids:
        return "I could not tell which equipment you mean. Try naming one, like chiller 1."
    parts = []
    for eq_id in ids:
        metrics = [m for m in intent.metrics if m in access.catalog.table(eq_id).metrics][:MAX_SPOKEN_METRICS]
        if not metrics:
            parts.append(_equipment_state(eq_id, access))
            continue
        parts += [_value_phrase(eq_id, m, intent, access) for m in metrics]
    window = _window_words(intent) if intent.aggregation not in ("latest", "count") else ""
    return _join(parts) + (f" {window}" if window else "") + "."


def _value_phrase(eq_id: str, metric: str, intent: Intent, access: TimeSeriesDataAccess) -> str:
    name, column = access.catalog.table(eq_id).display_name, access.metric(eq_id, metric)
    fact = aggregate_value(eq_id, metric, intent, access)
    value = spoken(metric, fact["value"], column.unit)
    if fact["aggregation"] == "latest":
        if metric == "running_status" and fact["value"] is not None:
            return f"{name} is {'running' if fact['value'] >= 0.5 else 'stopped'}"
        if metric in ("power_consumption_kw", "active_power_kw") and fact["value"] is not None:
            return f"{name} is drawing {value}"
        return f"{name} {column.label} is {value}"
    if fact["aggregation"] == "delta":
        return f"{name} used {value}"
    return f"{name} {column.label} {_VERB[fact['aggregation']]} {value}"


def _equipment_state(eq_id: str, access: TimeSeriesDataAccess) -> str:
    table = access.catalog.table(eq_id)
    metric = primary_metric(list(table.metrics))
    reading = access.latest(eq_id)
    if reading is None:
        return f"{table.display_name} has no readings yet"
    state = ""
    if "running_status" in reading.values:
        state = "is running" if reading.values["running_status"] >= 0.5 else "is stopped"
    label = access.metric(eq_id, metric).label
    value = f"{label} {spoken(metric, reading.values[metric], reading.units[metric])}"
    return f"{table.display_name} {state}, {value}" if state else f"{table.display_name} {value}"


def _ranking(intent: Intent, access: TimeSeriesDataAccess, vocabulary: PlantVocabulary) -> str:
    eq_type = intent.equipment_type
    metric = (intent.metrics or [primary_metric(vocabulary.metrics_by_type.get(eq_type, []))])[0]
    if eq_type is None or metric is None:
        return "I need an equipment type to rank, like pumps or chillers."
    descending = intent.filters.get("order", "desc") != "asc"
    fleet = access.fleet_latest(eq_type, metric, descending=descending)[: intent.top_k or 5]
    if not fleet:
        return f"There are no readings of {metric} for {plural(eq_type)}."
    label = access.metric(fleet[0].equipment_id, metric).label
    if len(fleet) == 1:
        v = fleet[0]
        word = "highest" if descending else "lowest"
        return f"{v.display_name} has the {word} {label}, at {spoken(metric, v.value, v.unit)}."
    items = [f"{v.display_name} at {spoken(metric, v.value, v.unit)}" for v in fleet]
    word = "top" if descending else "bottom"
    return f"The {word} {len(fleet)} {plural(eq_type)} by {label} are {_join(items)}."


def _anomaly(intent: Intent, access: TimeSeriesDataAccess, vocabulary: PlantVocabulary) -> str:
    if intent.equipment_ids:
        found = [a for eq in intent.equipment_ids for a in access.detect_anomalies(eq)]
        scope, total = _join([access.catalog.table(e).display_name for e in intent.equipment_ids]), None
    elif intent.equipment_type:
        found = access.anomaly_scan(intent.equipment_type)
        total = len(access.catalog.ids_of_type(intent.equipment_type))
        scope = f"the {total} {plural(intent.equipment_type)}"
    else:
        return "Name an equipment type to check, like compressors or pumps."
    if intent.metrics:
        found = [a for a in found if a.metric in intent.metrics]
    if not found:
        return f"Nothing abnormal on {scope} right now."
    units = sorted({a.equipment_id for a in found})
    head = f"{len(units)} of {scope} look abnormal" if total else f"{scope} look abnormal"
    details = [_anomaly_phrase(a, access) for a in found[:MAX_SPOKEN]]
    return f"{head}: {_join(details)}."


def _anomaly_phrase(a, access: TimeSeriesDataAccess) -> str:
    name, label = access.catalog.table(a.equipment_id).display_name, access.metric(a.equipment_id, a.metric).label
    value = spoken(a.metric, a.value, a.unit)
    if a.kind == "limit":
        side = "above" if a.value > a.threshold else "below"
        return f"{name} {label} is {value}, {side} its limit of {format_number(a.metric, a.threshold)}"
    if a.kind == "stuck":
        return f"{name} {label} sensor looks stuck at {value}"
    usual = spoken(a.metric, a.baseline_median, a.unit)
    return f"{name} {label} is {value} against a usual {usual}"


def _alerts(intent: Intent, access: TimeSeriesDataAccess, vocabulary: PlantVocabulary) -> str:
    active = bool(intent.filters.get("active_only", True))
    severity = intent.filters.get("severity")
    scope = _alert_scope(intent)
    counts = access.alert_counts(active_only=active, severity=severity, **scope)
    total = sum(counts.values())
    kind = " ".join(p for p in ("active" if active else "", " and ".join(severity or [])) if p)
    noun = "alert" if total == 1 else "alerts"
    if total == 0:
        return f"There are no {kind + ' ' if kind else ''}alerts."
    newest = access.alerts(active_only=active, severity=severity, limit=1, **scope)[0]
    verb = "is" if total == 1 else "are"
    return f"There {verb} {total} {kind + ' ' if kind else ''}{noun}. The newest: {newest.message}."


def _summary(intent: Intent, access: TimeSeriesDataAccess, vocabulary: PlantVocabulary) -> str:
    if intent.equipment_ids:
        return _values(intent, access, vocabulary)
    eq_type = intent.equipment_type
    if eq_type is None:
        counts = access.alert_counts(active_only=True)
        total = sum(access.equipment_types().values())
        return (
            f"The plant has {total} equipment reporting, with {sum(counts.values())} active alerts, "
            f"{counts['critical']} critical."
        )
    metric = primary_metric(vocabulary.metrics_by_type[eq_type])
    fleet = access.fleet_latest(eq_type, metric)
    running = [v for v in fleet if v.running]
    alerts = sum(access.alert_counts(active_only=True, equipment_type=eq_type).values())
    unit = fleet[0].unit if fleet else ""
    total = sum(v.value for v in fleet)
    if any(v.running is not None for v in fleet):
        head = f"{len(running)} of {len(fleet)} {plural(eq_type)} {'is' if len(running) == 1 else 'are'} running"
    else:
        head = f"{len(fleet)} {plural(eq_type)} report"
    return f"{head}, {spoken(metric, total, unit)} in total, with {alerts} active alert{'s' if alerts != 1 else ''}."


def _unresolved(parsed: ParsedQuery, access: TimeSeriesDataAccess) -> str:
    parts = []
    for u in parsed.unresolved:
        names = [access.catalog.table(s).display_name for s in u.suggestions]
        parts.append(f"I couldn't find {u.mentioned}. The closest are {_join(names)}.")
    return " ".join(parts)


# --------------------------------------------------------------------------- helpers


def _fleet_energy(intent: Intent, access: TimeSeriesDataAccess) -> str:
    fact = fleet_increase(intent.equipment_type, intent.metrics[0], intent, access)
    value = spoken(intent.metrics[0], fact["value"], fact["unit"])
    return f"The {fact['equipment']} {plural(intent.equipment_type)} used {value} {_window_words(intent)}.".replace(
        " .", "."
    )


def _alert_scope(intent: Intent) -> dict:
    if len(intent.equipment_ids) == 1:
        return {"equipment_id": intent.equipment_ids[0]}
    return {"equipment_type": intent.equipment_type} if intent.equipment_type else {}


def _window_words(intent: Intent) -> str:
    label = intent.time_range.label
    if label in ("today", "yesterday", "this week", "this month"):
        return label
    return "" if label == "now" else f"over the {label}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
