"""What both experience stores share: how feedback and signals fold into an experience, what their stats
report, and the error for an unknown answer.

The journal (``rl/experiences/buffer.py``) folds its lines and the shared PostgreSQL store
(``rl/experiences/pg_store.py``) folds its rows with these same functions, so the two read alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from rl.experiences.records import Experience, Feedback, ImplicitSignals

OPERATOR = "operator"  # a feedback's source when a person gave it; judges are "judge:<name>"


class ExperienceNotFound(LookupError):
    def __init__(self, query_id: str):
        self.query_id = query_id
        super().__init__(f"no experience with query_id {query_id!r}")


@dataclass(frozen=True)
class BufferStats:
    size: int
    with_feedback: int
    with_evaluation: int
    journal_bytes: int
    # Experiences with an evaluation by where it came from: {"judge:claude": 12, "operator": 1}. A judge's
    # evaluation under an operator's thumb counts as the judge's until a compaction merges the two records.
    evaluations_by_source: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalsStats:
    """How answers were used, over the experiences held: what ``rl-status`` reports under ``signals``."""

    answers: int  # experiences with any signal (a console report or a rephrase)
    reported: int  # ... with a console report
    rephrased: int  # ... asked again in other words soon after
    widgets_reported: int  # widgets in those reports
    mean_visible_ms: float | None  # per reported widget
    mean_visible_ms_by_type: dict[str, float] = field(default_factory=dict)
    mean_next_question_after_ms: float | None = None  # over reports that carried one


def merge_feedback(old: Feedback | None, new: Feedback) -> Feedback:
    """Fold a later feedback into the earlier one.

    The rich fields are the newest evaluation's: a rating alone does not erase
    one (a thumb after the judge). The rating is the newest operator's: a
    judge's rating stands only until an operator rates, and a judge's
    evaluation posted after an operator's thumb adds its fields under that
    thumb rather than overwriting it. ``source`` names who gave the rating.
    """
    if old is None:
        return new
    rater = old if old.source == OPERATOR and new.source != OPERATOR else new
    evaluation = new if new.is_rich or not old.is_rich else old
    return replace(evaluation, rating=rater.rating, source=rater.source, received_at=new.received_at)


def merge_signals(old: ImplicitSignals | None, new: ImplicitSignals) -> ImplicitSignals:
    """Fold later signals into earlier ones: a console report replaces the earlier report (its totals include
    what that one counted); ``rephrased`` stays once set. A record without a report (``reported_at`` None, the
    server's rephrase note) leaves the report as it was."""
    if old is None:
        return new
    report = new if new.reported_at is not None else old
    return replace(report, rephrased=old.rephrased or new.rephrased)


def fold(
    experience: Experience, *, feedback: Iterable[Feedback], report: ImplicitSignals | None, rephrased: bool
) -> Experience:
    """``experience`` as added, with its later ``feedback`` folded in order, its newest console ``report``, and
    ``rephrased`` once any record said so: how both stores read an experience."""
    folded = experience.feedback
    for later in feedback:
        folded = merge_feedback(folded, later)
    signals = experience.signals
    if report is not None:
        signals = merge_signals(signals, report)
    if rephrased:
        signals = merge_signals(signals, ImplicitSignals(rephrased=True))
    return replace(experience, feedback=folded, signals=signals)
