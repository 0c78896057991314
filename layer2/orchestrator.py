"""From a transcript to a widget plan and a spoken answer, recorded as an experience.

``Orchestrator.answer`` runs the whole path: parse the intent against the
plant's catalog, propose candidate widgets, let the ranker (rules, or the
Tier 1 scorer, told the asker's role) or the LLM planner choose and size
them, bind each one's data, write the spoken answer, and append the
experience (with the role) to the shared buffer. Each stage's time is
recorded with the experience.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass, replace
from typing import Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from industrial.plant.spec import READING_INTERVAL
from industrial.timeseries.access import TimeSeriesDataAccess
from layer2.answering import voice
from layer2.answering.data_binding import BoundWidget, bind, ranked_values
from layer2.answering.diagnosis import Diagnosis, diagnose
from layer2.answering.request_memo import MemoizedAccess
from layer2.planning.planner import MAX_WIDGETS, Candidate, Choice, Ranker, RuleRanker, candidates
from layer2.understanding.followup import TurnContext, understand
from layer2.understanding.intent import Intent, ParsedQuery, PlantVocabulary
from layer2.understanding.llm_resolver import LLMResolver, needs_help
from layer2.understanding.roles import ROLES
from rl.experiences.buffer import ExperienceBuffer
from rl.experiences.records import CandidateRecord, Experience, WidgetChoice


class PlanBackend(Protocol):
    """Chooses widgets from candidates (the LLM planner); None means "fall back to the ranker".

    It sees the question, the parsed intent, the candidates and the asker's
    role: exactly what an experience records, so Tier 2 rebuilds the very
    prompt it served.
    """

    name: str

    def choose(
        self, parsed: ParsedQuery, candidates: list[Candidate], role: str | None = None
    ) -> list[Choice] | None: ...


@dataclass(frozen=True)
class Answer:
    query_id: str
    transcript: str
    intent: Intent
    widgets: list[BoundWidget]
    voice_response: str
    processing_time_ms: float
    planner: str
    context: TurnContext | None = None  # what the next turn of a conversation reads this one by
    resolver: str = "rules"  # who read the intent: rules | llm
    conversation_id: str | None = None
    turn: int | None = None

    def to_dict(self) -> dict:
        return {
            "query_id": self.query_id,
            "conversation_id": self.conversation_id,
            "turn": self.turn,
            "transcript": self.transcript,
            "intent": self.intent.to_dict(),
            "widgets": [w.to_dict() for w in self.widgets],
            "voice_response": self.voice_response,
            "processing_time_ms": self.processing_time_ms,
        }


class Orchestrator:
    def __init__(
        self,
        access: TimeSeriesDataAccess,
        buffer: ExperienceBuffer,
        ranker: Ranker | None = None,
        backend: PlanBackend | None = None,
        resolver: LLMResolver | None = None,
    ):
        self.access = access
        self.buffer = buffer
        self.ranker = ranker or RuleRanker()
        self.backend = backend
        self.resolver = resolver
        self._vocabulary: tuple[object, PlantVocabulary] | None = None

    def vocabulary(self) -> PlantVocabulary:
        catalog = self.access.catalog
        if self._vocabulary is None or self._vocabulary[0] is not catalog:
            self._vocabulary = (catalog, PlantVocabulary.from_catalog(catalog))
        return self._vocabulary[1]

    def answer(
        self,
        transcript: str,
        role: str | None = None,
        *,
        context: TurnContext | None = None,
        conversation: tuple[str, int] | None = None,
        asked_by: int | None = None,
    ) -> Answer:
        """Answer ``transcript`` for someone in ``role`` (``layer2.understanding.roles.ROLES``; None: unknown).

        ``context`` is the conversation's previous turn (None: the question stands alone);
        ``conversation`` its id and this turn's number, and ``asked_by`` the asker's user id, recorded with the
        experience (only the asker, staff and judges may read or rate it).
        """
        if role is not None and role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)} or None, got {role!r}")
        started = time.perf_counter()
        timings: dict[str, float] = {}
        access = MemoizedAccess(self.access)
        vocabulary = self.vocabulary()
        newest = self.access.newest_reading()
        # Windows are [start, end): "now" is just after the newest reading, so windows include it.
        now = newest + READING_INTERVAL if newest else timezone.now()
        parsed = understand(transcript=transcript, vocabulary=vocabulary, now=now, zone=plant_zone(), context=context)
        timings["parse_ms"] = _since(started)
        parsed, resolver = self._resolved(parsed, vocabulary, now, context)
        if self.resolver is not None:
            timings["resolve_ms"] = _since(started) - sum(timings.values())
        diagnosis, parsed, intent = _diagnosed(parsed, access)
        if diagnosis is not None:
            timings["diagnose_ms"] = _since(started) - sum(timings.values())
        answerable = (parsed.intent.equipment_ids or not parsed.unresolved) and not voice.blocked(parsed)
        proposed = candidates(intent=parsed.intent, vocabulary=vocabulary) if answerable else []
        choices, planner = self._choose(parsed, proposed, role)
        timings["plan_ms"] = _since(started) - sum(timings.values())
        widgets = [bind(candidate=c.candidate, intent=parsed.intent, access=access) for c in choices]
        timings["bind_ms"] = _since(started) - sum(timings.values())
        spoken = voice.compose(parsed=parsed, access=access, vocabulary=vocabulary, diagnosis=diagnosis)
        timings["voice_ms"] = _since(started) - sum(timings.values())
        conversation_id, turn = conversation or (None, None)
        query_id = uuid.uuid4().hex
        listed = _listed(intent, access, context)
        answer = Answer(
            query_id,
            transcript,
            intent,
            widgets,
            spoken,
            round(_since(started), 2),
            planner,
            context=TurnContext(intent, parsed.heard, listed, query_id, transcript, answered_at=timezone.now()),
            resolver=resolver,
            conversation_id=conversation_id,
            turn=turn,
        )
        experience = _experience(answer, choices, proposed, timings, self.ranker.name, role, diagnosis)
        self.buffer.add(replace(experience, asked_by=asked_by))
        return answer

    def _resolved(self, parsed: ParsedQuery, vocabulary, now, context: TurnContext | None) -> tuple[ParsedQuery, str]:
        """The language model's reading where the rules are unsure and it gives a valid one; else the rules'."""
        if self.resolver is None or not needs_help(parsed, confidence_below=self.resolver.config.confidence_below):
            return parsed, "rules"
        resolution = self.resolver.resolve(
            parsed=parsed, vocabulary=vocabulary, now=now, zone=plant_zone(),
            context=context.intent.to_dict() if context else None,
        )  # fmt: skip
        return (resolution.parsed, "llm") if resolution.parsed is not None else (parsed, "rules")

    def _choose(self, parsed: ParsedQuery, proposed: list[Candidate], role: str | None) -> tuple[list[Choice], str]:
        if self.backend is not None and proposed:
            chosen = self.backend.choose(parsed, proposed, role)
            if chosen:
                return chosen, self.backend.name
        return self.ranker.choose(parsed.intent, proposed, MAX_WIDGETS, role=role), "rules"


def _diagnosed(parsed: ParsedQuery, access) -> tuple[Diagnosis | None, ParsedQuery, Intent]:
    """For a diagnosis: the diagnosis, the query to plan (the symptom and its strongest driver, which the widgets
    chart together) and the intent to answer with (the symptom diagnosed); else None and the query as it is."""
    if parsed.intent.intent_type != "diagnosis" or (diagnosis := diagnose(intent=parsed.intent, access=access)) is None:
        return None, parsed, parsed.intent
    drivers = [r.metric for r in diagnosis.drivers if r.metric != "running_status"]
    planned = replace(parsed, intent=replace(parsed.intent, metrics=[diagnosis.symptom.metric, *drivers[:1]]))
    return diagnosis, planned, replace(parsed.intent, metrics=[diagnosis.symptom.metric])


def _listed(intent: Intent, access, context: TurnContext | None) -> list[str]:
    """The units the conversation's latest ranking listed, in its order ("the last one" two turns later)."""
    if intent.intent_type != "ranking" or not intent.equipment_type or not intent.metrics:
        return context.ranked if context else []
    ranked = ranked_values(intent.equipment_type, intent.metrics[0], intent, access)  # memoised: the answer's own
    return [v["equipment_id"] for v in ranked[: intent.top_k or 5]]


def _experience(
    answer: Answer,
    choices: list[Choice],
    proposed: list[Candidate],
    timings: dict,
    ranker: str,
    role: str | None,
    diagnosis: Diagnosis | None,
):
    widgets = [
        WidgetChoice(
            c.candidate.widget_type,
            c.candidate.size,
            w.title,
            list(c.candidate.equipment_ids),
            c.candidate.metric,
            c.propensity,
            c.score,
        )
        for c, w in zip(choices, answer.widgets, strict=True)
    ]
    return Experience(
        query_id=answer.query_id,
        transcript=answer.transcript,
        intent=answer.intent.to_dict(),
        widgets=widgets,
        candidates=[CandidateRecord(c.widget_type, c.size, c.metric, c.rule_score) for c in proposed],
        voice_response=answer.voice_response,
        processing_time_ms=answer.processing_time_ms,
        timings_ms={k: round(v, 2) for k, v in timings.items()},
        data_summary={**_data_summary(answer.widgets), **({"diagnosis": diagnosis.to_dict()} if diagnosis else {})},
        planner=answer.planner,
        ranker=ranker if answer.planner == "rules" else answer.planner,
        created_at=timezone.now(),
        user_role=role,
        conversation_id=answer.conversation_id,
        turn=answer.turn,
        resolver=answer.resolver,
        ranking=choices[0].draw if choices else None,
    )


def _data_summary(widgets: list[BoundWidget]) -> dict:
    """What the judge and the learners need to know of the data without re-querying it."""
    summary: dict[str, object] = {}
    for i, w in enumerate(widgets):
        data = w.data
        if "value" in data:
            summary[f"{i}:{w.widget_type}"] = {"value": data["value"], "unit": data.get("unit")}
        elif "items" in data:
            summary[f"{i}:{w.widget_type}"] = {"items": len(data["items"]), "abnormal": data.get("abnormal")}
        elif "alerts" in data:
            summary[f"{i}:{w.widget_type}"] = {
                "alerts": len(data["alerts"]),
                "anomalies": len(data.get("anomalies", [])),
            }
    return summary


def plant_zone() -> ZoneInfo:
    """The plant's clock (``PLANT_TIME_ZONE``), in which every calendar word is read."""
    return _zone(settings.PLANT_TIME_ZONE)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
