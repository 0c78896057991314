"""The spoken answer: one or two sentences whose numbers are what the database holds.

Numbers are rounded for speech by the one rule of ``timeseries_rag.format_number``
(one decimal; two for power factor and COP; whole rpm and ppm) and units are
spoken in words. Facts come from the same access-layer calls the widgets
use (memoised per request), not from the widgets chosen, so a ranker that
leaves out the KPI cannot change what is said.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import chain
from zoneinfo import ZoneInfo

from industrial.timeseries.access import TimeSeriesDataAccess
from industrial.timeseries.rag import format_number
from layer2.answering.data_binding import (
    aggregate_value,
    alert_filters,
    fleet_increase,
    fleet_window_values,
    ranked_values,
)
from layer2.answering.diagnosis import Diagnosis
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
    "m³": "cubic meters",
    "kg": "kilograms",
    "kVAh": "kilovolt-ampere hours",
    "": "",
}
_VERB = {"avg": "averaged", "max": "peaked at", "min": "was as low as", "sum": "totalled", "delta": "changed by"}
REFUSALS = {
    "command": "I can only read plant data; I can't operate equipment. Use the control system to do that.",
    "out_of_domain": "I can only answer questions about the plant's equipment, readings and alerts.",
}
MAX_SPOKEN = 3  # equipment named in one answer
MAX_SPOKEN_METRICS = 2  # metrics spoken per equipment
MAX_LISTED = 5  # equipment named in a list past a threshold


def spoken(metric: str, value: float | None, unit: str) -> str:
    """``value`` rounded for speech with its unit in words: "94.7 kilowatts"."""
    if value is None:
        return "no reading"
    return f"{format_number(metric, value)} {UNIT_WORDS.get(unit, unit)}".strip()


def compose(
    *,
    parsed: ParsedQuery,
    access: TimeSeriesDataAccess,
    vocabulary: PlantVocabulary,
    diagnosis: Diagnosis | None = None,
) -> str:
    intent = parsed.intent
    if intent.refusal:
        return REFUSALS[intent.refusal]
    if parsed.unknown_metrics:
        return " ".join(_unknown_metric(u, parsed, access) for u in parsed.unknown_metrics)
    if any(n.startswith("the time") for n in intent.not_understood):
        words = next(n for n in intent.not_understood if n.startswith("the time"))
        if words.endswith(", still to come"):
            now = _clock_words(intent.time_range.end, intent).removeprefix("at ")
            return f"{words.removesuffix(', still to come').capitalize()} is still to come: it is {now} at the plant."
        return f"I didn't understand {words}. Try a window like 'since 7 am', 'yesterday' or 'the last 3 days'."
    sentences = [_unresolved(parsed, access)] if parsed.unresolved else []
    if parsed.unresolved and not intent.equipment_ids:
        return " ".join(sentences)
    if diagnosis is not None:
        return " ".join(s for s in [*sentences, _diagnosis(diagnosis, intent, access)] if s)
    body = {
        "alerts": _alerts,
        "anomaly": _anomaly,
        "ranking": _ranking,
        "summary": _summary,
    }.get(intent.intent_type, _values)(intent, access, vocabulary)
    return " ".join(s for s in [*sentences, body, _data_start(intent, access)] if s)


def blocked(parsed: ParsedQuery) -> bool:
    """Whether the question gets words only, no widgets: a refusal, or something asked was not understood."""
    return bool(parsed.intent.refusal or parsed.unknown_metrics or parsed.intent.not_understood)


def _unknown_metric(u, parsed: ParsedQuery, access: TimeSeriesDataAccess) -> str:
    if not u.equipment_type:
        return f"Nothing in this plant measures {u.mentioned}."
    ids = [i for i in parsed.intent.equipment_ids if access.catalog.table(i).equipment_type == u.equipment_type]
    name = access.catalog.table(ids[0]).display_name if ids else plural(u.equipment_type).capitalize()
    some = ids[0] if ids else access.catalog.ids_of_type(u.equipment_type)[0]
    labels = [access.catalog.table(some).metrics[m].label for m in u.available if m != "running_status"]
    if u.heard:
        return (
            f"I don't know what '{u.mentioned}' means for {name}; {'it has' if ids else 'they have'} {_join(labels)}."
        )
    return _has_no(name, u.mentioned, labels, one=bool(ids))


def _has_no(name: str, mentioned: str, labels: list[str], *, one: bool = True) -> str:
    """ "Pump 2 has no fuel level; it has power consumption, flow rate, ...": what was asked, and what there is."""
    return f"{name} {'has' if one else 'have'} no {mentioned}; {'it has' if one else 'they have'} {_join(labels)}."


def _lacking(eq_id: str, intent: Intent, access: TimeSeriesDataAccess) -> str:
    """A unit named beside others that has none of the metrics asked ("compare chiller 1 and pump 1 cop")."""
    table = access.catalog.table(eq_id)
    asked = [_label_of(m, intent, access) for m in intent.metrics]
    labels = [c.label for name, c in table.metrics.items() if name != "running_status"]
    return _has_no(table.display_name, _join(asked, "or"), labels)


def _label_of(metric: str, intent: Intent, access: TimeSeriesDataAccess) -> str:
    """The metric's words, from a unit asked about that has it (else any that has: it was read off a type)."""
    named = (access.catalog.table(i) for i in intent.equipment_ids)
    return next(t.metrics[metric].label for t in chain(named, access.catalog.equipment.values()) if metric in t.metrics)


def _data_start(intent: Intent, access: TimeSeriesDataAccess) -> str:
    """ "The data starts on 28 February." when the window asked reaches before the first reading."""
    tr = intent.time_range
    if tr.label == "now" or tr.point or intent.intent_type in ("alerts", "anomaly"):
        return ""
    ids = intent.equipment_ids or (
        access.catalog.ids_of_type(intent.equipment_type)[:1] if intent.equipment_type else []
    )
    first = access.first_reading(ids[0]) if ids else None
    if first is None or first <= tr.start + timedelta(minutes=1):
        return ""
    local = first.astimezone(ZoneInfo(tr.time_zone))
    return (
        f"The data starts on {local.day} {local.strftime('%B')}{'' if local.year == tr.end.year else f' {local.year}'}."
    )


# --------------------------------------------------------------------------- per intent


def _values(intent: Intent, access: TimeSeriesDataAccess, vocabulary: PlantVocabulary) -> str:
    """Status, trend, comparison and energy: the value of each named equipment."""
    ids = intent.equipment_ids[:MAX_SPOKEN]
    if not ids and intent.intent_type == "energy" and intent.equipment_type and intent.metrics:
        return _fleet_energy(intent, access)
    if not ids:
        return "I could not tell which equipment you mean. Try naming one, like chiller 1."
    parts, lacking = [], []
    aggregations = [a for a in intent.aggregations if a not in ("count",)][:3] or [intent.aggregation]
    for eq_id in ids:
        metrics = [m for m in intent.metrics if m in access.catalog.table(eq_id).metrics][:MAX_SPOKEN_METRICS]
        if not metrics and intent.metrics:  # "compare chiller 1 and pump 1 cop": never the pump's power instead
            lacking.append(_lacking(eq_id, intent, access))
            continue
        if not metrics:
            parts.append(_equipment_state(eq_id, access))
            continue
        for m in metrics:
            said = [_value_phrase(eq_id, m, intent, access, a) for a in aggregations]
            subject = f"{access.catalog.table(eq_id).display_name} {access.metric(eq_id, m).label} "
            parts += [said[0], *(p.removeprefix(subject) for p in said[1:])]  # "averaged 17.0 ... and peaked at 24.1"
    window = _window_words(intent) if intent.aggregation not in ("count",) else ""
    if intent.aggregation == "latest" and not intent.time_range.point:
        window = ""
    said = (_join(parts) + (f" {window}" if window else "") + ".") if parts else ""
    return " ".join([said, *lacking]).strip()


def _value_phrase(eq_id: str, metric: str, intent: Intent, access: TimeSeriesDataAccess, aggregation: str) -> str:
    name, column = access.catalog.table(eq_id).display_name, access.metric(eq_id, metric)
    fact = aggregate_value(eq_id, metric, intent, access, aggregation)
    value = spoken(metric, fact["value"], fact["unit"])
    if fact["aggregation"] == "latest":
        verb = "was" if intent.time_range.point else "is"
        if metric == "running_status" and fact["value"] is not None:
            state = "running" if fact["value"] >= 0.5 else "stopped"
            return f"{name} {'was' if intent.time_range.point else 'is'} {state}"
        if metric in ("power_consumption_kw", "active_power_kw") and fact["value"] is not None:
            return f"{name} {'was drawing' if intent.time_range.point else 'is drawing'} {value}"
        return f"{name} {column.label} {verb} {value}"
    if fact["aggregation"] == "runtime":
        return f"{name} ran for {spoken('run_hours', fact['value'], 'h')}"
    if fact["aggregation"] == "delta" and metric == "energy_kwh":
        return f"{name} used {value}"
    if fact["aggregation"] == "delta":
        return f"{name} {column.label} changed by {value}"
    if fact["aggregation"] == "sum" and fact["unit"] != column.unit:
        return f"{name} {column.label} totalled {value}"
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
    ranked = ranked_values(eq_type, metric, intent, access)
    label = access.metric(access.catalog.ids_of_type(eq_type)[0], metric).label
    window = _window_words(intent) if intent.time_range.label != "now" else ""
    threshold = intent.filters.get("threshold")
    if threshold:
        return _past_threshold(intent, ranked, label, metric, threshold)
    fleet = ranked[: intent.top_k or 5]
    if not fleet:
        return f"There are no readings of {label} for {plural(eq_type)}."
    suffix = f" {window}" if window else ""
    if len(fleet) == 1:
        v = fleet[0]
        word = "highest" if descending else "lowest"
        return f"{v['display_name']} has the {word} {label}{suffix}, at {spoken(metric, v['value'], v['unit'])}."
    items = [f"{v['display_name']} at {spoken(metric, v['value'], v['unit'])}" for v in fleet]
    word = "top" if descending else "bottom"
    return f"The {word} {len(fleet)} {plural(eq_type)} by {label}{suffix} are {_join(items)}."


def _past_threshold(intent: Intent, ranked: list[dict], label: str, metric: str, threshold: dict) -> str:
    side = "above" if threshold["op"] == ">" else "below"
    limit = f"{format_number(metric, threshold['value'])}"
    total = len(ranked)
    noun = plural(intent.equipment_type) if total != 1 else intent.equipment_type.replace("_", " ")
    if total == 0:
        return f"No {plural(intent.equipment_type)} have {label} {side} {limit}."  # the extreme is in the widget
    listed = [f"{v['display_name']} at {spoken(metric, v['value'], v['unit'])}" for v in ranked[:MAX_LISTED]]
    more = f", and {total - MAX_LISTED} more" if total > MAX_LISTED else ""
    return f"{total} {noun} {'has' if total == 1 else 'have'} {label} {side} {limit}: {_join(listed)}{more}."


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
    filters = alert_filters(intent, equipment_ids=intent.equipment_ids, equipment_type=intent.equipment_type)
    if intent.filters.get("newest"):
        return _newest_alert(intent, filters, access)
    total = sum(access.alert_counts(**filters).values())
    kind = " ".join(p for p in _alert_words(intent, filters) if p)
    noun = "alert" if total == 1 else "alerts"
    where = _alert_place(intent, access)
    window = _window_words(intent) if "start" in filters else ""
    tail = "".join(f" {p}" for p in (where, window) if p)
    if total == 0:
        return f"There are no {kind + ' ' if kind else ''}alerts{tail}."
    newest = access.alerts(**filters, limit=1)[0]
    verb = "is" if total == 1 else "are"
    when = _clock_words(newest.raised_at, intent)
    return f"There {verb} {total} {kind + ' ' if kind else ''}{noun}{tail}. The newest, {when}: {newest.message}."


def _alert_place(intent: Intent, access: TimeSeriesDataAccess) -> str:
    """ "on Chiller 1 and Chiller 2", "on the chillers", or nothing for the whole plant."""
    if intent.equipment_ids:
        return "on " + _join([access.catalog.table(e).display_name for e in intent.equipment_ids])
    return f"on the {plural(intent.equipment_type)}" if intent.equipment_type else ""


def _alert_words(intent: Intent, filters: dict) -> list[str]:
    acknowledged = {True: "acknowledged", False: "unacknowledged", None: ""}[filters.get("acknowledged")]
    return [
        "active" if filters["active_only"] else "",
        acknowledged,
        " and ".join(intent.filters.get("severity") or []),
    ]


def _newest_alert(intent: Intent, filters: dict, access: TimeSeriesDataAccess) -> str:
    rows = access.alerts(**filters, limit=1)
    scope = _join([access.catalog.table(e).display_name for e in intent.equipment_ids]) or (
        f"The {plural(intent.equipment_type)}" if intent.equipment_type else "The plant"
    )
    if not rows:
        return f"{scope} {'has' if len(intent.equipment_ids) == 1 else 'have'} no alerts on record."
    row = rows[0]
    state = "still active" if row.cleared_at is None else "cleared"
    who = access.catalog.table(row.equipment_id).display_name if row.equipment_id in access.catalog.equipment else scope
    return f"{who} last alarmed {_clock_words(row.raised_at, intent)} ({row.severity}, {state}): {row.message}."


def _clock_words(ts, intent: Intent) -> str:
    """ "at 2:05 pm on 1 March" in the plant's time zone."""
    local = ts.astimezone(ZoneInfo(intent.time_range.time_zone))
    clock = f"{(local.hour % 12) or 12}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"
    return f"at {clock} on {local.day} {local.strftime('%B')}"


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
    if intent.aggregation in ("count", "sum", "avg", "min", "max") and (intent.metrics or "running" in intent.filters):
        return _fleet_figure(intent, access, vocabulary)
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


def _fleet_figure(intent: Intent, access: TimeSeriesDataAccess, vocabulary: PlantVocabulary) -> str:
    """How many are running, or the fleet's total / average / extreme of a metric."""
    eq_type = intent.equipment_type
    ids = access.catalog.ids_of_type(eq_type)
    if intent.aggregation == "count" and intent.metrics and intent.filters.get("threshold"):
        label = access.metric(ids[0], intent.metrics[0]).label
        return _past_threshold(intent, ranked_values(eq_type, intent.metrics[0], intent, access), label,
                               intent.metrics[0], intent.filters["threshold"])  # fmt: skip
    if intent.aggregation == "count" or not intent.metrics:
        if "running" not in intent.filters or "running_status" not in vocabulary.metrics_by_type[eq_type]:
            return f"The plant has {len(ids)} {plural(eq_type)}."
        fleet = access.fleet_latest(eq_type, "running_status")
        on = sum(1 for v in fleet if v.value >= 0.5)
        count, state = (on, "running") if intent.filters["running"] else (len(fleet) - on, "stopped")
        return f"{count} of {len(fleet)} {plural(eq_type)} {'is' if count == 1 else 'are'} {state}."
    metric = intent.metrics[0]
    label = access.metric(ids[0], metric).label
    if intent.time_range.label == "now":
        values = [v.value for v in access.fleet_latest(eq_type, metric)]
        unit = access.metric(ids[0], metric).unit
    else:
        facts = fleet_window_values(eq_type, metric, intent, access)
        values = [f["value"] for f in facts if f["value"] is not None]
        unit = facts[0]["unit"] if facts else ""
    if not values:
        return f"There are no readings of {label} for {plural(eq_type)}."
    figure = {"sum": sum(values), "avg": sum(values) / len(values), "min": min(values), "max": max(values)}
    word = {"sum": "a combined", "avg": "an average", "min": "a lowest", "max": "a highest"}
    window = _window_words(intent) if intent.time_range.label != "now" else ""
    value = spoken(metric, figure[intent.aggregation], unit)
    tail = f" {window}" if window else ""
    return f"The {len(values)} {plural(eq_type)} have {word[intent.aggregation]} {label} of {value}{tail}."


def _diagnosis(d: Diagnosis, intent: Intent, access: TimeSeriesDataAccess) -> str:
    """The symptom against its limit and usual, what drives it, alerts and peers, then the likely causes."""
    name = access.catalog.table(d.equipment_id).display_name
    return " ".join([_symptom_words(d, name, intent), _context_words(d, intent), _cause_words(d)])


def _symptom_words(d: Diagnosis, name: str, intent: Intent) -> str:
    s = d.symptom
    value = spoken(s.metric, s.value, s.unit)
    usual = spoken(s.metric, s.usual, s.unit) if s.usual is not None else None
    when = "" if d.ongoing else f" between {_span_words(d.start, d.end, intent)}"
    if s.metric == "running_status":
        state = "running" if (s.value or 0.0) >= 0.5 else "stopped"
        share = "" if s.usual is None else f"; at these hours it ran {format_number('load_percent', s.usual * 100)} "
        return f"{name} is {state}{share}{'percent of the time over the previous days' if share else ''}."
    if d.direction == "flat":
        tail = f"; its usual for these hours is {usual}" if usual else ""
        return f"{name} {s.label} has read {value} without moving{when or ' for the last hour'}{tail}."
    verb = "is" if d.ongoing else {"high": "peaked at", "low": "fell to"}.get(d.direction, "averaged")
    shown, extra = s.value, ""
    if d.ongoing and _past(s.peak, d) and not _past(s.value, d):  # normal now, but it was past the limit
        shown = s.peak
        extra = f" after {'reaching' if d.direction == 'high' else 'dipping to'} {spoken(s.metric, s.peak, s.unit)}"
        extra += " in the last hour"
    against = []
    if d.limit is not None and shown is not None:
        side = "above" if (shown > d.limit) else "below"
        against.append(f"{side} its {d.limit_side} limit of {format_number(s.metric, d.limit)}")
    if usual:
        against.append(f"its usual {usual} for these hours")
    head = f"{name} {s.label} {verb} {value}{when}{extra}"
    return head + (f", {_join(against)}" if against else "") + "."


def _span_words(start, end, intent: Intent) -> str:
    """ "2:05 pm on 1 March and 4:10 pm", the end's date said only when it is another day."""
    first, last = _clock_words(start, intent).removeprefix("at "), _clock_words(end, intent).removeprefix("at ")
    same_day = first.split(" on ")[1] == last.split(" on ")[1]
    return f"{first} and {last.split(' on ')[0] if same_day else last}"


def _past(value: float | None, d: Diagnosis) -> bool:
    """Whether ``value`` is past the symptom's limit on its side."""
    if value is None or d.limit is None or d.direction not in ("high", "low"):
        return False
    return value > d.limit if d.direction == "high" else value < d.limit


def _context_words(d: Diagnosis, intent: Intent) -> str:
    parts = []
    for r in [r for r in d.drivers if r.metric != "running_status"][:2]:
        usual = f" (usual {spoken(r.metric, r.usual, r.unit)})" if r.usual is not None else ""
        parts.append(f"its {r.label} {'is' if d.ongoing else 'averaged'} "
                     f"{spoken(r.metric, r.value if d.ongoing else r.mean, r.unit)}{usual}")  # fmt: skip
    if d.running is not None and d.symptom.metric != "running_status":
        parts.append("it is running" if d.ongoing and d.running >= 0.5 else "it is stopped" if d.ongoing else
                     f"it ran {format_number('load_percent', d.running * 100)} percent of that time")  # fmt: skip
    window = _window_words(intent) or "now"
    parts.append(
        f"{d.alerts} alert{'s' if d.alerts != 1 else ''} on it {window}" if d.alerts else f"no alerts {window}"
    )
    if d.peers and d.peer_mean is not None:
        parts.append(f"its {d.peers} peers read a median of {spoken(d.symptom.metric, d.peer_mean, d.symptom.unit)}")
    text = _join(parts)
    return text[0].upper() + text[1:] + "."


def _cause_words(d: Diagnosis) -> str:
    first, *rest = d.causes
    if first.kind == "none":
        return f"Nothing points to a fault: {first.text}."
    text = f"Most likely {first.text}"
    if rest:
        text += f"; less likely {rest[0].text}"
    return text + "."


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


def _window_words(intent: Intent) -> str:
    label = intent.time_range.label
    if label == "now":
        return ""
    if label.startswith("last ") and not label.startswith(
        ("last week", "last month", "last quarter", "last year", "last weekend", "last night")
    ):
        return f"over the {label}"
    return label


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]
