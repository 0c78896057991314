"""A judge's rich evaluation of one answer: its record, its JSON schema, and strict validation.

Both judges (``rl/judges/claude.py``, ``rl/judges/offline.py``) produce an
:class:`Evaluation`; ``auto_evaluate_responses.py`` posts it to
``/api/layer2/feedback/`` as the overall rating plus the six rich fields.

The JSON schema is the contract: it is the Claude judge's tool
``input_schema``, and :func:`parse_evaluation` validates any candidate
evaluation against it (with ``jsonschema``) and then against the answer
itself (one entry per shown widget, each naming that widget's type, and a
``size_direction`` only on a wrong size, towards a size the widget comes in).
A rejection carries a reason a person, or the model asked to try again, can act on.
``size_direction`` is optional: an evaluation without it (every one made before
it existed) is as valid as before, and posts without it.
The limits match ``layer2/serializers.FeedbackRequestSerializer``, so an
evaluation that passes here is one the API accepts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Protocol

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from layer2.planning.widgets import CATALOG, next_size
from rl.experiences.records import RATINGS, SIZE_DIRECTIONS, Experience, WidgetChoice, WidgetFeedback

MAX_TEXT = 4000  # evaluation_reasoning, query_understanding
MAX_ITEM_TEXT = 500  # one issue, strength or suggestion
MAX_ITEMS = 50  # any list

FIELDS = (
    "query_understanding",
    "per_widget_feedback",
    "missing_widgets",
    "suggested_improvements",
    "evaluation_reasoning",
    "rating",
    "evaluation_confidence",
)


class InvalidEvaluation(ValueError):
    """A candidate evaluation that cannot be posted; ``reason`` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class JudgeStopped(RuntimeError):
    """The run cannot go on (spend limit, rejected key): every further call would fail the same way."""


@dataclass(frozen=True)
class Evaluation:
    rating: str  # up | down
    evaluation_confidence: float  # 0..1
    evaluation_reasoning: str
    query_understanding: str
    per_widget_feedback: list[WidgetFeedback]
    missing_widgets: list[str] = field(default_factory=list)
    suggested_improvements: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """As the schema has it: a widget's ``size_direction`` only where one was said (it is optional there)."""
        data = asdict(self)
        for widget in data["per_widget_feedback"]:
            if widget["size_direction"] is None:
                del widget["size_direction"]
        return data

    def feedback_payload(self, query_id: str) -> dict:
        """The body of ``POST /api/layer2/feedback/`` (no ``source``: the server records the judge account's).

        Its ``feedback_id`` is a digest of the answer and the evaluation: a post retried after a lost response
        counts once, and a different evaluation of the same answer is new."""
        body = {"query_id": query_id, **self.to_dict()}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
        return {**body, "feedback_id": f"judge-{digest}"}


@dataclass(frozen=True)
class Verdict:
    """What a judge made of one experience: an evaluation, or the reason there is none; and what it cost."""

    evaluation: Evaluation | None
    skip_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 1


class Judge(Protocol):
    source: str  # the feedback's source: judge:<name>

    def evaluate(self, experience: Experience) -> Verdict: ...

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float: ...


def _texts(max_length: int) -> dict:
    return {"type": "array", "items": {"type": "string", "maxLength": max_length}, "maxItems": MAX_ITEMS}


def evaluation_schema(widget_count: int) -> dict:
    """The JSON schema of an evaluation of an answer that showed ``widget_count`` widgets."""
    widget = {
        "type": "object",
        "additionalProperties": False,
        "required": ["widget_index", "widget_type", "appropriateness_score", "size_appropriate", "issues", "strengths"],
        "properties": {
            "widget_index": {"type": "integer", "minimum": 0, "maximum": max(widget_count - 1, 0)},
            "widget_type": {"type": "string", "enum": sorted(CATALOG)},
            "appropriateness_score": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "1: exactly what this question needs; 0.5: relevant but secondary; 0: wrong or useless.",
            },
            "size_appropriate": {"type": "boolean", "description": "Is the size right for what the widget shows?"},
            "size_direction": {
                "type": "string",
                "enum": list(SIZE_DIRECTIONS),
                "description": "Only when size_appropriate is false: should it be smaller or larger?",
            },
            "issues": _texts(MAX_ITEM_TEXT),
            "strengths": _texts(MAX_ITEM_TEXT),
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(FIELDS),
        "properties": {
            "query_understanding": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_TEXT,
                "description": "What the operator wanted, and whether the intent captured it.",
            },
            "per_widget_feedback": {
                "type": "array",
                "items": widget,
                "minItems": widget_count,
                "maxItems": widget_count,
                "description": "One entry per widget shown, in order.",
            },
            "missing_widgets": {
                "type": "array",
                "items": {"type": "string", "enum": sorted(CATALOG)},
                "maxItems": MAX_ITEMS,
                "uniqueItems": True,
                "description": "Catalog widget types the answer should have shown and did not.",
            },
            "suggested_improvements": _texts(MAX_ITEM_TEXT),
            "evaluation_reasoning": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            "rating": {"type": "string", "enum": list(RATINGS)},
            "evaluation_confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
    }


def parse_evaluation(data: object, widgets: list[WidgetChoice]) -> Evaluation:
    """``data`` as an :class:`Evaluation` of an answer that showed ``widgets``; raises ``InvalidEvaluation``."""
    error = best_match(Draft202012Validator(evaluation_schema(len(widgets))).iter_errors(data))
    if error is not None:
        raise InvalidEvaluation(_reason(error))
    assert isinstance(data, dict)  # the schema says so
    judged = []
    for position, item in enumerate(data["per_widget_feedback"]):
        index, shown = int(item["widget_index"]), widgets[int(item["widget_index"])].widget_type
        if item["widget_type"] != shown:
            raise InvalidEvaluation(
                f"$.per_widget_feedback[{position}]: widget {index} is a {shown}, not a {item['widget_type']}"
            )
        item = {**item, "widget_index": index, "appropriateness_score": float(item["appropriateness_score"])}
        _check_direction(position, item, widgets[index])
        judged.append(WidgetFeedback(**item))
    indexes = sorted(w.widget_index for w in judged)
    if indexes != list(range(len(widgets))):
        raise InvalidEvaluation(f"$.per_widget_feedback: evaluate each widget once; got indexes {indexes}")
    for name in ("query_understanding", "evaluation_reasoning"):
        if not data[name].strip():
            raise InvalidEvaluation(f"$.{name}: must not be blank")
    return Evaluation(
        rating=data["rating"],
        evaluation_confidence=float(data["evaluation_confidence"]),
        evaluation_reasoning=data["evaluation_reasoning"].strip(),
        query_understanding=data["query_understanding"].strip(),
        per_widget_feedback=sorted(judged, key=lambda w: w.widget_index),
        missing_widgets=list(data["missing_widgets"]),
        suggested_improvements=list(data["suggested_improvements"]),
    )


def _check_direction(position: int, item: dict, shown: WidgetChoice) -> None:
    """A direction only on a wrong size, and towards a size the widget comes in (the feedback API's rules)."""
    direction = item.get("size_direction")
    if direction is None:
        return
    where = f"$.per_widget_feedback[{position}].size_direction"
    if item["size_appropriate"] is not False:
        raise InvalidEvaluation(f"{where}: only a wrong size has a direction; size_appropriate is true")
    if next_size(shown.widget_type, shown.size, direction) is None:
        sizes = ", ".join(CATALOG[shown.widget_type].sizes)
        raise InvalidEvaluation(
            f"{where}: a {shown.widget_type} comes in {sizes}; at {shown.size} it cannot be {direction}"
        )


def _reason(error) -> str:
    """jsonschema's message, but the rule and the size where it would quote a whole long value."""
    value, rule = error.instance, f"fails {error.validator} {error.validator_value!r}"
    if error.validator in ("minItems", "maxItems", "minLength", "maxLength"):
        size = f"a string of {len(value)} characters" if isinstance(value, str) else f"{len(value)} items"
        return f"{error.json_path}: {rule} (got {size})"
    if len(error.message) > 200:
        return f"{error.json_path}: {rule} (got a {type(value).__name__})"
    return f"{error.json_path}: {error.message}"
