"""Size verdicts that say which way: the examples they give, and Tier 1 finding a size the rules never choose."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from layer2.orchestrator import Orchestrator
from layer2.planning.planner import candidates
from layer2.planning.widgets import SIZES
from layer2.services import submit_feedback
from layer2.understanding.intent import parse_intent
from rl.experiences.buffer import ExperienceBuffer
from rl.experiences.records import CandidateRecord, Experience, Feedback, WidgetChoice, WidgetFeedback
from rl.experiences.reward import MISSING_BONUS, SIZE_ORDER, WidgetReward, widget_rewards
from rl.tier1.scorer import Tier1Config, Tier1Learner, Tier1Ranker
from rl.tier1.service import Tier1Service, install

NOW = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)
QUESTION = "show pump 1 vibration"
OFFERED = [("kpi", "small", 0.95), ("kpi", "medium", 0.8), ("trend_line", "medium", 0.7), ("trend_line", "large", 0.55),
           ("gauge", "small", 0.6), ("gauge", "medium", 0.45)]  # fmt: skip


def answered(*verdicts: WidgetFeedback, missing: tuple[str, ...] = ()) -> Experience:
    """A status answer: a kpi (small) and a trend (medium), with the kpi and the trend's other sizes on offer."""
    return Experience(
        "c" * 32, QUESTION, {"intent_type": "status", "equipment_type": "pump", "metrics": ["vibration_mm_s"]},
        [WidgetChoice("kpi", "small", "", ["pump_001"], "vibration_mm_s", 0.6, 0.6),
         WidgetChoice("trend_line", "medium", "", ["pump_001"], "vibration_mm_s", 0.5, 0.35)],
        [CandidateRecord(t, size, "vibration_mm_s", rule) for t, size, rule in OFFERED],
        "", 1.0, {}, {}, "rules", "tier1", NOW,
        Feedback("down", 0.8, per_widget_feedback=list(verdicts), missing_widgets=list(missing), received_at=NOW),
        user_role="engineer",
    )  # fmt: skip


def test_the_reward_modules_size_order_is_the_catalogs():
    assert SIZE_ORDER == SIZES  # a frozen copy: rl.experiences may not import layer2


def test_a_wrong_size_with_a_direction_credits_the_neighbour_that_way_and_debits_the_shown_one():
    larger = widget_rewards(answered(WidgetFeedback(1, "trend_line", 1.0, False, size_direction="larger")))
    assert [(e.widget_type, e.size) for e in larger] == [("kpi", "small"), ("trend_line", "medium"),
                                                         ("trend_line", "large")]  # fmt: skip
    assert larger[1].reward == pytest.approx(0.6 - 0.4) and larger[2].reward == pytest.approx(0.6 + 0.4)
    assert (larger[2].propensity, larger[2].rule_score) == (None, 0.55)  # not drawn; the neighbour's rule score

    # Without a direction, as before: only the shown size, debited.
    undirected = widget_rewards(answered(WidgetFeedback(1, "trend_line", 1.0, False)))
    assert [(e.widget_type, e.size) for e in undirected] == [("kpi", "small"), ("trend_line", "medium")]
    assert undirected[1] == larger[1]
    # A neighbour the answer was not offered (a trend smaller than medium; a kpi larger, in a record without it).
    assert len(widget_rewards(answered(WidgetFeedback(1, "trend_line", 1.0, False, size_direction="smaller")))) == 2
    bare = answered(WidgetFeedback(0, "kpi", 0.5, False, size_direction="larger"))
    bare = replace(bare, candidates=[c for c in bare.candidates if c.size != "medium"])
    assert [(e.widget_type, e.size) for e in widget_rewards(bare)] == [("kpi", "small"), ("trend_line", "medium")]


def test_a_missing_widget_is_credited_at_the_size_the_scorer_learned_the_role_prefers(tmp_path):
    experience = answered(missing=("gauge",))
    learner = Tier1Learner(Tier1Config(seed=1))
    service = Tier1Service(learner, ExperienceBuffer(tmp_path / "experiences.jsonl"), tmp_path)
    assert widget_rewards(experience)[-1] == WidgetReward("gauge", "small", "vibration_mm_s", MISSING_BONUS, None, 0.6)
    assert service.examples(experience)[-1].size == "small"  # untrained: the rules' size

    gauges = [WidgetReward("gauge", "medium", "vibration_mm_s", 1.0, None, 0.45),
              WidgetReward("gauge", "small", "vibration_mm_s", -0.5, None, 0.6)]  # fmt: skip
    for _ in range(150):  # engineers' verdicts on gauges: medium, not small
        learner.learn(experience.intent, gauges, role="engineer")
    assert service.examples(experience)[-1] == WidgetReward(
        "gauge", "medium", "vibration_mm_s", MISSING_BONUS, None, 0.45
    )
    assert widget_rewards(experience)[-1].size == "small"  # the default is still the rules'


ROUNDS = 10
SEEDS = range(4)
WANTED = "full"  # engineers want the trend full width; the rules show it at medium for a status question


def rate_the_trends_size(answer, *, directed: bool) -> Feedback:
    """An engineer's verdict: the trend is what they want, at full width (and missing if not shown); the rest is
    secondary, its size unsaid. ``directed``: a wrong size says which way (always larger: full is the largest)."""
    judged = []
    for i, w in enumerate(answer.widgets):
        if w.widget_type != "trend_line":
            judged.append(WidgetFeedback(i, w.widget_type, 0.3))
            continue
        right = w.size == WANTED
        judged.append(WidgetFeedback(i, w.widget_type, 1.0, right, size_direction=None if right or not directed
                                     else "larger"))  # fmt: skip
    missing = [] if any(w.widget_type == "trend_line" for w in answer.widgets) else ["trend_line"]
    return Feedback("down", 0.9, per_widget_feedback=judged, missing_widgets=missing, received_at=NOW,
                    source="judge:test")  # fmt: skip


def trend_size(learner: Tier1Learner, serving) -> str | None:
    parsed = parse_intent(transcript=QUESTION, vocabulary=serving.vocabulary(), now=NOW).intent
    offered = candidates(intent=parsed, vocabulary=serving.vocabulary())
    plan = Tier1Ranker(learner, explore=False).choose(parsed, offered, 4, role="engineer")
    return next((c.candidate.size for c in plan if c.candidate.widget_type == "trend_line"), None)


def trend_sizes_learned(serving, tmp_path, *, directed: bool) -> list[str | None]:
    """The greedy trend size for engineers after ROUNDS rated answers, for each of SEEDS."""
    learned = []
    for seed in SEEDS:
        learner = Tier1Learner(Tier1Config(seed=seed))
        install(Tier1Service(learner, serving.buffer, tmp_path / f"{directed}-{seed}"))
        try:
            assert trend_size(learner, serving) == "medium"  # untrained: the rules' size
            tier1 = Orchestrator(serving.access, serving.buffer, ranker=Tier1Ranker(learner))
            for _ in range(ROUNDS):
                answer = tier1.answer(QUESTION, role="engineer")
                submit_feedback(buffer=serving.buffer, query_id=answer.query_id,
                                feedback=rate_the_trends_size(answer, directed=directed))  # fmt: skip
        finally:
            install(None)
        learned.append(trend_size(learner, serving))
    return learned


def test_told_which_way_tier1_finds_a_size_two_steps_from_the_rules_in_a_few_verdicts(db, serving, tmp_path):
    """Exploration alone finds it too, given time (12 to over 40 answers on these seeds); told "larger", Tier 1
    credits the next size up with each verdict and shows the trend full width within ten answers."""
    directed = trend_sizes_learned(serving, tmp_path, directed=True)
    undirected = trend_sizes_learned(serving, tmp_path, directed=False)
    assert directed == [WANTED] * len(SEEDS)
    assert undirected.count(WANTED) < len(SEEDS), undirected
