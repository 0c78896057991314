"""From an operator's words (often a speech transcript) to an :class:`Intent`.

The parser is rule-based and catalog-aware: equipment and metric names are
matched against what the database actually holds (``PlantVocabulary``,
built from the introspected catalog), so "CH-1" becomes ``chiller_001`` only
if that table exists, and "temperature" becomes the temperature column that
equipment type really has (see ``layer2/understanding/vocabulary.py``).

Steps: normalise (lower case, number words to digits with ``text2num``,
"CH-1" to "ch 1"), find equipment and metric mentions (longest span wins
where they overlap, so "motor temperature" is a metric but "motor 9" is
equipment), then read the intent type, time window, aggregation, filters and
top-k from keywords. Relative times are anchored at ``now``, which the
orchestrator sets to the plant's newest reading (the wall clock on a live
plant), in UTC.

Anything named but not found (a "chiller 15" in a plant of 12) is returned
in ``ParsedQuery.unresolved`` with the closest real ids, so the answer can
say so instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from text_to_num import alpha2digit

from industrial.timeseries.access import SEVERITIES
from industrial.timeseries.catalog import Catalog
from industrial.timestamps import iso_timestamp
from layer2.understanding.vocabulary import COMPILED_METRIC_PHRASES, TYPE_ALIASES, resolve_metric

INTENT_TYPES = ("status", "trend", "comparison", "ranking", "anomaly", "alerts", "summary", "energy")
AGGREGATIONS = ("latest", "avg", "min", "max", "sum", "delta", "count")
DEFAULT_TOP_K = 5


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    label: str

    def to_dict(self) -> dict[str, str]:
        return {
            "start": iso_timestamp(self.start, utc="Z"),
            "end": iso_timestamp(self.end, utc="Z"),
            "label": self.label,
        }


@dataclass(frozen=True)
class Intent:
    """What the operator asked, in the ten fields the API documents."""

    intent_type: str
    equipment_type: str | None
    equipment_ids: list[str]
    metrics: list[str]
    time_range: TimeRange
    aggregation: str
    comparison: bool
    filters: dict[str, object]
    top_k: int | None
    confidence: float

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["time_range"] = self.time_range.to_dict()
        return data


@dataclass(frozen=True)
class UnresolvedEquipment:
    """Something the operator named that the plant does not have."""

    mentioned: str  # as heard: "chiller 15"
    equipment_type: str
    suggestions: list[str]


@dataclass(frozen=True)
class ParsedQuery:
    transcript: str
    intent: Intent
    unresolved: list[UnresolvedEquipment] = field(default_factory=list)


@dataclass(frozen=True)
class PlantVocabulary:
    """The names the parser may resolve to: the plant's equipment ids and each type's metric columns."""

    ids_by_type: dict[str, list[str]]
    metrics_by_type: dict[str, list[str]]

    def type_of(self, equipment_id: str) -> str | None:
        return next((t for t, ids in self.ids_by_type.items() if equipment_id in ids), None)

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> PlantVocabulary:
        ids_by_type = catalog.types()
        metrics = {t: list(catalog.equipment[ids[0]].metrics) for t, ids in ids_by_type.items()}
        return cls(ids_by_type, metrics)


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str  # "equipment" | "metric"
    equipment_type: str | None = None
    numbers: tuple[int, ...] = ()
    plural: bool = False
    candidates: tuple[str, ...] = ()
    text: str = ""


def _type_pattern() -> tuple[re.Pattern[str], list[str]]:
    alternatives = sorted(
        ((alias, t) for t, aliases in TYPE_ALIASES.items() for alias in aliases), key=lambda a: -len(a[0])
    )
    groups = "|".join(f"(?P<t{i}>{re.escape(alias)})" for i, (alias, _) in enumerate(alternatives))
    number = r"\d+"
    joiner = r"\s*(?:,|and|&|or|to|through|thru|-)?\s*"  # "chillers 1 2 and 3" is a list too
    return re.compile(
        rf"\b(?:{groups})(?P<plural>e?s)?\b(?:\s*(?:number|no\.?|#|unit)?\s*(?P<nums>{number}(?:{joiner}{number})*)\b)?"
    ), [t for _, t in alternatives]


_TYPE_RE, _TYPE_OF_GROUP = _type_pattern()
_RANGE_WORDS = re.compile(r"(\d+)\s*(?:to|through|thru|-)\s*(\d+)")


def normalise(transcript: str) -> str:
    text = transcript.lower().replace("’", "'")
    text = re.sub(r"'s\b", "", text)
    text = re.sub(r"\b([a-z]+)-(\d)", r"\1 \2", text)  # "ch-1" -> "ch 1"
    text = re.sub(r"[?!;:\"()]", " ", text)
    text = alpha2digit(text, "en", threshold=0)
    return re.sub(r"\s+", " ", text).strip()


def _numbers(raw: str | None) -> tuple[int, ...]:
    if not raw:
        return ()
    numbers: list[int] = []
    for a, b in _RANGE_WORDS.findall(raw):
        if int(b) - int(a) <= 60:  # "pumps 3 to 5"; never expand an absurd range
            numbers.extend(range(int(a), int(b) + 1))
    raw = _RANGE_WORDS.sub(" ", raw)
    numbers.extend(int(n) for n in re.findall(r"\d+", raw))
    return tuple(dict.fromkeys(numbers))


def _spans(text: str) -> list[_Span]:
    found: list[_Span] = []
    for m in _TYPE_RE.finditer(text):
        group = next(name for name, value in m.groupdict().items() if value and name.startswith("t"))
        found.append(
            _Span(
                m.start(),
                m.end(),
                "equipment",
                _TYPE_OF_GROUP[int(group[1:])],
                _numbers(m.group("nums")),
                bool(m.group("plural")),
                text=m.group(0),
            )
        )
    for phrase in COMPILED_METRIC_PHRASES:
        for m in phrase.pattern.finditer(text):
            found.append(_Span(m.start(), m.end(), "metric", candidates=phrase.candidates, text=m.group(0)))
    # Longest span first; keep those that do not overlap one already kept; then back in reading order.
    kept: list[_Span] = []
    for span in sorted(found, key=lambda s: (-(s.end - s.start), s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


# --------------------------------------------------------------------------- time

_UNITS = {
    "minute": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "hr": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
}
_RELATIVE = re.compile(
    r"\b(?:last|past|previous|over the|in the|for the)\s+(?:(\d+)\s+)?(minute|min|hour|hr|day|week|month)s?\b"
)
_LAST_N_BARE = re.compile(r"\b(\d+)\s+(minute|min|hour|hr|day|week|month)s?\b")


def parse_time(text: str, now: datetime) -> TimeRange | None:
    """The window a phrase names, or None when the question names none."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if re.search(r"\byesterday\b", text):
        return TimeRange(midnight - timedelta(days=1), midnight, "yesterday")
    if re.search(r"\b(today|since midnight|so far today)\b", text):
        return TimeRange(midnight, now, "today")
    if re.search(r"\bthis week\b", text):
        return TimeRange(midnight - timedelta(days=now.weekday()), now, "this week")
    if re.search(r"\bthis month\b", text):
        return TimeRange(midnight.replace(day=1), now, "this month")
    if m := _RELATIVE.search(text) or _LAST_N_BARE.search(text):
        count = int(m.group(1) or 1)
        unit = m.group(2)
        canonical = {"min": "minute", "hr": "hour"}.get(unit, unit)
        label = f"last {count} {canonical}s" if count != 1 else f"last {canonical}"
        return TimeRange(now - count * _UNITS[unit], now, label)
    return None


# --------------------------------------------------------------------------- keywords

_ALERT = re.compile(r"\b(alerts?|alarms?|warnings?|faults?|trips?|tripped)\b")
_ANOMALY = re.compile(
    r"\b(abnormal\w*|anomal\w*|unusual\w*|odd|weird|strange|out of (range|spec)|deviat\w*|suspicious|irregular\w*"
    r"|problems?|issues?|wrong|overheat\w*|too hot|spik\w*)\b"
)
_RANK = re.compile(r"\b(top|bottom|highest|lowest|most|least|worst|best|rank\w*|hottest|coldest|biggest|smallest)\b")
_COMPARE = re.compile(r"\b(compare\w*|comparison|versus|vs\.?|against|difference between|side by side)\b")
_TREND = re.compile(r"\b(trends?|trending|history|historical|over time|chart|graph|plot|profile)\b")
_ENERGY = re.compile(r"\b(energy|kwh|kilowatt hours?|consumed|used|usage)\b")
_OVERVIEW = re.compile(r"\b(overview|summary|summari[sz]e)\b")
_SUMMARY = re.compile(r"\b(overview|summary|summari[sz]e|doing|how (is|are)|status of|state of|health)\b")
_ASCENDING = re.compile(r"\b(bottom|lowest|least|coldest|smallest|best)\b")
_AGG_WORDS = [
    (re.compile(r"\b(average|avg|mean)\b"), "avg"),
    (re.compile(r"\b(max|maximum|peak)\b"), "max"),
    (re.compile(r"\b(min|minimum)\b"), "min"),
    (re.compile(r"\b(total|sum)\b"), "sum"),
    (re.compile(r"\bhow many\b"), "count"),
]
_THRESHOLD = re.compile(
    r"\b(above|over|greater than|more than|exceeding|higher than|below|under|less than|lower than)"
    r"\s+(\d+(?:\.\d+)?)"
)


def _intent_type(text: str, ids: list[str], fleet: bool, metrics: list[str], timed: bool) -> str:
    if _ALERT.search(text):
        return "alerts"
    if _ANOMALY.search(text):
        return "anomaly"
    if (fleet or not ids) and _RANK.search(text):
        return "ranking"
    if _COMPARE.search(text) or len(ids) >= 2:
        return "comparison"
    if _ENERGY.search(text) and (not metrics or "energy_kwh" in metrics):
        return "energy"
    if ((fleet or not ids) and (not metrics or _SUMMARY.search(text))) or _OVERVIEW.search(text):
        return "summary"
    if _TREND.search(text) or (timed and not any(p.search(text) for p, _ in _AGG_WORDS)):
        return "trend"
    return "status"


def _aggregation(text: str, intent_type: str, timed: bool, metrics: list[str]) -> str:
    if intent_type == "energy" or (metrics == ["energy_kwh"] and timed):
        return "delta"
    if intent_type == "alerts":
        return "count"
    if intent_type != "ranking":
        for pattern, name in _AGG_WORDS:
            if pattern.search(text):
                return name
    if intent_type == "trend" or (timed and intent_type in ("status", "comparison")):
        return "avg"
    return "latest"


def _filters(text: str, intent_type: str) -> dict[str, object]:
    filters: dict[str, object] = {}
    if intent_type == "alerts":
        severities = [s for s in SEVERITIES if re.search(rf"\b{s}\b", text)]  # said by name
        if severities:
            filters["severity"] = severities
        filters["active_only"] = not re.search(r"\b(all|cleared|resolved|past|history|historical)\b", text)
    if intent_type == "ranking":
        filters["order"] = "asc" if _ASCENDING.search(text) else "desc"
    if m := _THRESHOLD.search(text):
        op = ">" if m.group(1) in ("above", "over", "greater than", "more than", "exceeding", "higher than") else "<"
        filters["threshold"] = {"op": op, "value": float(m.group(2))}
    return filters


def _top_k(text: str, intent_type: str) -> int | None:
    if m := re.search(r"\b(?:top|bottom)\s+(\d+)\b", text) or re.search(
        r"\b(\d+)\s+(?:highest|lowest|worst|best|hottest|coldest)\b", text
    ):
        return max(1, min(int(m.group(1)), 50))
    if intent_type != "ranking":
        return None
    return 1 if re.search(r"\bwhich \w+(?: \w+)? (has|is)\b", text) else DEFAULT_TOP_K


# --------------------------------------------------------------------------- parse


def parse_intent(*, transcript: str, vocabulary: PlantVocabulary, now: datetime) -> ParsedQuery:
    """Parse ``transcript`` into an :class:`Intent` over the plant ``vocabulary`` at time ``now``."""
    text = normalise(transcript)
    spans = _spans(text)
    ids, unresolved, types, fleet = _equipment(spans, vocabulary)
    equipment_type = types[0] if len(types) == 1 else None
    metrics = _metrics(spans, types, vocabulary, bool(types))
    window = parse_time(text, now)
    timed = window is not None
    intent_type = _intent_type(text, ids, fleet, metrics, timed)
    if intent_type == "energy" and not types:
        equipment_type = "energy_meter" if "energy_meter" in vocabulary.ids_by_type else None
    if intent_type == "energy" and "energy_kwh" in vocabulary.metrics_by_type.get(equipment_type, []):
        metrics = ["energy_kwh"]  # "how much has meter 41 consumed": a counter's increase
    if window is None:
        default = timedelta(hours=24) if intent_type in ("trend", "energy") else timedelta(hours=1)
        window = TimeRange(now - default, now, "last 24 hours" if default.days else "now")
    confidence = _confidence(ids, types, metrics, unresolved, intent_type, text)
    intent = Intent(
        intent_type=intent_type,
        equipment_type=equipment_type,
        equipment_ids=ids,
        metrics=metrics,
        time_range=window,
        aggregation=_aggregation(text, intent_type, timed, metrics),
        comparison=intent_type == "comparison" or len(ids) >= 2,
        filters=_filters(text, intent_type),
        top_k=_top_k(text, intent_type),
        confidence=confidence,
    )
    return ParsedQuery(transcript, intent, unresolved)


def _equipment(spans: list[_Span], vocabulary: PlantVocabulary):
    ids: list[str] = []
    unresolved: list[UnresolvedEquipment] = []
    types: list[str] = []
    fleet = False
    for span in (s for s in spans if s.kind == "equipment"):
        known = vocabulary.ids_by_type.get(span.equipment_type, [])
        if not known:
            continue
        types.append(span.equipment_type)
        if not span.numbers:
            fleet = True
        for n in span.numbers:
            eq_id = f"{span.equipment_type}_{n:03d}"
            if eq_id in known:
                ids.append(eq_id)
            else:
                unresolved.append(UnresolvedEquipment(span.text, span.equipment_type, _closest(n, known)))
    return list(dict.fromkeys(ids)), unresolved, list(dict.fromkeys(types)), fleet


def _closest(number: int, known: list[str], limit: int = 3) -> list[str]:
    """Real ids of the type nearest in number to the one asked for."""
    return sorted(known, key=lambda eq_id: (abs(int(eq_id.rsplit("_", 1)[1]) - number), eq_id))[:limit]


def _metrics(spans: list[_Span], types: list[str], vocabulary: PlantVocabulary, typed: bool) -> list[str]:
    metrics: list[str] = []
    everything = sorted({m for ms in vocabulary.metrics_by_type.values() for m in ms})
    for span in (s for s in spans if s.kind == "metric"):
        if not typed:  # no equipment named: the first candidate any equipment has
            metrics.extend(resolve_metric(span.candidates, everything))
            continue
        for t in types:
            metrics.extend(resolve_metric(span.candidates, vocabulary.metrics_by_type.get(t, [])))
    return list(dict.fromkeys(metrics))


def _confidence(ids, types, metrics, unresolved, intent_type, text) -> float:
    score = 0.4
    score += 0.25 if ids or types else 0.0
    score += 0.2 if metrics or intent_type in ("alerts", "summary", "anomaly") else 0.0
    score += 0.15 if len(text.split()) >= 3 else 0.05
    score -= 0.3 if unresolved else 0.0
    return round(max(0.05, min(score, 1.0)), 2)
