"""The Claude judge's rubric: what it is shown of an answer and how it is asked to score it.

The prompt holds the operator's question, the parsed intent, the widget plan
(type, size, title, equipment, metric and the data each widget showed), the
spoken answer, the data summary recorded with the experience, the widget
types that were on offer, and the catalog. The operator's own thumb, if
any, is left out so the judge is not led by it.
"""

from __future__ import annotations

import json

from layer2.planning.widgets import CATALOG, SIZE_COLUMNS
from rl.experiences.records import Experience

SYSTEM_PROMPT = """\
You review answers given by an operations assistant at an industrial plant. An operator asks a question \
(often spoken, so the transcript may be rough); the assistant parses it into an intent, shows a dashboard \
of widgets on a 12-column grid and speaks a short answer. Judge whether the dashboard and the spoken answer \
serve the operator: the right equipment and metric, the right kind of widget, sensible sizes, and numbers \
that agree with the data. Be specific and strict; reward what is right as plainly as you flag what is wrong. \
Answer with the evaluation alone, as one JSON object in the schema you are given."""

RUBRIC = f"""\
## How to evaluate

1. query_understanding: in one or two sentences, what the operator wanted (equipment, metric, time window, \
aggregation), and whether the intent above captured it. Name any misreading.
2. per_widget_feedback: one entry per widget, in order (widget_index 0 to n-1, widget_type as shown).
   - appropriateness_score from 0 to 1: 1 = exactly what this question needs; 0.7 = useful support; \
0.4 = loosely related; 0 to 0.2 = the wrong equipment or metric, empty, or irrelevant.
   - size_appropriate: is its width right for what it shows? Sizes: \
{", ".join(f"{size} = {cols} columns" for size, cols in SIZE_COLUMNS.items())}. A single number needs little \
room; a chart over time or many series needs a wide one; a fleet grid needs the full width.
   - size_direction, only when size_appropriate is false: "smaller" or "larger", the way it should change \
(to a size that widget comes in; leave it out when unsure).
   - issues and strengths: short, concrete phrases (empty lists if none).
3. missing_widgets: widget types from the catalog that the dashboard should have shown and did not \
(prefer types that were on offer). Show active alerts when the operator asks about equipment that has them.
4. suggested_improvements: concrete changes, most important first (an empty list if none).
5. evaluation_reasoning: why you rate it as you do, citing the numbers and widgets you checked. A number in \
the spoken answer that the data does not support is a serious fault.
6. rating: "up" if an operator would be well served by this answer as it is, otherwise "down".
7. evaluation_confidence from 0 to 1: how sure you are of this evaluation given what you can see."""


def rubric_prompt(experience: Experience) -> str:
    """The user message for one experience."""
    sections = [
        ("The operator's question", json.dumps(experience.transcript, ensure_ascii=False)),
        ("How the assistant understood it (intent)", json.dumps(experience.intent, indent=1, ensure_ascii=False)),
        (f"The dashboard it showed ({len(experience.widgets)} widgets)", _plan(experience)),
        ("What it said", json.dumps(experience.voice_response, ensure_ascii=False)),
        (
            "The data behind the widgets (summary recorded with the answer)",
            json.dumps(experience.data_summary, indent=1, ensure_ascii=False, default=str),
        ),
        ("Widget types that were on offer for this question", _offered(experience)),
        ("Widget catalog", _catalog()),
    ]
    body = "\n\n".join(f"## {title}\n{text}" for title, text in sections)
    return f"{body}\n\n{RUBRIC}"


def _plan(experience: Experience) -> str:
    if not experience.widgets:
        return "(no widgets: the assistant showed nothing)"
    lines = []
    for i, w in enumerate(experience.widgets):
        where = ", ".join(w.equipment_ids) or "fleet or plant level"
        data = experience.data_summary.get(f"{i}:{w.widget_type}")
        shown = f"; data: {json.dumps(data, ensure_ascii=False)}" if data is not None else ""
        lines.append(f'{i}. {w.widget_type}, {w.size}: "{w.title}"; equipment: {where}; metric: {w.metric}{shown}')
    return "\n".join(lines)


def _offered(experience: Experience) -> str:
    sizes: dict[str, list[str]] = {}
    for c in experience.candidates:
        sizes.setdefault(c.widget_type, [])
        if c.size not in sizes[c.widget_type]:
            sizes[c.widget_type].append(c.size)
    return ", ".join(f"{t} ({'/'.join(s)})" for t, s in sizes.items()) or "(none)"


def _catalog() -> str:
    return "\n".join(f"- {w.name} ({', '.join(w.sizes)}): {w.description}" for w in CATALOG.values())
