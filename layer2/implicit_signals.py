"""How the asker used an answer, short of rating it: the console's implicit signals and a question asked again.

Two sources, one record (``rl.experiences.records.ImplicitSignals``) kept with the experience in the journal:

* **The console** reports, per answer, its totals so far: how long each widget was on screen, how often it was
  expanded or hovered, and how long until the next question. ``record_signals`` checks the report against the
  answer (each widget named must be the widget shown at that index) and stores it; a later report replaces the
  earlier one, so a retried post never counts twice.
* **A rephrase**: a question in the same conversation, within ``REPHRASE_WINDOW_SECONDS`` of the turn before,
  in other words but asking the same thing (the same intent type, equipment ids, equipment type and metrics,
  and the same window and aggregation, so "what about last month?" is a new question, not a repeat) marks the
  previous answer ``rephrased``: it evidently did not satisfy. ``note_rephrase`` decides from the conversation's
  last turn alone (``TurnContext``), so it reads nothing from the journal.

Tier 1 may learn both as weak rewards (``TIER1_IMPLICIT_WEIGHT``; ``rl/experiences/reward.signal_rewards``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from layer2.errors import InvalidFeedback
from layer2.understanding.followup import TurnContext
from layer2.understanding.intent import Intent
from rl.experiences.buffer import ExperienceBuffer, ExperienceNotFound
from rl.experiences.records import Experience, ImplicitSignals

FIELD = "widgets"  # the request field a report's widget errors name


def record_signals(*, buffer: ExperienceBuffer, query_id: str, signals: ImplicitSignals) -> Experience:
    """Store the console's report ``signals`` on answer ``query_id`` (any worker's); returns the experience.

    Raises ``ExperienceNotFound`` for an unknown id and ``InvalidFeedback`` (naming ``widgets``) for a widget the
    answer did not have at that index, or one reported twice.
    """
    experience = buffer.get(query_id)
    shown, seen = experience.widgets, set()
    for widget in signals.widgets:
        index = widget.widget_index
        if not 0 <= index < len(shown):
            raise InvalidFeedback(FIELD, f"widget_index {index} is out of range: the answer had {len(shown)} widgets")
        if shown[index].widget_type != widget.widget_type:
            raise InvalidFeedback(
                FIELD, f"widget {index} of this answer is a {shown[index].widget_type}, not a {widget.widget_type}"
            )
        if index in seen:
            raise InvalidFeedback(FIELD, f"widget_index {index} is reported twice")
        seen.add(index)
    return buffer.record_signals(query_id, signals)


def note_rephrase(
    *,
    buffer: ExperienceBuffer,
    previous: TurnContext | None,
    transcript: str,
    intent: Intent,
    asked_at: datetime,
    window: timedelta,
) -> str | None:
    """Mark the previous turn's answer ``rephrased`` if this question asks it again; returns its query id, or None."""
    if not is_rephrase(previous=previous, transcript=transcript, intent=intent, asked_at=asked_at, window=window):
        return None
    try:
        buffer.record_signals(previous.query_id, ImplicitSignals(rephrased=True))
    except ExperienceNotFound:
        return None  # evicted since: nothing to mark
    return previous.query_id


def is_rephrase(
    *, previous: TurnContext | None, transcript: str, intent: Intent, asked_at: datetime, window: timedelta
) -> bool:
    """True when ``transcript`` (read as ``intent``), asked at ``asked_at``, asks again what the turn before did."""
    if previous is None or previous.query_id is None or previous.answered_at is None:
        return False  # a first turn, or a turn recorded before answers were named in the conversation
    if not timedelta(0) <= asked_at - previous.answered_at <= window:
        return False
    if _words(transcript) == _words(previous.transcript or ""):
        return False  # the same words again: a refresh, not a rephrase
    before = previous.intent
    if intent.refusal or before.refusal:
        return False
    return _asks(intent) == _asks(before)


def _asks(intent: Intent) -> tuple:
    """What a question asks, for telling a rephrase: the same of these is the same question."""
    return (
        intent.intent_type,
        tuple(sorted(intent.equipment_ids)),
        intent.equipment_type,
        tuple(sorted(intent.metrics)),
        intent.aggregation,
        intent.time_range.label,
    )


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())
