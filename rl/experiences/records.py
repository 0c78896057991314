"""The experience record: one answered question and everything learned about it later.

An :class:`Experience` is written when the orchestrator answers and then
completed by feedback: an operator's thumbs (``rating``) and, from the LLM
judge, the six rich evaluation fields. It is persisted as JSON with a
schema version; ``to_dict``/``from_dict`` are the one place that does it
and round-trip exactly.

Schema versions: 1, the first; 2 adds ``user_role``, the asker's role; 3 adds
``conversation_id`` and ``turn`` (a follow-up's ``intent`` is the resolved one,
with ``inherited`` naming what it took from the conversation) and ``resolver``
(``rules``, or ``llm`` when the language-model resolver read the intent); 4 adds ``asked_by``, the asker's
user id (who may read and rate it); 5 adds ``signals``, how the asker used the answer (:class:`ImplicitSignals`: the
console's per-widget viewing totals, the time to the next question, and ``rephrased`` when the same question came
again in other words); 6 adds ``ranking``, how an exploring ranker drew the widgets (:class:`RankingDraw`: its
seed, the draw's number, the temperature and every candidate's score and slot, enough to draw them again), and
``size_direction`` on a wrong-size verdict (``WidgetFeedback``: ``smaller`` or ``larger``); 7 adds ``feedback_id`` on
feedback, the sender's idempotency key (a retried request is stored once). An older record is read as
version 7 with the fields it lacks set to None (an answer nobody owns: only staff and judges see it; no signals; no
draw to replay; a wrong size without a direction).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime

from industrial.timestamps import iso_timestamp

SCHEMA_VERSION = 7
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7)
RATINGS = ("up", "down")
SIZE_DIRECTIONS = ("smaller", "larger")  # which way a wrong-size widget is off: the size it should have instead


@dataclass(frozen=True)
class WidgetChoice:
    """A widget the ranking step chose, the probability it had of being chosen, and its features."""

    widget_type: str
    size: str
    title: str
    equipment_ids: list[str]
    metric: str | None
    propensity: float
    score: float


@dataclass(frozen=True)
class CandidateRecord:
    """A candidate the ranking step could have chosen (type and size)."""

    widget_type: str
    size: str
    metric: str | None
    rule_score: float


@dataclass(frozen=True)
class RankingDraw:
    """How an exploring ranker drew an answer's widgets: enough to draw them again (``rl/tier1/scorer.replay``).

    The draw's generator is seeded with ``(seed, draw)``: ``seed`` the serving process's exploration seed (logged
    when it is chosen), ``draw`` how many answers that process had drawn before. ``scores`` and ``slots`` run
    parallel to the experience's ``candidates``: each one's predicted reward (rounded as the draw used it) and the
    number of the slot it sizes (one size per slot is drawn).
    """

    seed: int
    draw: int
    temperature: float
    k: int  # the most widgets it could draw
    scores: list[float]
    slots: list[int]


@dataclass(frozen=True)
class WidgetFeedback:
    widget_index: int
    widget_type: str
    appropriateness_score: float | None = None  # 0..1
    size_appropriate: bool | None = None
    issues: list[str] = field(default_factory=list)
    strengths: list[str] = field(default_factory=list)
    size_direction: str | None = None  # with size_appropriate False: "smaller" or "larger" (None: unsaid)


@dataclass(frozen=True)
class Feedback:
    """What arrives at /api/layer2/feedback/: a rating, optionally with a rich evaluation."""

    rating: str
    evaluation_confidence: float | None = None
    evaluation_reasoning: str | None = None
    query_understanding: str | None = None
    per_widget_feedback: list[WidgetFeedback] = field(default_factory=list)
    missing_widgets: list[str] = field(default_factory=list)
    suggested_improvements: list[str] = field(default_factory=list)
    source: str = "operator"  # operator | judge:<name>
    received_at: datetime | None = None
    # The sender's idempotency key: a retried request with the same id is stored once (None: the store makes one).
    feedback_id: str | None = None

    @property
    def is_rich(self) -> bool:
        return self.evaluation_confidence is not None or bool(self.per_widget_feedback)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["received_at"] = iso_timestamp(self.received_at, utc="+00:00")  # the journal's form
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Feedback:
        return cls(
            **{
                **data,
                "per_widget_feedback": [WidgetFeedback(**w) for w in data.get("per_widget_feedback", [])],
                "received_at": _parse(data.get("received_at")),
            }
        )


@dataclass(frozen=True)
class WidgetSignals:
    """How one widget of an answer was used, as the console counted it: totals since the answer was shown."""

    widget_index: int
    widget_type: str
    visible_ms: float = 0.0  # time on screen
    expansions: int = 0  # times opened full size
    hovers: int = 0  # times the pointer rested on it


@dataclass(frozen=True)
class ImplicitSignals:
    """How the asker used an answer, without rating it.

    The console reports its totals so far (``widgets``, ``next_question_after_ms``); its newest report replaces
    the ones before, so a retried report never counts twice. ``rephrased`` is the server's: the asker asked the
    same thing again in other words soon after (the answer evidently did not satisfy); it stays once set.
    ``reported_at`` is when the console's newest report arrived (None: it has not reported).
    """

    widgets: list[WidgetSignals] = field(default_factory=list)
    next_question_after_ms: float | None = None
    rephrased: bool = False
    reported_at: datetime | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["reported_at"] = iso_timestamp(self.reported_at, utc="+00:00")  # the journal's form
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ImplicitSignals:
        return cls(
            **{
                **data,
                "widgets": [WidgetSignals(**w) for w in data.get("widgets", [])],
                "reported_at": _parse(data.get("reported_at")),
            }
        )


@dataclass(frozen=True)
class Experience:
    query_id: str
    transcript: str
    intent: dict  # the Intent's ten fields, as the API returns them
    widgets: list[WidgetChoice]
    candidates: list[CandidateRecord]
    voice_response: str
    processing_time_ms: float
    timings_ms: dict[str, float]
    data_summary: dict[str, object]
    planner: str  # rules | llm
    ranker: str  # rules | tier1 | ...
    created_at: datetime
    feedback: Feedback | None = None
    schema_version: int = SCHEMA_VERSION
    user_role: str | None = None  # operator | engineer | manager (layer2/understanding/roles.py); None when unknown
    conversation_id: str | None = None  # the conversation the question was asked in
    turn: int | None = None  # its turn there, from 1
    resolver: str | None = None  # who read the intent: "rules", or "llm" (the language-model resolver)
    asked_by: int | None = None  # the asker's user id (Django's auth user); None: recorded before version 4
    signals: ImplicitSignals | None = None  # how the asker used it (version 5); None: no signal yet
    ranking: RankingDraw | None = None  # how an exploring ranker drew it (version 6); None: no random draw

    @property
    def rating(self) -> str | None:
        return self.feedback.rating if self.feedback else None

    @property
    def has_evaluation(self) -> bool:
        return self.feedback is not None and self.feedback.is_rich

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["widgets"] = [asdict(w) for w in self.widgets]
        data["candidates"] = [asdict(c) for c in self.candidates]
        data["created_at"] = iso_timestamp(self.created_at, utc="+00:00")  # the journal's form
        data["feedback"] = self.feedback.to_dict() if self.feedback else None
        data["signals"] = self.signals.to_dict() if self.signals else None
        data["ranking"] = asdict(self.ranking) if self.ranking else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Experience:
        if data.get("schema_version") not in READABLE_VERSIONS:
            raise ValueError(f"unsupported experience schema_version {data.get('schema_version')!r}")
        return cls(
            **{
                **data,
                "schema_version": SCHEMA_VERSION,  # older versions differ only by lacking fields that default to None
                "widgets": [WidgetChoice(**w) for w in data["widgets"]],
                "candidates": [CandidateRecord(**c) for c in data["candidates"]],
                "created_at": _parse(data["created_at"]),
                "feedback": Feedback.from_dict(data["feedback"]) if data.get("feedback") else None,
                "signals": ImplicitSignals.from_dict(data["signals"]) if data.get("signals") else None,
                "ranking": RankingDraw(**data["ranking"]) if data.get("ranking") else None,
            }
        )


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
