"""Rewards from feedback: a plan-level reward and, where the judge scored widgets, per-widget rewards.

**Basic reward** (a thumb alone): +1 for up, −1 for down.

**Extended reward** (a rich evaluation), in [−1.1, 0.8]::

    R = 0.2 · s · c                 evaluation confidence: the verdict's sign s (+1 up, −1 down),
                                    scaled by how sure the judge is (c in 0..1)
      + 0.4 · (2 · ā − 1)           per-widget appropriateness: ā the mean score (0..1) mapped to −1..1
      − 0.3 · min(m, 3) / 3         missing-widget penalty: m widgets the judge wanted and did not get
      + 0.2 · (2 · f − 1)           size appropriateness: f the share of widgets whose size was right

A term whose inputs the evaluation lacks contributes 0 (no per-widget
scores: no appropriateness or size term).

**Per-widget reward** for widget i with per-widget feedback, in [−1, 1]::

    r_i = 0.6 · (2 · a_i − 1) + 0.4 · (+1 if size right, −1 if wrong, 0 if unsaid)

and without it r_i = the plan's reward (basic or extended). Tier 1 learns
from one example per shown widget, plus:

* for a wrong size with a direction (``size_direction``: ``smaller`` or
  ``larger``), the neighbouring size that way, at the reward widget i would
  have had at the right size: ``0.6 · (2 · a_i − 1) + 0.4``. The shown size
  keeps its −0.4, so the pair says which way to move, not only "not this one";
  a neighbour the answer was not offered gives no example.
* for each missing widget that was among the candidates, a positive example
  (``MISSING_BONUS``) at one of its offered sizes: the one ``missing_size``
  picks (Tier 1: the size its scorer predicts the asker's role prefers, which
  the size verdicts taught it), by default the rules' best.

**Implicit reward** (how the asker used the answer, ``Experience.signals``): a
weak example per shown widget i of n, weighted ``w`` (``TIER1_IMPLICIT_WEIGHT``)
in the loss where an explicit example weighs 1::

    δ_i = clip(n · v_i / Σv − 1, −1, 1)      viewing time v_i against the answer's other widgets (n ≥ 2)
        + 0.2 if the widget was expanded

Viewing time says which of an answer's widgets served better, not whether the
answer was good, so these examples are *relative*: when first learned, widget
i's target becomes the answer's mean predicted reward then plus ``δ_i − mean δ``
(``Tier1Learner.anchored``), teaching the order of the answer's widgets, not
their level.
An answer asked again in other words did not satisfy: its examples are
absolute, ``r_i = clip(δ_i − 0.5, −1, 1)`` (``δ_i`` 0 for a lone widget).
Without a rephrase, an answer of one widget, or one never on screen and never
expanded, gives no example.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rl.experiences.records import CandidateRecord, Experience, Feedback, WidgetChoice, WidgetFeedback

CONFIDENCE_WEIGHT = 0.2
APPROPRIATENESS_WEIGHT = 0.4
MISSING_PENALTY = 0.3
SIZE_WEIGHT = 0.2
MISSING_CAP = 3
WIDGET_SCORE_WEIGHT = 0.6
WIDGET_SIZE_WEIGHT = 0.4
MISSING_BONUS = 0.5
EXPANSION_BONUS = 0.2
REPHRASE_PENALTY = 0.5
# The widget catalog's sizes, smallest first: a frozen copy of layer2.planning.widgets.SIZES, which this layer may not
# import (tests/rl/tier1/test_size_feedback.py fails as soon as the two differ).
SIZE_ORDER = ("small", "medium", "large", "full")


@dataclass(frozen=True)
class WidgetReward:
    """One training example: a widget (type, size) for an experience's intent, and its reward."""

    widget_type: str
    size: str
    metric: str | None
    reward: float
    propensity: float | None  # None for examples the policy did not choose (a missing widget)
    rule_score: float
    weight: float = 1.0  # in the loss: 1 for feedback, TIER1_IMPLICIT_WEIGHT for implicit signals
    relative: bool = False  # the reward is an offset within its experience's examples (implicit signals), see above


def basic_reward(rating: str | None) -> float:
    return {"up": 1.0, "down": -1.0}.get(rating or "", 0.0)


def plan_reward(feedback: Feedback | None) -> float:
    """The extended reward when the feedback is rich, else the basic one."""
    if feedback is None:
        return 0.0
    if not feedback.is_rich:
        return basic_reward(feedback.rating)
    reward = 0.0
    if feedback.evaluation_confidence is not None:
        reward += CONFIDENCE_WEIGHT * basic_reward(feedback.rating) * feedback.evaluation_confidence
    scores = [w.appropriateness_score for w in feedback.per_widget_feedback if w.appropriateness_score is not None]
    if scores:
        reward += APPROPRIATENESS_WEIGHT * (2 * sum(scores) / len(scores) - 1)
    reward -= MISSING_PENALTY * min(len(feedback.missing_widgets), MISSING_CAP) / MISSING_CAP
    sizes = [w.size_appropriate for w in feedback.per_widget_feedback if w.size_appropriate is not None]
    if sizes:
        reward += SIZE_WEIGHT * (2 * sum(sizes) / len(sizes) - 1)
    return reward


MissingSize = Callable[[Sequence[CandidateRecord]], CandidateRecord]


def rules_best(offered: Sequence[CandidateRecord]) -> CandidateRecord:
    """The offered size with the best rule score: the size a missing widget is credited at without a learner."""
    return max(offered, key=lambda c: c.rule_score)


def widget_rewards(experience: Experience, *, missing_size: MissingSize = rules_best) -> list[WidgetReward]:
    """Training examples from an experience's feedback (empty without feedback); see the module docstring.

    ``missing_size`` picks, of a missing widget's offered sizes, the one its example credits.
    """
    feedback = experience.feedback
    if feedback is None:
        return []
    overall = plan_reward(feedback)
    per_widget = {w.widget_index: w for w in feedback.per_widget_feedback}
    rule_scores = {(c.widget_type, c.size, c.metric): c.rule_score for c in experience.candidates}
    examples = []
    for i, widget in enumerate(experience.widgets):
        judged = per_widget.get(i)
        reward = overall if judged is None else _judged_reward(judged.appropriateness_score, judged.size_appropriate)
        rule = rule_scores.get((widget.widget_type, widget.size, widget.metric), 0.0)
        examples.append(WidgetReward(widget.widget_type, widget.size, widget.metric, reward, widget.propensity, rule))
        if judged is not None and (resized := _resized(widget, judged, rule_scores)) is not None:
            examples.append(resized)
    shown = {w.widget_type for w in experience.widgets}
    for missing in dict.fromkeys(feedback.missing_widgets):
        offered = [c for c in experience.candidates if c.widget_type == missing and missing not in shown]
        if offered:
            credited = missing_size(offered)
            examples.append(
                WidgetReward(missing, credited.size, credited.metric, MISSING_BONUS, None, credited.rule_score)
            )
    return examples


def _resized(widget: WidgetChoice, judged: WidgetFeedback, rule_scores: dict[tuple, float]) -> WidgetReward | None:
    """The example of a wrong size's neighbour in the direction said, at the right size's reward; None without a
    direction, or when the answer was not offered that size (a widget's sizes are consecutive in ``SIZE_ORDER``)."""
    if judged.size_appropriate is not False or judged.size_direction is None or widget.size not in SIZE_ORDER:
        return None
    neighbour = SIZE_ORDER.index(widget.size) + (1 if judged.size_direction == "larger" else -1)
    size = SIZE_ORDER[neighbour] if 0 <= neighbour < len(SIZE_ORDER) else None
    rule = rule_scores.get((widget.widget_type, size, widget.metric))
    if rule is None:
        return None
    reward = _judged_reward(judged.appropriateness_score, True)
    return WidgetReward(widget.widget_type, size, widget.metric, reward, None, rule)


def signal_rewards(experience: Experience, *, weight: float) -> list[WidgetReward]:
    """Weak training examples from how the asker used the answer (empty without signals, or at weight 0)."""
    signals, shown = experience.signals, experience.widgets
    if weight <= 0 or signals is None or not shown:
        return []
    reported = {w.widget_index: w for w in signals.widgets if w.widget_index < len(shown)}
    total = sum(w.visible_ms for w in reported.values())
    expanded = {i for i, w in reported.items() if w.expansions > 0}
    compared = len(shown) >= 2 and (total > 0 or bool(expanded))
    if not (compared or signals.rephrased):
        return []
    rule_scores = {(c.widget_type, c.size, c.metric): c.rule_score for c in experience.candidates}
    examples = []
    for i, widget in enumerate(shown):
        offset = 0.0
        if compared:
            viewed = reported[i].visible_ms if i in reported else 0.0
            offset = (_clip(len(shown) * viewed / total - 1) if total > 0 else 0.0) + EXPANSION_BONUS * (i in expanded)
        reward = _clip(offset - REPHRASE_PENALTY) if signals.rephrased else offset
        rule = rule_scores.get((widget.widget_type, widget.size, widget.metric), 0.0)
        examples.append(
            WidgetReward(widget.widget_type, widget.size, widget.metric, reward, widget.propensity, rule,
                         weight=weight, relative=not signals.rephrased)
        )  # fmt: skip
    return examples


def _clip(value: float) -> float:
    return max(-1.0, min(1.0, value))


def _judged_reward(score: float | None, size_right: bool | None) -> float:
    appropriateness = 0.0 if score is None else WIDGET_SCORE_WEIGHT * (2 * score - 1)
    size = 0.0 if size_right is None else WIDGET_SIZE_WEIGHT * (1.0 if size_right else -1.0)
    return appropriateness + size
