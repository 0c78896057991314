"""The planner model's prompt and the JSON plan it must answer with.

One format serves three places: the ``llm`` planner backend asks with it,
``bootstrap_planner`` teaches a model to answer it, and Tier 2 preference
training scores answers to it. A plan is::

    {"widgets": [{"type": "kpi", "size": "small"}, {"type": "trend_line", "size": "large"}]}

``parse_plan`` accepts only plans whose every widget is in the catalog, in
an allowed size, among the candidates proposed for this question, with no
repeats, at most ``MAX_WIDGETS`` of them: anything else is invalid and the
caller falls back to the rule ranking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from layer2.intent import Intent
from layer2.planner import MAX_WIDGETS, Candidate
from layer2.widgets import is_valid

PLAN_START = "PLAN:"


@dataclass(frozen=True)
class PlanItem:
    widget_type: str
    size: str


def build_prompt(transcript: str, intent: Intent, candidates: list[Candidate], context: str = "") -> str:
    """The text the model continues with a JSON plan (after ``PLAN:``)."""
    offered = sorted({c.widget_type for c in candidates})
    lines = [
        f"QUESTION: {transcript.strip()}",
        f"INTENT: {intent.intent_type} | type={intent.equipment_type or '-'} | "
        f"ids={','.join(intent.equipment_ids) or '-'} | metrics={','.join(intent.metrics) or '-'} | "
        f"window={intent.time_range.label} | agg={intent.aggregation}",
        f"WIDGETS: {' '.join(offered)}",
    ]
    if context:
        lines.append(f"CONTEXT: {' '.join(context.split())[:600]}")
    return "\n".join(lines) + f"\n{PLAN_START} "


def plan_json(items: list[PlanItem]) -> str:
    """The answer text for ``items`` (what supervised and preference training teach)."""
    return json.dumps({"widgets": [{"type": i.widget_type, "size": i.size} for i in items]}, separators=(",", ":"))


def parse_plan(text: str, candidates: list[Candidate]) -> list[PlanItem] | None:
    """The plan in ``text`` if it is valid for these candidates, else None."""
    try:
        start = text.index("{")
        data, _ = json.JSONDecoder().raw_decode(text[start:])
        widgets = data["widgets"]
        items = [PlanItem(str(w["type"]), str(w["size"])) for w in widgets]
    except (ValueError, KeyError, TypeError):
        return None
    offered = {(c.widget_type, c.size) for c in candidates}
    types = [i.widget_type for i in items]
    if not items or len(items) > MAX_WIDGETS or len(set(types)) != len(types):
        return None
    if not all(is_valid(i.widget_type, i.size) and (i.widget_type, i.size) in offered for i in items):
        return None
    return items
