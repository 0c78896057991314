"""The planner model's prompt and the JSON plan it must answer with.

One format serves three places: the ``llm`` planner backend asks with it,
``bootstrap_planner`` teaches a model to answer it, and Tier 2 preference
training scores answers to it. A plan is::

    {"widgets": [{"type": "kpi", "size": "small"}, {"type": "trend_line", "size": "large"}]}

with its widgets in type order (``plan_json``).

The prompt ends with a newline after ``PLAN:`` so that no byte-level BPE
merge spans the prompt and the answer: the prompt's tokens are then exactly
the prefix of prompt + answer, which supervised and preference training
both rely on.

``parse_plan`` accepts only plans whose every widget is in the catalog, in
an allowed size, among the candidates proposed for this question, with no
repeats, at most ``MAX_WIDGETS`` of them: anything else is invalid and the
caller falls back to the rule ranking.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from layer2.planning.planner import MAX_WIDGETS, Candidate
from layer2.planning.widgets import is_valid
from layer2.understanding.intent import Intent

PLAN_START = "PLAN:"


@dataclass(frozen=True)
class PlanItem:
    widget_type: str
    size: str


def build_prompt(transcript: str, intent: dict, offered: Iterable[str], role: str | None = None) -> str:
    """The text the model continues with a JSON plan (after ``PLAN:``).

    ``intent`` is the intent as a dict (``Intent.to_dict()``, or an
    experience's ``intent``) and ``offered`` the candidate widget types, so a
    recorded experience gives back exactly the prompt it was served with.
    The asker's role (operator, engineer, manager) shapes what is useful to
    them; ``-`` when unknown.
    """
    window = intent["time_range"]["label"] if intent.get("time_range") else "-"
    lines = [
        f"QUESTION: {' '.join(transcript.split())}",
        f"INTENT: {intent['intent_type']} | type={intent.get('equipment_type') or '-'} | "
        f"ids={','.join(intent.get('equipment_ids') or []) or '-'} | "
        f"metrics={','.join(intent.get('metrics') or []) or '-'} | window={window} | agg={intent.get('aggregation')}",
        f"ROLE: {role or '-'}",
        f"WIDGETS: {' '.join(sorted(set(offered)))}",
    ]
    return "\n".join(lines) + f"\n{PLAN_START}\n"


def candidate_prompt(transcript: str, intent: Intent, candidates: list[Candidate], role: str | None = None) -> str:
    """The prompt at serving time, from the parsed intent and its candidates."""
    return build_prompt(transcript, intent.to_dict(), (c.widget_type for c in candidates), role)


def plan_json(items: list[PlanItem]) -> str:
    """The answer text for ``items`` (what supervised and preference training teach), in widget-type order.

    A plan is a set: which widgets, in which sizes. Feedback says nothing
    about order, and a language model scores sequences, so two orders of one
    plan would look like two plans to preference training. Every plan is
    therefore written in one order; the dashboard orders what was chosen
    (``layer2/planning/llm_planner.py``).
    """
    ordered = sorted(items, key=lambda i: i.widget_type)
    return json.dumps({"widgets": [{"type": i.widget_type, "size": i.size} for i in ordered]}, separators=(",", ":"))


def offered_slots(candidates: Iterable) -> frozenset[tuple[str, str]]:
    """The (widget type, size) pairs a plan may use: from ``Candidate``s or an experience's records."""
    return frozenset((c.widget_type, c.size) for c in candidates)


def parse_plan(text: str, offered: frozenset[tuple[str, str]]) -> list[PlanItem] | None:
    """The plan in ``text`` if it is valid for the ``offered`` (type, size) pairs, else None."""
    try:
        start = text.index("{")
        data, _ = json.JSONDecoder().raw_decode(text[start:])
        widgets = data["widgets"]
        items = [PlanItem(str(w["type"]), str(w["size"])) for w in widgets]
    except (ValueError, KeyError, TypeError):
        return None
    types = [i.widget_type for i in items]
    if not items or len(items) > MAX_WIDGETS or len(set(types)) != len(types):
        return None
    if not all(is_valid(i.widget_type, i.size) and (i.widget_type, i.size) in offered for i in items):
        return None
    return items
