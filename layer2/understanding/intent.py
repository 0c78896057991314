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

import itertools
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from text_to_num import alpha2digit

from industrial.timeseries.catalog import Catalog
from industrial.timestamps import iso_timestamp
from layer2.understanding import keywords
from layer2.understanding.scope import refusal
from layer2.understanding.speech import repair
from layer2.understanding.time_windows import TimePhrase, parse_window
from layer2.understanding.vocabulary import (
    METRIC_PHRASES,
    REWRITES,
    TYPE_ALIASES,
    MetricPhrase,
    compile_phrases,
    resolve_metric,
)

INTENT_TYPES = ("status", "trend", "comparison", "ranking", "anomaly", "alerts", "summary", "energy", "diagnosis")
AGGREGATIONS = ("latest", "avg", "min", "max", "sum", "delta", "count", "runtime")
REFUSALS = ("command", "out_of_domain")
UTC_ZONE = ZoneInfo("UTC")
NEVER = r"(?!)"  # a pattern that matches nothing: no type named, so no "the 3 <type>s"
UNIT_SAID = re.compile(r"\bin (kva|percent|kw|kilowatts|amps|volts|degrees|bar|rpm|pascals)\b")
UNIT_SUFFIX = {"kva": "_kva", "percent": "_percent", "kw": "_kw", "kilowatts": "_kw", "amps": "_a", "volts": "_v",
               "degrees": "_c", "bar": "_bar", "rpm": "_rpm", "pascals": "_pa"}  # fmt: skip
_RATES = ("_m3h", "_kg_h", "_kw")  # columns whose total over a window is their integral
_TEMPERATURE_WORDS = next(c for pattern, c in METRIC_PHRASES if pattern.startswith("how hot"))
_QUESTION_WORDS = """
what whats what's is are was were the of on at for in me show tell give how much many does do did be
been it its this that there right now current currently status doing look looking like can you we
our my and or to from with by about get got have has had reading readings value values check see
display pull bring up latest today equipment unit machine data info information details detail
overview summary report quick just still any all every each which who why where when okay hey then
than running working going whats lets let want need know number good bad badly well normal fine high
low currently level levels some more most less please could would should will shall may might must
being any anything something reading one two like a an i us them they their stats statistics figure
figures numbers say said dashboard screen panel today's doing how's what's up
out over past hows whats thats wheres n uh um hm hmm ok okay
"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())
_SLURRED = {"twenny": "twenty", "fitty": "fifty", "fiddy": "fifty", "thirdy": "thirty", "fordy": "forty"}
SLURRED_NUMBERS = re.compile(rf"\b(?:{'|'.join(_SLURRED)})\b")


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    label: str  # in the plant's words and clock: "since 7:00 am", "last 3 days", "now"
    time_zone: str = "UTC"  # the plant's (PLANT_TIME_ZONE) that calendar words were read in
    point: bool = False  # one minute: "at 10:30" asks for that minute's reading

    def to_dict(self) -> dict[str, object]:
        return {
            "start": iso_timestamp(self.start, utc="Z"),
            "end": iso_timestamp(self.end, utc="Z"),
            "label": self.label,
            "time_zone": self.time_zone,
            **({"point": True} if self.point else {}),
        }


@dataclass(frozen=True)
class Intent:
    """What the operator asked, in the fields the API documents (``docs/api.md``)."""

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
    aggregations: list[str] = field(default_factory=list)  # every one asked: "mean and max" is avg, max
    not_understood: list[str] = field(default_factory=list)  # what was heard but could not be read
    refusal: str | None = None  # "command" or "out_of_domain": answered with a refusal, no widgets
    inherited: list[str] = field(default_factory=list)  # fields a follow-up took from the conversation

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["time_range"] = self.time_range.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Intent:
        """The inverse of :meth:`to_dict` (a conversation's stored turn)."""
        tr = data["time_range"]
        start, end = (datetime.fromisoformat(tr[k].replace("Z", "+00:00")) for k in ("start", "end"))
        time_range = TimeRange(start, end, tr["label"], tr.get("time_zone", "UTC"), bool(tr.get("point", False)))
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**fields, "time_range": time_range})


@dataclass(frozen=True)
class UnresolvedEquipment:
    """Something the operator named that the plant does not have."""

    mentioned: str  # as heard: "chiller 15"
    equipment_type: str
    suggestions: list[str]


@dataclass(frozen=True)
class UnknownMetric:
    """A metric the operator asked of a type that has no such column ("fuel level" of a pump)."""

    mentioned: str
    equipment_type: str
    available: list[str]
    heard: bool = False  # words the parser does not know at all ("how noisy"), not a known metric the type lacks


@dataclass(frozen=True)
class ParsedQuery:
    transcript: str
    intent: Intent
    unresolved: list[UnresolvedEquipment] = field(default_factory=list)
    unknown_metrics: list[UnknownMetric] = field(default_factory=list)
    heard: dict[str, list[str]] = field(default_factory=dict)  # the words of each slot said (see :func:`heard`)
    text: str = ""  # the normalised, repaired words the intent was read from


@dataclass(frozen=True)
class PlantVocabulary:
    """The names the parser may resolve to: the plant's equipment ids and each type's metric columns."""

    ids_by_type: dict[str, list[str]]
    metrics_by_type: dict[str, list[str]]

    def type_of(self, equipment_id: str) -> str | None:
        return next((t for t, ids in self.ids_by_type.items() if equipment_id in ids), None)

    def has(self, equipment_type: str, number: int) -> bool:
        return f"{equipment_type}_{number:03d}" in self._ids

    @cached_property
    def _ids(self) -> frozenset[str]:
        return frozenset(i for ids in self.ids_by_type.values() for i in ids)

    @cached_property
    def phrases(self) -> list[MetricPhrase]:
        """The metric words: the dictionary's, and each column's own name ("basin level", "flue gas temp")."""
        columns = sorted({m for ms in self.metrics_by_type.values() for m in ms if m != "running_status"})
        return compile_phrases(columns)

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
    specific: bool = True  # a metric word that means something only on some types ("fuel"), not "reading"
    weak: bool = False  # an everyday word that gives way to a column named beside it
    action: bool = False  # a weak verb ("making") that gives way even to weak words


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
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", text)  # "7 p.m." -> "7 pm"
    text = re.sub(r"(\d)%", r"\1 percent", text)
    text = re.sub(r"\b([a-z]+)-(\d)", r"\1 \2", text)  # "ch-1" -> "ch 1"
    text = text.replace("_", " ")  # "chiller_001" as an id
    text = re.sub(r"[?!;:\"(),]|(?<!\d)\.|\.(?!\d)", " ", text)  # a dot stays only inside a decimal
    text = re.sub(r"\b(?:c|see) (?:o|oh) (?:two|2)\b", "co2", text)  # before "o two" becomes "02"
    text = re.sub(r"^control\b|\bover(?: and out)?$", " ", text) if text.startswith("control") else text  # radio
    text = SLURRED_NUMBERS.sub(lambda m: _SLURRED[m.group(0)], text)  # "twenny one": twenty one
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


def _spans(text: str, vocabulary: PlantVocabulary) -> list[_Span]:
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
    for phrase in vocabulary.phrases:
        if phrase.required and phrase.required not in text:
            continue  # cheaper than a search that cannot match
        for m in phrase.pattern.finditer(text):
            found.append(
                _Span(
                    m.start(),
                    m.end(),
                    "metric",
                    candidates=phrase.candidates,
                    text=m.group(0),
                    specific=phrase.specific,
                    weak=phrase.weak,
                    action=phrase.action,
                )
            )
    # Longest span first; keep those that do not overlap one already kept; then back in reading order.
    kept: list[_Span] = []
    for span in sorted(found, key=lambda s: (-(s.end - s.start), s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


# --------------------------------------------------------------------------- parse


def parse_intent(
    *, transcript: str, vocabulary: PlantVocabulary, now: datetime, zone: ZoneInfo | None = None
) -> ParsedQuery:
    """Parse ``transcript`` into an :class:`Intent` over the plant ``vocabulary`` at ``now`` on ``zone``'s clock."""
    zone = zone or UTC_ZONE
    text = repair(normalise(transcript), is_real=vocabulary.has)
    phrase = parse_window(text=text, now=now, zone=zone)
    rest = _without(text, phrase)
    for pattern, replacement in REWRITES:
        rest = pattern.sub(replacement, rest)
    spans = _spans(rest, vocabulary)
    ids, unresolved, types, fleet = _equipment(spans, vocabulary)
    metrics, unknown = _metrics(spans, types, ids, vocabulary)
    refused = refusal(rest, plant_named=bool(spans))
    found = keywords.Resolved(ids=ids, fleet=fleet, metrics=metrics, timed=bool(phrase and phrase.window))
    meaning = _meaning(rest, found, types, unknown, phrase, vocabulary)
    bare = meaning.kind in ("status", "trend", "comparison", "ranking") and not meaning.metrics and not meaning.unknown
    bare = bare and (ids or types) and not refused
    if bare and (words := _unknown_words(rest, spans)):  # "how noisy is pump 2": never its power instead
        meaning = replace(meaning, unknown=[replace(_unknown(words, types, ids, vocabulary), heard=True)])
    not_understood = [_time_not_understood(phrase)] if phrase and phrase.window is None else []
    not_understood += [
        f"{u.mentioned} on {u.equipment_type.replace('_', ' ')}" if u.equipment_type else u.mentioned
        for u in meaning.unknown
    ]
    type_words = "|".join(re.escape(a) for t in types for a in TYPE_ALIASES[t]) or NEVER  # "the 3 pumps"
    if meaning.kind == "diagnosis":
        meaning = replace(meaning, said=["latest"], aggregation="latest")
    intent = Intent(
        intent_type=meaning.kind,
        equipment_type=meaning.equipment_type,
        equipment_ids=ids,
        metrics=meaning.metrics,
        time_range=_time_range(phrase, meaning.kind, meaning.aggregation, now, zone, named=bool(ids)),
        aggregation=meaning.aggregation,
        comparison=meaning.kind == "comparison" or len(ids) >= 2,
        filters=_filters(rest, meaning.kind, found),
        top_k=keywords.top_k(rest, meaning.kind, type_words, any(s.plural for s in spans)),
        confidence=_confidence(found, types, unresolved, not_understood, rest, refused),
        aggregations=meaning.said or [meaning.aggregation],
        not_understood=not_understood,
        refusal=refused,
    )
    return ParsedQuery(transcript, intent, unresolved, meaning.unknown, heard(rest, spans, phrase), text)


def heard(rest: str, spans: list[_Span], phrase: TimePhrase | None) -> dict[str, list[str]]:
    """The words of each slot a question said: what a follow-up that leaves a slot unsaid inherits.

    Slots: ``equipment``, ``metric`` (and its everyday words, ``weak_metric``), ``window``, ``kind``,
    ``aggregation``, ``severity``, ``state``.
    """
    return {
        "equipment": [s.text for s in spans if s.kind == "equipment"],
        "metric": [s.text for s in spans if s.kind == "metric"],
        "weak_metric": [s.text for s in spans if s.kind == "metric" and (s.weak or s.action)],
        "window": [phrase.text] if phrase and phrase.window else [],
        "kind": keywords.kind_words(rest),
        "aggregation": keywords.aggregation_words(rest),
        "severity": keywords.severity_words(rest),
        "state": keywords.state_words(rest),
    }


def _filters(rest: str, kind: str, found: keywords.Resolved) -> dict[str, object]:
    if kind == "diagnosis":
        said = keywords.direction(keywords.DIAGNOSIS.sub(" ", rest))  # the "up" of "what's up with" is no way
        return {"direction": said} if said else {}
    return keywords.filters(rest, kind, found)


@dataclass(frozen=True)
class _Meaning:
    """What the question asks of the equipment found: the kind, the columns, the aggregations."""

    kind: str
    equipment_type: str | None
    metrics: list[str]
    said: list[str]  # the aggregations said, in order
    aggregation: str
    unknown: list[UnknownMetric]


def _meaning(rest, found, types, unknown, phrase, vocabulary: PlantVocabulary) -> _Meaning:
    kind = keywords.intent_type(rest, found)
    metrics = found.metrics
    equipment_type = types[0] if len(types) == 1 else _type_having(metrics, vocabulary) if not types else None
    if kind == "energy" and not types:
        equipment_type = "energy_meter" if "energy_meter" in vocabulary.ids_by_type else None
    available = vocabulary.metrics_by_type.get(equipment_type or "", [])
    used = bool(keywords.USED.search(rest))
    if "energy_kwh" in available and (
        kind == "energy" or (kind == "ranking" and (not metrics or (_meter_power(metrics) and used)))
    ):
        metrics = ["energy_kwh"]  # "how much has meter 41 consumed", "the biggest energy users": an increase
    said = keywords.aggregations(rest, kind, replace(found, metrics=metrics))
    power = [m for m in available if m.endswith("_kw")][:1]
    if not metrics and found.ids and found.timed and used and power and "energy_kwh" not in available:
        metrics = power  # "what did pump 3 use today": the energy its power adds up to
    if not said and found.timed and used and metrics and metrics[0].endswith(_RATES):
        said = ["sum"]  # "gas used by boiler 3 today": the total of a rate over the window
    if not metrics and found.ids and "running_status" in available and keywords.asks_running(rest):
        metrics = ["running_status"]  # "is boiler 4 on": its running state
    point = bool(phrase and phrase.window and phrase.window.point)
    if kind == "trend" and point and not keywords.TREND.search(rest):
        kind = "status"  # "at 7:30 this morning": one reading
    if "runtime" in said and "running_status" in available:
        metrics, unknown = ["running_status"], []  # "hours run by AHU 1 yesterday": its running time
    if kind in ("trend", "status") and found.timed and used and "energy_kwh" in available and _meter_power(metrics):
        kind, metrics, said = "energy", ["energy_kwh"], []  # "how much electricity did meter 2 use yesterday"
    aggregation = keywords.aggregation(rest, kind, replace(found, metrics=metrics), said)
    if aggregation == "delta" and metrics == ["energy_kwh"]:
        said = ["delta"]  # a counter's "total" over a window is its increase
    if kind == "ranking" and metrics == ["energy_kwh"] and found.timed:
        aggregation = "delta"
    if point:
        aggregation = "latest"
    return _Meaning(kind, equipment_type, _unit_said(metrics, rest), said, aggregation, unknown)


def _unit_said(metrics: list[str], text: str) -> list[str]:
    """ "the load in kVA": of several columns found, keep those in the unit said, if any is."""
    m = UNIT_SAID.search(text)
    if len(metrics) < 2 or not m:
        return metrics
    suffix = UNIT_SUFFIX[m.group(1)]
    return [c for c in metrics if c.endswith(suffix)] or metrics


def _meter_power(metrics: list[str]) -> bool:
    """Whether the metrics are a meter's power (or none), whose "use" over a window is its counter's increase."""
    return metrics in ([], ["active_power_kw"])


def _time_not_understood(phrase: TimePhrase) -> str:
    return f"the time '{phrase.text}', still to come" if phrase.ahead else f"the time '{phrase.text}'"


def _without(text: str, phrase: TimePhrase | None) -> str:
    if phrase is None:
        return text
    start, end = phrase.span
    return re.sub(r"\s+", " ", f"{text[:start]} {text[end:]}").strip()


def _time_range(
    phrase: TimePhrase | None, kind: str, agg: str, now: datetime, zone: ZoneInfo, *, named: bool = False
) -> TimeRange:
    name = zone.key
    if phrase and phrase.window:
        w = phrase.window
        return TimeRange(w.start, w.end, w.label, name, w.point)
    if kind == "alerts" and agg == "count":
        return TimeRange(now - timedelta(hours=1), now, "now", name)
    if named and agg in ("avg", "min", "max", "sum", "delta", "runtime"):  # "peak demand on meter 1": a day's
        return TimeRange(now - timedelta(hours=24), now, "last 24 hours", name)
    default = timedelta(hours=24) if kind in ("trend", "energy", "diagnosis") else timedelta(hours=1)
    return TimeRange(now - default, now, "last 24 hours" if default.days else "now", name)


def _type_having(metrics: list[str], vocabulary: PlantVocabulary) -> str | None:
    """The one equipment type that has every metric asked ("which unit has the highest CO2": an AHU)."""
    if not metrics:
        return None
    having = [t for t, ms in vocabulary.metrics_by_type.items() if all(m in ms for m in metrics)]
    return having[0] if len(having) == 1 else None


def _equipment(spans: list[_Span], vocabulary: PlantVocabulary):
    ids: list[str] = []
    unresolved: list[UnresolvedEquipment] = []
    types: list[str] = []
    fleet = False
    named = [s for s in spans if s.kind == "equipment"]
    if len(named) > 1:  # "the motor on pump 2", "pumps whose motor is hot": a part, not another machine
        named = [s for s in named if s.numbers or s.plural or not any(o is not s for o in named)] or named
    for span in named:
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


def _metrics(spans: list[_Span], types: list[str], ids: list[str], vocabulary: PlantVocabulary):
    """The columns the metric words mean for the named types, and the words no named type has a column for.

    An everyday word ("hot", "drawing") gives way to a column named beside it ("how hot is the oil": oil
    temperature, not discharge and oil); a temperature word beside a part ("warm ... battery") means that
    part's temperature where the type has one.
    """
    said = [s for s in spans if s.kind == "metric"]
    said = [s for s in said if not s.action] or said
    strong = [s for s in said if not s.weak]
    warm = any(s.weak and s.candidates in (_TEMPERATURE_WORDS, ("*_temp_c",)) for s in said)
    metrics: list[str] = []
    unknown: list[UnknownMetric] = []
    everything = sorted({m for ms in vocabulary.metrics_by_type.values() for m in ms})
    owners = _owners(spans)
    for span in strong or said:
        if not types:  # no equipment named: the first candidate any equipment has
            metrics.extend(resolve_metric(span.candidates, everything))
            continue
        own = [owners[span]] if span in owners else []
        found = [m for t in own for m in _resolve(span, warm, vocabulary.metrics_by_type.get(t, []))]
        found = found or [m for t in types for m in _resolve(span, warm, vocabulary.metrics_by_type.get(t, []))]
        found = [_refined(m, said, types, vocabulary) for m in found]
        metrics.extend(found)
        if not found and span.specific:
            unknown.append(_unknown(span.text, types, ids, vocabulary))
    if any(s.candidates == ("absent",) for s in said):
        metrics = []  # "the pH of the water in cooling tower 1" asks for the pH, which nothing here measures
        if not types:  # "the ammonia level in the plant room": nothing here measures it at all
            unknown = [UnknownMetric(s.text, "", []) for s in said if s.candidates == ("absent",)][:1]
    if len(metrics) > 1 and not any(s.text.endswith("status") for s in said):
        metrics = [m for m in metrics if m != "running_status"] or metrics
    return list(dict.fromkeys(metrics)), unknown


def _owners(spans: list[_Span]) -> dict[_Span, str]:
    """ "chiller 1 cop and pump 1 flow": when each unit of two or more types is followed by its own metric
    words, each word is that unit's type's alone (the pump's flow, not the chiller's chilled-water flow too)."""
    named = [s for s in spans if s.kind == "equipment" or not (s.weak or s.action)]
    kinds = "".join("e" if s.kind == "equipment" else "m" for s in named)
    types = {s.equipment_type for s in named if s.kind == "equipment"}
    if not re.fullmatch(r"(?:em)+", kinds) or len(types) < 2 or len(types) != kinds.count("e"):
        return {}
    return {metric: unit.equipment_type for unit, metric in zip(named[::2], named[1::2], strict=True)}


def _refined(metric: str, said: list[_Span], types: list[str], vocabulary: PlantVocabulary) -> str:
    """A weak word that names one of the strong word's own candidates refines it ("voltage ... from the mains")."""
    for span in (s for s in said if s.weak):
        for t in types:
            for column in resolve_metric(span.candidates, vocabulary.metrics_by_type.get(t, [])):
                if column != metric and column in _candidates_of(metric, said):
                    return column
    return metric


def _candidates_of(metric: str, said: list[_Span]) -> tuple[str, ...]:
    return next((s.candidates for s in said if not s.weak and metric in s.candidates), ())


def _resolve(span: _Span, warm: bool, available: list[str]) -> list[str]:
    if warm and not span.weak:
        part = [c.rsplit("_", 2)[0] + "_temp_c" for c in span.candidates if c.count("_") >= 2]
        temperature = [c for c in part if c in available]
        if temperature:
            return temperature[:1]
    return resolve_metric(span.candidates, available)


def _unknown(words: str, types: list[str], ids: list[str], vocabulary: PlantVocabulary) -> UnknownMetric:
    named = [t for t in types if any(vocabulary.type_of(i) == t for i in ids)] or types
    return UnknownMetric(words, named[0], list(vocabulary.metrics_by_type.get(named[0], [])))


def _unknown_words(text: str, spans: list[_Span]) -> str | None:
    """Content words left once equipment, metric and question words are set aside ("how noisy is pump 2": noisy)."""
    left = [text[: spans[0].start]] if spans else [text]
    left += [text[a.end : b.start] for a, b in itertools.pairwise(spans)]
    left += [text[spans[-1].end :]] if spans else []
    left_over = keywords.without_keywords(" ".join(left))
    words = [w for w in left_over.split() if w not in QUESTION_WORDS and not w.isdigit() and len(w) > 2]
    return " ".join(words) or None


def _confidence(found: keywords.Resolved, types, unresolved, not_understood, text, refused) -> float:
    if refused:
        return 0.9 if refused == "command" else 0.6
    score = 0.4
    score += 0.25 if found.ids or types else 0.0
    score += 0.2 if found.metrics or keywords.ALERT.search(text) or keywords.SUMMARY.search(text) else 0.0
    score += 0.15 if len(text.split()) >= 2 else 0.05
    score -= 0.3 if unresolved else 0.0
    score -= 0.35 * len(not_understood)
    return round(max(0.05, min(score, 1.0)), 2)
