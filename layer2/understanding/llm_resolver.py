"""A language model for what the rules cannot read (off by default: ``INTENT_RESOLVER=llm`` turns it on).

When the rule parser's confidence is below ``confidence_below`` or it left
something heard unread (``Intent.not_understood``), :meth:`LLMResolver.resolve`
asks Claude through the ``anthropic`` SDK for the intent. The answer comes as
a forced tool call whose input schema enumerates the plant's catalog: its
intent types, equipment types, equipment ids and metric columns, so the model
can only choose among real names; the result is then validated against the
catalog once more (an id it has not got, a metric the unit lacks, a window in
the future) and any failure keeps the rules' answer.

Guards: a strict timeout per call and no retries (an operator is waiting), a
per-day budget of calls shared by every worker (``budget``, a callable that
takes one call or refuses), and a cache of identical transcripts (a repeated
question costs nothing). A refusal, a timeout, an API error or malformed
output is logged and the rules' intent stands.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from layer2.understanding.intent import AGGREGATIONS, INTENT_TYPES, Intent, ParsedQuery, PlantVocabulary, TimeRange

logger = logging.getLogger(__name__)

TOOL = "record_intent"
SEVERITIES = ("critical", "high", "medium", "low")
MAX_LABEL = 60
OLDEST = timedelta(days=3660)  # a window reaching back further than ten years is not a plant question
RESOLVED_CONFIDENCE = 0.7  # what an intent the model resolved (and the catalog confirmed) is worth


@dataclass(frozen=True)
class ResolverConfig:
    """How the resolver calls the Messages API and when it is asked."""

    api_key: str = field(metadata={"help": "The Messages API key (ANTHROPIC_API_KEY)."})
    model: str = field(default="claude-haiku-4-5-20251001", metadata={"help": "Claude model id (the fastest)."})
    base_url: str | None = field(default=None, metadata={"help": "Messages API endpoint; None: Anthropic's own."})
    confidence_below: float = field(default=0.6, metadata={"help": "Ask when the rules' confidence is below this."})
    timeout: float = field(default=3.0, metadata={"help": "Seconds one call may take before the rules answer."})
    daily_calls: int = field(default=1000, metadata={"help": "Calls per UTC day, shared by every worker."})
    cache_size: int = field(default=1024, metadata={"help": "Transcripts whose resolved intent is remembered."})
    max_output_tokens: int = field(default=400, metadata={"help": "Most output tokens per call."})

    def __post_init__(self):
        if not self.api_key:
            raise ValueError("api_key is empty: set ANTHROPIC_API_KEY or leave INTENT_RESOLVER=rules")
        if not 0 < self.confidence_below <= 1:
            raise ValueError(f"confidence_below must be in (0, 1], got {self.confidence_below}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {self.timeout}")
        for name in ("daily_calls", "cache_size", "max_output_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class Resolution:
    """What one ask came to: the intent (None: the rules' stands), why, and what it cost."""

    parsed: ParsedQuery | None
    outcome: str  # resolved | cached | rejected | refused | timeout | error | over_budget
    seconds: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


def needs_help(parsed: ParsedQuery, *, confidence_below: float) -> bool:
    """Whether the rules' reading is weak enough to ask: low confidence or words left unread, and nothing
    the rules are sure of (a command refused, a unit the plant has not got)."""
    intent = parsed.intent
    if intent.refusal == "command" or parsed.unresolved:
        return False
    return intent.confidence < confidence_below or bool(intent.not_understood)


class LLMResolver:
    name = "llm"

    def __init__(self, config: ResolverConfig, *, budget: Callable[[], bool]):
        self.config = config
        self._budget = budget
        self._client = None
        self._cache: OrderedDict[tuple, dict | None] = OrderedDict()
        self._lock = threading.Lock()

    def client(self):
        if self._client is None:
            import anthropic  # built on first use, after any fork

            self._client = anthropic.Anthropic(
                api_key=self.config.api_key, base_url=self.config.base_url or None, max_retries=0,
                timeout=self.config.timeout,
            )  # fmt: skip
        return self._client

    def resolve(
        self, *, parsed: ParsedQuery, vocabulary: PlantVocabulary, now: datetime, zone: ZoneInfo, context: dict | None
    ) -> Resolution:
        """The model's reading of ``parsed.transcript``, validated against ``vocabulary``; ``parsed`` = None
        in the resolution when the rules' reading stands."""
        key = (parsed.transcript.strip().lower(), json.dumps(context, sort_keys=True, default=str), now.date())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                found = self._cache[key]
                return Resolution(_validated(found, parsed, vocabulary, now, zone) if found else None, "cached")
        if not self._budget():
            logger.warning("intent resolver: today's budget of %d calls is spent", self.config.daily_calls)
            return Resolution(None, "over_budget")
        started = time.perf_counter()
        outcome, answer, usage = self._ask(parsed.transcript, vocabulary, now, zone, context)
        seconds = time.perf_counter() - started
        resolved = _validated(answer, parsed, vocabulary, now, zone) if answer else None
        if answer and resolved is None:
            outcome = "rejected"
        if outcome in ("resolved", "rejected", "refused"):
            self._remember(key, answer if resolved else None)
        logger.info("intent resolver: %s in %.0f ms for %r", outcome, seconds * 1000, parsed.transcript)
        return Resolution(resolved, outcome, seconds, *usage)

    def _remember(self, key: tuple, answer: dict | None) -> None:
        with self._lock:
            self._cache[key] = answer
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)

    def _ask(self, transcript, vocabulary, now, zone, context) -> tuple[str, dict | None, tuple[int, int]]:
        import anthropic

        try:
            message = self.client().messages.create(
                model=self.config.model,
                max_tokens=self.config.max_output_tokens,
                system=_system(now, zone),
                messages=[{"role": "user", "content": _question(transcript, context)}],
                tools=[{"name": TOOL, "description": "Record what the operator asked.",
                        "input_schema": intent_schema(vocabulary)}],
                tool_choice={"type": "tool", "name": TOOL},
            )  # fmt: skip
        except anthropic.APITimeoutError:
            logger.warning("intent resolver: no answer within %.1f s; the rules answer", self.config.timeout)
            return "timeout", None, (0, 0)
        except anthropic.APIError as error:
            logger.warning("intent resolver: %s; the rules answer", error)
            return "error", None, (0, 0)
        usage = (message.usage.input_tokens, message.usage.output_tokens)
        if message.stop_reason == "refusal":
            return "refused", None, usage
        calls = [b for b in message.content if b.type == "tool_use" and b.name == TOOL]
        if not calls or not isinstance(calls[0].input, dict):
            return "rejected", None, usage
        return "resolved", calls[0].input, usage


def intent_schema(vocabulary: PlantVocabulary) -> dict:
    """The tool's input schema: every name the model may use comes from the plant's catalog."""
    ids = sorted(i for ids in vocabulary.ids_by_type.values() for i in ids)
    metrics = sorted({m for ms in vocabulary.metrics_by_type.values() for m in ms})
    return {
        "type": "object",
        "properties": {
            "understood": {"type": "boolean", "description": "false if the question cannot be read as a plant query"},
            "intent_type": {"type": "string", "enum": list(INTENT_TYPES)},
            "equipment_type": {"type": ["string", "null"], "enum": [*sorted(vocabulary.ids_by_type), None]},
            "equipment_ids": {"type": "array", "items": {"type": "string", "enum": ids}},
            "metrics": {"type": "array", "items": {"type": "string", "enum": metrics}},
            "aggregation": {"type": "string", "enum": list(AGGREGATIONS)},
            "window": {
                "type": ["object", "null"],
                "description": "null for a current reading; else [start, end) in UTC, ISO-8601",
                "properties": {"start": {"type": "string"}, "end": {"type": "string"}, "label": {"type": "string"}},
                "required": ["start", "end", "label"],
            },
            "severity": {"type": "array", "items": {"type": "string", "enum": list(SEVERITIES)}},
            "order": {"type": "string", "enum": ["asc", "desc"]},
            "top_k": {"type": ["integer", "null"], "minimum": 1, "maximum": 50},
        },
        "required": ["understood", "intent_type", "equipment_type", "equipment_ids", "metrics", "aggregation",
                     "window"],
    }  # fmt: skip


def _system(now: datetime, zone: ZoneInfo) -> str:
    local = now.astimezone(zone)
    return (
        "You read an industrial plant operator's question (often a speech transcript with recognition errors) "
        "into a query over the plant's time-series database. Use only the names the tool's schema lists. "
        f"It is now {now.isoformat()} UTC ({local:%A %d %B %Y %H:%M} at the plant, {zone.key}); calendar words "
        "are the plant's. If the question is not about the plant's equipment, readings or alerts, or you cannot "
        "tell what it asks, set understood to false."
    )


def _question(transcript: str, context: dict | None) -> str:
    if not context:
        return transcript
    return (
        f"The conversation's previous question was read as {json.dumps(context)}.\nNow the operator says: {transcript}"
    )


def _validated(answer: dict, parsed: ParsedQuery, vocabulary: PlantVocabulary, now, zone) -> ParsedQuery | None:
    """The model's answer as a query, if every name is the catalog's and the window is the past; else None."""
    try:
        if answer.get("understood") is not True or answer["intent_type"] not in INTENT_TYPES:
            return None
        ids = list(dict.fromkeys(answer["equipment_ids"]))
        types = {vocabulary.type_of(i) for i in ids}
        eq_type = answer.get("equipment_type")
        if None in types or (eq_type is not None and eq_type not in vocabulary.ids_by_type):
            return None
        having = types or ({eq_type} if eq_type else set(vocabulary.metrics_by_type))
        metrics = list(dict.fromkeys(answer["metrics"]))
        if any(not any(m in vocabulary.metrics_by_type[t] for t in having) for m in metrics):
            return None
        if answer["aggregation"] not in AGGREGATIONS:
            return None
        time_range = _window(answer.get("window"), answer["intent_type"], now, zone)
        filters = _filters(answer)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if time_range is None or filters is None:
        return None
    intent = Intent(
        intent_type=answer["intent_type"],
        equipment_type=eq_type if eq_type else (next(iter(types)) if len(types) == 1 else None),
        equipment_ids=ids,
        metrics=metrics,
        time_range=time_range,
        aggregation=answer["aggregation"],
        comparison=answer["intent_type"] == "comparison" or len(ids) >= 2,
        filters=filters,
        top_k=answer.get("top_k"),
        confidence=RESOLVED_CONFIDENCE,
        aggregations=[answer["aggregation"]],
    )
    return replace(parsed, intent=intent, unresolved=[], unknown_metrics=[])


def _window(window, intent_type: str, now: datetime, zone: ZoneInfo) -> TimeRange | None:
    if window is None:
        span = timedelta(hours=24) if intent_type in ("trend", "energy", "diagnosis") else timedelta(hours=1)
        return TimeRange(now - span, now, "last 24 hours" if span.days else "now", zone.key)
    start, end = (datetime.fromisoformat(str(window[k]).replace("Z", "+00:00")) for k in ("start", "end"))
    if start.tzinfo is None or end.tzinfo is None or not start < end or start < now - OLDEST:
        return None
    if end > now + timedelta(minutes=1):
        return None
    return TimeRange(start, min(end, now), str(window.get("label") or "")[:MAX_LABEL] or "as asked", zone.key)


def _filters(answer: dict) -> dict | None:
    filters: dict[str, object] = {}
    severity = answer.get("severity") or []
    if any(s not in SEVERITIES for s in severity):
        return None
    if severity:
        filters["severity"] = list(severity)
    if answer["intent_type"] == "alerts":
        filters["active_only"] = answer.get("window") is None
    if answer.get("order") in ("asc", "desc"):
        filters["order"] = answer["order"]
    elif answer.get("order") is not None:
        return None
    top_k = answer.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or not 1 <= top_k <= 50):
        return None
    return filters
