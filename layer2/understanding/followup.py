"""A follow-up in a conversation, read as the standalone question it stands for.

"and compressor 4?" after "what's the discharge pressure on compressor 3" is
rewritten to "and air compressor 4 discharge pressure" and parsed by the one
parser (``layer2/understanding/intent.py``), so a follow-up means exactly what the
same question asked in full would mean. The rewrite appends, slot by slot, the
words the previous turn said for each slot (``ParsedQuery.heard``) that the
follow-up leaves unsaid: equipment, metric, window, kind, aggregation,
severity and fleet state.

References are resolved before the rewrite: after a ranking, "it", "its",
"that one" and "the top one" are its first item, "the second one" its
second, "the last one" the last listed; "number 5" names a unit of the type
in play. "the week before" / "the day before" / "the previous month" is the
period of that length ending where the previous window starts.

A question that names its own subject (a unit or fleet *and* what to read of
it) with no follow-up word ("and", "what about", "it") starts afresh. The
intent's ``inherited`` lists the fields taken from the conversation.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from layer2.understanding import keywords
from layer2.understanding.intent import (
    QUESTION_WORDS,
    Intent,
    ParsedQuery,
    PlantVocabulary,
    TimeRange,
    normalise,
    parse_intent,
)
from layer2.understanding.time_windows import EARLIEST, READING_MINUTE
from layer2.understanding.vocabulary import TYPE_ALIASES

MARKER = re.compile(
    r"^(?:and|n|also|plus|but|then|ok(?:ay)? and|so|same (?:for|with)|what about|how about|wha(?:t)? bout)\b"
    r"|\b(?:what|how) about\b|\b(?:too|as well|instead|also|again)$"
)
"""Words that make a question a follow-up of the one before."""
PRONOUN = re.compile(r"\b(?:it|its|itself|that 1|this 1|that unit|that machine|that guy|the same 1|the same unit)\b")
THAT = re.compile(rf"{PRONOUN.pattern}|\b(?:that|this|them|those)\b")
PLURAL_PRONOUN = re.compile(r"\b(?:them|they|their|those|these|both)\b")
ORDINALS = {"1st": 1, "first": 1, "top": 1, "2nd": 2, "second": 2, "3rd": 3, "third": 3, "4th": 4, "fourth": 4,
            "5th": 5, "fifth": 5, "last": -1, "bottom": -1}  # fmt: skip
_ORDINAL = "|".join(ORDINALS)
REFERENCE = re.compile(
    rf"\b(?:the )?(?P<ord>{_ORDINAL})(?: 1| ones?| unit| item| on the list| in the list)\b"
    rf"|\bthe (?P<end>{_ORDINAL})$|\b(?:number|no) (?P<n>\d+) (?:on|in) the list\b"
)
NUMBER_ONLY = re.compile(r"\b(?:number|no|unit|#) ?(?P<n>\d+)\b")
RELATIVE = re.compile(
    r"\b(?:the )?(?P<a>hour|day|week|fortnight|month|quarter|year) (?:before|prior|earlier)(?: that)?\b"
    r"|\bthe (?:previous|prior|preceding) (?P<b>hour|day|week|fortnight|month|quarter|year)\b"
    r"|\bthe (?:1|one) before(?: that)?\b|\bthe period before\b"
)
ADDED = re.compile(r"\b(?:too|as well|also|add|include|in there|in as well|on there|plus)\b")
PLANT_WIDE = re.compile(r"\b(?:all|whole|entire|plant|site|campus|everything|every|overall)\b")
STEPS = {"hour": relativedelta(hours=1), "day": relativedelta(days=1), "week": relativedelta(weeks=1),
         "fortnight": relativedelta(weeks=2), "month": relativedelta(months=1), "quarter": relativedelta(months=3),
         "year": relativedelta(years=1)}  # fmt: skip
SLOT_FIELDS = {"equipment": "equipment_ids", "metric": "metrics", "window": "time_range", "kind": "intent_type",
               "aggregation": "aggregation", "severity": "filters", "state": "filters"}  # fmt: skip
FLEET_KINDS = ("ranking", "summary", "anomaly")
READING_ONLY_KINDS = ("diagnosis", "alerts", "summary", "energy")
"""Kinds a follow-up that names a metric of its own does not keep ("why is it low", then "what's its load")."""


@dataclass(frozen=True)
class TurnContext:
    """What an answered turn leaves for the next: its intent, the words of each slot, and the units it ranked;
    and which answer it was (``query_id``, ``transcript``, ``answered_at``: a question asked again in other words
    is noted on it, ``layer2/implicit_signals.py``)."""

    intent: Intent
    heard: dict[str, list[str]]
    ranked: list[str] = field(default_factory=list)  # the ids the answer listed, in its order
    query_id: str | None = None
    transcript: str | None = None
    answered_at: datetime | None = None

    def to_dict(self) -> dict:
        answered_at = self.answered_at.isoformat() if self.answered_at else None
        return {"intent": self.intent.to_dict(), "heard": self.heard, "ranked": self.ranked,
                "query_id": self.query_id, "transcript": self.transcript, "answered_at": answered_at}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> TurnContext:
        answered_at = datetime.fromisoformat(data["answered_at"]) if data.get("answered_at") else None
        return cls(Intent.from_dict(data["intent"]), dict(data["heard"]), list(data.get("ranked", [])),
                   data.get("query_id"), data.get("transcript"), answered_at)  # fmt: skip


def understand(
    *,
    transcript: str,
    vocabulary: PlantVocabulary,
    now: datetime,
    zone: ZoneInfo,
    context: TurnContext | None = None,
) -> ParsedQuery:
    """``transcript`` parsed as the next turn after ``context`` (None: a question on its own)."""
    if context is None:
        return parse_intent(transcript=transcript, vocabulary=vocabulary, now=now, zone=zone)
    text = normalise(transcript)
    shift, text = _relative_window(text, context)
    target, text = _reference(text, context, vocabulary)
    alone = parse_intent(transcript=text, vocabulary=vocabulary, now=now, zone=zone)
    follows = bool(MARKER.search(text) or PRONOUN.search(text) or PLURAL_PRONOUN.search(text))
    follows = follows or _adds_to_comparison(alone, text, context.intent)
    if not (follows or shift or target) and _names_own_subject(alone):
        return replace(alone, transcript=transcript)
    said = {slot: bool(words) for slot, words in alone.heard.items()}
    if shift:
        said["window"] = False
    rewrite, inherited = _rewrite(text, alone, said, target, context)
    reparse = functools.partial(parse_intent, vocabulary=vocabulary, now=now, zone=zone)
    parsed = reparse(transcript=rewrite)
    if not alone.heard["metric"] and "metric" in inherited:
        parsed = _swapped_metric(alone, context, rewrite, reparse) or parsed
    intent = _adjusted(parsed.intent, context, shift, inherited, said)
    return replace(parsed, transcript=transcript, intent=intent)


def _names_own_subject(parsed: ParsedQuery) -> bool:
    """A question complete in itself: a unit or fleet and what to read of it, or a plant-wide question."""
    heard, intent = parsed.heard, parsed.intent
    if intent.refusal:
        return intent.refusal == "command"  # "what about the max" alone is out of domain; in a conversation, not
    if heard["equipment"]:
        return bool(heard["metric"] or heard["kind"] or heard["state"] or "how many" in parsed.text)
    return bool(heard["kind"] or heard["severity"]) and bool(PLANT_WIDE.search(parsed.text))


def _rewrite(text: str, alone: ParsedQuery, said: dict, target: str | None, context: TurnContext):
    """The standalone question: ``text`` with the previous turn's words for each slot it leaves unsaid."""
    before, intent = context.heard, context.intent
    names_units = bool(alone.intent.equipment_ids) or target is not None
    parts, inherited = [text], []
    adds = _adds_to_comparison(alone, text, intent)
    if target is not None or not said["equipment"] or adds:
        units = [target] if target else intent.equipment_ids
        words = _unit_words(units) if units else " ".join(before["equipment"])
        # "is it on": "is boiler 4 on", read as said; the units compared before come first
        parts = [f"{words} {text}" if adds and not PRONOUN.search(text) else _in_place_of_pronoun(text, words)]
        inherited.append("equipment")
    fleet_before = intent.intent_type in FLEET_KINDS and not intent.equipment_ids
    to_units = names_units and fleet_before  # "which pump vibrates most" then "its temperature": one unit now
    for slot in ("metric", "window", "kind", "aggregation", "severity", "state"):
        if (said[slot] and not _gives_way(slot, alone, intent)) or not before.get(slot):
            continue
        if to_units and slot in ("kind", "aggregation", "state"):
            continue
        if slot == "metric" and said["state"]:
            continue  # "is it on": its running state, not the reading before
        if slot == "kind" and said["metric"] and intent.intent_type in READING_ONLY_KINDS:
            continue  # "what's its load" after "why is it so low": a reading, no longer a diagnosis
        if slot == "severity" and said["kind"] and alone.intent.intent_type != "alerts":
            continue
        parts.append(" ".join(before[slot]))
        inherited.append(slot)
    return " ".join(parts), inherited


def _swapped_metric(alone: ParsedQuery, context: TurnContext, rewrite: str, reparse) -> ParsedQuery | None:
    """ "n the return" after "AHU 12 supply air temperature": the word said replaces the first word of the
    metric before (return air temperature), if that names a column the unit has."""
    text = alone.text
    for named in alone.heard["equipment"]:
        text = text.replace(named, " ")
    words = [w for w in keywords.without_keywords(MARKER.sub(" ", text)).split() if w not in QUESTION_WORDS]
    before = " ".join(context.heard.get("metric", [])).split()
    if not words or len(words) > 2 or len(before) < 2:
        return None
    old, new = " ".join(before), " ".join([*words, *before[1:]])
    parsed = reparse(transcript=rewrite.replace(old, new))
    good = parsed.intent.metrics and not parsed.unknown_metrics and parsed.intent.metrics != context.intent.metrics
    return parsed if good else None


def _gives_way(slot: str, alone: ParsedQuery, before: Intent) -> bool:
    """An everyday word said ("why's it so hot") that the reading before already makes precise (its winding
    temperature): the words before are kept, and the parser lets the everyday word give way to them."""
    if (
        slot != "metric"
        or not alone.heard.get("weak_metric")
        or len(alone.heard["weak_metric"]) != len(alone.heard["metric"])
    ):
        return False
    kinds = {_unit_of(m) for m in alone.intent.metrics}
    return bool(kinds) and kinds <= {_unit_of(m) for m in before.metrics}


def _unit_of(metric: str) -> str:
    return "_".join(metric.split("_")[-2:]) if metric.endswith("_temp_c") else metric.rsplit("_", 1)[-1]


def _adds_to_comparison(alone: ParsedQuery, text: str, before: Intent) -> bool:
    """ "compare it with compressor 5", "how does that compare to number 5", "throw pump 9 in there too":
    the units named join the ones before."""
    if alone.intent.intent_type == "comparison" and alone.heard["kind"] and THAT.search(text):
        return True
    return len(before.equipment_ids) >= 2 and bool(ADDED.search(text))


def _in_place_of_pronoun(text: str, words: str) -> str:
    """``words`` where the first "it" / "its" / "that one" stands, else after ``text``."""
    m = PRONOUN.search(text)
    return f"{text[: m.start()]}{words}{text[m.end() :]}" if m else f"{text} {words}"


def _unit_words(equipment_ids: list[str]) -> str:
    """ "air compressor 3 and air compressor 5": ids as the parser reads them back."""
    words = []
    for eq_id in equipment_ids:
        eq_type, _, number = eq_id.rpartition("_")
        words.append(f"{TYPE_ALIASES.get(eq_type, (eq_type.replace('_', ' '),))[0]} {int(number)}")
    return " and ".join(words)


def _reference(text: str, context: TurnContext, vocabulary: PlantVocabulary) -> tuple[str | None, str]:
    """The unit a reference names ("the second one", "it" after a ranking, "number 5"), and the text without it."""
    listed = context.ranked or context.intent.equipment_ids
    m = REFERENCE.search(text)
    if not m and context.ranked and not context.intent.equipment_ids:  # "number 2" right after the ranking
        m = NUMBER_ONLY.search(text)
    if m and listed:
        position = int(m.group("n")) if m.group("n") else ORDINALS[m.group("ord") or m.group("end")]
        if position <= len(listed):
            target = listed[position - 1] if position > 0 else listed[-1]
            return target, _cut(text, m)
    if context.ranked and not context.intent.equipment_ids and PRONOUN.search(text):
        return context.ranked[0], text  # "is it running" after "which pump vibrates most": the first ranked
    m = NUMBER_ONLY.search(text)
    types = {vocabulary.type_of(i) for i in listed} or {context.intent.equipment_type}
    if m and len(types) == 1 and None not in types:
        alias = TYPE_ALIASES[next(iter(types))][0]
        return None, f"{text[: m.start()]}{alias} {m.group('n')}{text[m.end() :]}"
    return None, text


def _relative_window(text: str, context: TurnContext) -> tuple[relativedelta | None, str]:
    """ "the week before": the step back from the previous window, and the text without the phrase."""
    m = RELATIVE.search(text)
    if not m or context.intent.time_range.label == "now":
        return None, text
    unit = m.group("a") or m.group("b")
    tr = context.intent.time_range
    step = STEPS[unit] if unit else relativedelta(seconds=int((tr.end - tr.start).total_seconds()))
    return step, _cut(text, m)


def _stepped_back(end: datetime, shift: relativedelta) -> datetime:
    """The start of the window ``shift`` before ``end``, not before the floor of every window (``EARLIEST``).

    Before a window that begins at the floor itself ("the last million days") there is no data either way;
    a minute's window just before it keeps each further step back representable, turn after turn.
    """
    floor = EARLIEST.astimezone(end.tzinfo)
    if end <= floor:
        return end - READING_MINUTE
    try:
        return max(end - shift, floor)
    except (OverflowError, ValueError):  # before year 1
        return floor


def _cut(text: str, m: re.Match) -> str:
    return re.sub(r"\s+", " ", f"{text[: m.start()]} {text[m.end() :]}").strip()


def _adjusted(intent: Intent, context: TurnContext, shift, inherited: list[str], said: dict) -> Intent:
    """The rewrite's intent, with what words cannot carry: a window stepped back, the kind kept."""
    before = context.intent
    changes: dict[str, object] = {}
    if "window" in inherited and shift is None:
        changes["time_range"] = replace(before.time_range, time_zone=intent.time_range.time_zone)  # the very window
    if shift is not None:
        tr = before.time_range
        end = tr.start.astimezone(ZoneInfo(tr.time_zone))
        start = _stepped_back(end, shift)
        label = f"{start:%-d %B %H:%M} to {end:%-d %B %H:%M}"
        changes["time_range"] = TimeRange(start.astimezone(tr.start.tzinfo), tr.start, label, tr.time_zone)
        inherited.append("window")
    kept_kind = before.intent_type in ("status", "comparison") and intent.intent_type == "trend"
    if not said["kind"] and kept_kind and len(intent.equipment_ids) == 1:
        changes["intent_type"] = "status"  # "what about last month?" of a reading: its average then, not a chart
        inherited.append("kind")
    fields = list(dict.fromkeys(SLOT_FIELDS[slot] for slot in inherited))
    return replace(intent, **changes, inherited=fields)
