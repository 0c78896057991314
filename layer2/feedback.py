"""Feedback, from an operator's thumb or the judge's evaluation, onto its experience."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from layer2.errors import InvalidFeedback
from layer2.models import WidgetRating
from layer2.planning.widgets import CATALOG, next_size
from rl.experiences.buffer import ExperienceBuffer
from rl.experiences.records import Experience, Feedback, WidgetChoice, WidgetFeedback


def record_feedback(*, buffer: ExperienceBuffer, query_id: str, feedback: Feedback, user=None) -> Experience:
    """Attach ``feedback`` to the experience ``query_id`` (any worker's) and keep a ``WidgetRating`` row.

    Raises ``ExperienceNotFound`` for an unknown id and ``InvalidFeedback``
    when per-widget feedback names a widget the answer did not have (an index past its widgets, or a type
    other than the one shown at that index), or a ``size_direction`` the widget has no size for (smaller than
    its smallest, larger than its largest). A ``feedback_id`` already recorded on this answer (a retried request)
    changes nothing and returns the experience as it is.
    """
    experience = buffer.get(query_id)
    for item in feedback.per_widget_feedback:
        _check_widget(item.widget_index, item.widget_type, experience)
        _check_direction(item, experience.widgets[item.widget_index])
    try:
        with transaction.atomic():  # the row and the store's line together: a failed store write leaves no row
            WidgetRating.objects.create(
                query_id=query_id,
                feedback_id=feedback.feedback_id,
                rating=feedback.rating,
                source=feedback.source,
                user=user if user is not None and user.is_authenticated else None,
                transcript=experience.transcript,
                evaluation_confidence=feedback.evaluation_confidence,
                evaluation_reasoning=feedback.evaluation_reasoning or "",
                query_understanding=feedback.query_understanding or "",
                per_widget_feedback=[vars(w) for w in feedback.per_widget_feedback],
                missing_widgets=feedback.missing_widgets,
                suggested_improvements=feedback.suggested_improvements,
            )
            return buffer.update_feedback(query_id, feedback)
    except IntegrityError:  # a retry (same feedback_id, any host): its row stands, and the store ignores it too
        return buffer.update_feedback(query_id, feedback)


def _check_widget(index: int, widget_type: str, experience: Experience) -> None:
    shown = experience.widgets
    if not 0 <= index < len(shown):
        raise InvalidFeedback(
            "per_widget_feedback", f"widget_index {index} is out of range: the answer had {len(shown)} widgets"
        )
    if shown[index].widget_type != widget_type:
        raise InvalidFeedback(
            "per_widget_feedback",
            f"widget {index} of this answer is a {shown[index].widget_type}, not a {widget_type}",
        )


def _check_direction(item: WidgetFeedback, shown: WidgetChoice) -> None:
    direction = item.size_direction
    if direction is not None and next_size(shown.widget_type, shown.size, direction) is None:
        end = "smallest" if direction == "smaller" else "largest"
        raise InvalidFeedback(
            "per_widget_feedback",
            f"widget {item.widget_index} is a {shown.widget_type} at {shown.size}, its {end} size (it comes in "
            f"{', '.join(CATALOG[shown.widget_type].sizes)}): it cannot be {direction}",
        )
