"""Implicit signals as Tier 1's weak rewards: the formula, their weight in the loss, nothing at weight 0, once per
answer when settled, and a scorer that moves toward the widgets the asker looks at longest."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
import torch

from layer2.implicit_signals import record_signals
from layer2.orchestrator import Orchestrator
from layer2.planning.planner import candidates
from layer2.understanding.intent import parse_intent
from rl.experiences.buffer import ExperienceBuffer
from rl.experiences.records import CandidateRecord, Experience, ImplicitSignals, WidgetChoice, WidgetSignals
from rl.experiences.reward import EXPANSION_BONUS, REPHRASE_PENALTY, WidgetReward, signal_rewards
from rl.tier1.features import intent_features, widget_features
from rl.tier1.scorer import Tier1Config, Tier1Learner, Tier1Ranker
from rl.tier1.service import ServiceConfig, Tier1Service

NOW = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)
QUESTION = "show pump 1 vibration"


def answered(signals: ImplicitSignals | None, widgets: int = 2) -> Experience:
    shown = [WidgetChoice("kpi", "small", "", ["pump_001"], None, 0.7, 0.9),
             WidgetChoice("table", "medium", "", ["pump_001"], None, 0.5, 0.4)][:widgets]  # fmt: skip
    return Experience(
        "b" * 32, QUESTION, {"intent_type": "status", "equipment_type": "pump", "metrics": []}, shown,
        [CandidateRecord("kpi", "small", None, 0.95), CandidateRecord("table", "medium", None, 0.4)],
        "", 1.0, {}, {}, "rules", "tier1", NOW, signals=signals,
    )  # fmt: skip


def report(*visible_ms: float, expanded: tuple[int, ...] = ()) -> ImplicitSignals:
    types = ("kpi", "table")
    widgets = [WidgetSignals(i, types[i], ms, int(i in expanded), 0) for i, ms in enumerate(visible_ms)]
    return ImplicitSignals(widgets=widgets, next_question_after_ms=9000.0, reported_at=NOW)


# --------------------------------------------------------------------------- the reward


def test_signal_rewards_follow_the_documented_formula():
    examples = signal_rewards(answered(report(3000.0, 1000.0, expanded=(1,))), weight=0.3)
    assert [(e.widget_type, e.size) for e in examples] == [("kpi", "small"), ("table", "medium")]
    # n · v_i / Σv − 1 with n = 2: 2 · 3/4 − 1 = 0.5 and 2 · 1/4 − 1 = −0.5, plus the expansion bonus; relative
    assert [e.reward for e in examples] == pytest.approx([0.5, -0.5 + EXPANSION_BONUS])
    assert {(e.weight, e.relative) for e in examples} == {(0.3, True)} and [e.rule_score for e in examples] == [
        0.95,
        0.4,
    ]
    again = signal_rewards(answered(replace(report(3000.0, 1000.0), rephrased=True)), weight=0.3)
    assert [e.reward for e in again] == pytest.approx([0.5 - REPHRASE_PENALTY, -1.0])  # clipped at −1
    assert {e.relative for e in again} == {False}  # asked again: an absolute verdict on the answer
    assert [e.reward for e in signal_rewards(answered(report(0.0, 9e6)), weight=1)] == [-1.0, 1.0]


def test_no_weak_example_without_signals_at_weight_0_or_where_no_term_speaks():
    assert signal_rewards(answered(report(3000.0, 1000.0)), weight=0.0) == []
    assert signal_rewards(answered(None), weight=0.5) == []
    assert signal_rewards(answered(report(3000.0), widgets=1), weight=0.5) == []  # one widget: nothing to compare
    assert signal_rewards(answered(report(0.0, 0.0)), weight=0.5) == []  # never on screen: no time to share
    [alone] = signal_rewards(answered(ImplicitSignals(rephrased=True), widgets=1), weight=0.5)
    assert (alone.reward, alone.relative) == (-REPHRASE_PENALTY, False)


def test_relative_examples_are_anchored_at_the_answers_level_and_teach_only_the_gap(full_plant_vocabulary):
    intent = parse_intent(transcript=QUESTION, vocabulary=full_plant_vocabulary, now=NOW).intent.to_dict()
    pair = [WidgetReward("gauge", "small", "vibration_mm_s", 0.5, 0.5, 0.6, weight=0.5, relative=True),
            WidgetReward("table", "large", None, -0.5, 0.5, 0.3, weight=0.5, relative=True)]  # fmt: skip
    learner = Tier1Learner(Tier1Config(seed=2))

    def predicted() -> np.ndarray:  # (2,) the pair's predicted rewards
        q = torch.from_numpy(intent_features(intent, None)).expand(len(pair), -1)
        w = torch.from_numpy(np.stack([widget_features(e.widget_type, e.size, e.rule_score, e.metric in
                                                       intent["metrics"]) for e in pair]))  # fmt: skip
        with torch.no_grad():
            return learner.model(q, w).numpy()

    start = predicted()
    anchored = learner.anchored(intent, pair)
    assert [e.relative for e in anchored] == [False, False]
    assert [e.reward for e in anchored] == pytest.approx([start.mean() + 0.5, start.mean() - 0.5], abs=1e-6)
    shifted = learner.anchored(intent, [replace(e, reward=e.reward - 0.8) for e in pair])
    assert [e.reward for e in shifted] == pytest.approx([e.reward for e in anchored])  # only the gap counts
    for _ in range(300):  # replayed as anchored: the level it had, the gap the asker's eyes gave
        learner.learn(intent, anchored, feedback=False)
    end = predicted()
    assert abs(start[0] - start[1]) < 0.5 and end[0] - end[1] == pytest.approx(1.0, abs=0.1)
    assert end.mean() == pytest.approx(start.mean(), abs=0.05)


def test_the_service_refuses_a_weight_outside_0_to_1():
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="implicit_weight"):
            ServiceConfig(implicit_weight=bad)
    with pytest.raises(ValueError, match="signals_settle_seconds"):
        ServiceConfig(signals_settle_seconds=-1)


# --------------------------------------------------------------------------- learning them


FAVOURITE = "gauge"  # shown by the rules' plan for the question (third), never first


def ask_and_view(orchestrator: Orchestrator, buffer: ExperienceBuffer, rounds: int) -> None:
    """The asker looks at the gauge for 20 s and at every other widget for 1 s; the console reports it."""
    for _ in range(rounds):
        answer = orchestrator.answer(QUESTION)
        widgets = [WidgetSignals(i, w.widget_type, 20_000.0 if w.widget_type == FAVOURITE else 1000.0)
                   for i, w in enumerate(answer.widgets)]  # fmt: skip
        record_signals(buffer=buffer, query_id=answer.query_id,
                       signals=ImplicitSignals(widgets=widgets, reported_at=NOW))  # fmt: skip


def greedy_plan(learner: Tier1Learner, serving) -> list[str]:
    intent = parse_intent(transcript=QUESTION, vocabulary=serving.vocabulary(), now=NOW).intent
    offered = candidates(intent=intent, vocabulary=serving.vocabulary())
    return [c.candidate.widget_type for c in Tier1Ranker(learner, explore=False).choose(intent, offered, 4)]


def test_with_a_weight_the_scorer_moves_toward_the_widget_looked_at_longest(db, serving, tmp_path):
    learner = Tier1Learner(Tier1Config(seed=1))
    untrained = greedy_plan(learner, serving)
    assert untrained[0] == "kpi" and FAVOURITE in untrained[1:]
    service = Tier1Service(
        learner, serving.buffer, tmp_path, ServiceConfig(implicit_weight=0.5, signals_settle_seconds=0)
    )
    tier1 = Orchestrator(serving.access, serving.buffer, ranker=Tier1Ranker(learner))
    for _ in range(40):
        ask_and_view(tier1, serving.buffer, rounds=1)
        service.learn_new_signals()
    assert learner.step >= 20 and learner.observed == 0  # weak steps do not anneal exploration
    assert greedy_plan(learner, serving)[0] == FAVOURITE


def test_at_weight_0_the_signals_change_nothing_and_the_trainer_reads_none(db, serving, tmp_path):
    learner = Tier1Learner(Tier1Config(seed=1))
    before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    ask_and_view(Orchestrator(serving.access, serving.buffer, ranker=Tier1Ranker(learner)), serving.buffer, 12)
    service = Tier1Service(learner, ExperienceBuffer(serving.buffer.path), tmp_path, ServiceConfig(poll_seconds=0.05))
    assert service.learn_new_signals() == 0
    service.start()  # as the leader: it fills its replay reservoir from the journal and tails it
    try:
        _wait(lambda: service.is_leader)
        service.replay(5)
    finally:
        service.stop()
    assert learner.step == 0 and service.buffer.signals_stats().reported == 12
    for name, tensor in learner.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_weak_examples_are_never_replayed_the_reservoir_is_feedbacks(db, serving, tmp_path):
    """Learned once when settled; a new leader does not replay the journal's signals (every answer has signals:
    replayed, they crowd out the feedback, docs/benchmarks.md)."""
    ask_and_view(serving, serving.buffer, 10)  # answered by the rules; viewed; nobody rated
    config = ServiceConfig(poll_seconds=0.05, implicit_weight=0.5, signals_settle_seconds=0)
    learner = Tier1Learner()
    teacher = Tier1Service(learner, serving.buffer, tmp_path / "old", config)
    assert teacher.learn_new_signals() == 10 and learner.step == 10
    teacher.replay(3)
    assert learner.step == 10  # nothing to replay: the reservoir holds feedback only
    successor = Tier1Service(Tier1Learner(), ExperienceBuffer(serving.buffer.path), tmp_path / "new", config)
    successor.start()
    try:
        _wait(lambda: successor.is_leader)
        time.sleep(0.2)  # a few polls
    finally:
        successor.stop()
    successor.replay(3)
    assert successor.learner.step == 0  # what the old leader learned is not learned again


def test_an_answers_signals_are_learned_once_when_no_newer_one_has_come_for_the_settle_time(db, serving, tmp_path):
    config = ServiceConfig(implicit_weight=0.5, signals_settle_seconds=10)
    service = Tier1Service(Tier1Learner(), serving.buffer, tmp_path, config)
    answer = serving.answer(QUESTION)
    shown = [WidgetSignals(i, w.widget_type, 1000.0 * (i + 1)) for i, w in enumerate(answer.widgets)]
    first = ImplicitSignals(widgets=shown, reported_at=NOW)
    record_signals(buffer=serving.buffer, query_id=answer.query_id, signals=first)
    assert service.learn_new_signals(now=100.0) == 0  # just arrived
    record_signals(buffer=serving.buffer, query_id=answer.query_id, signals=replace(first, next_question_after_ms=5.0))
    assert service.learn_new_signals(now=105.0) == 0  # a newer report: its clock starts again
    assert service.learn_new_signals(now=114.0) == 0
    assert service.learn_new_signals(now=115.0) == 1 and service.learner.step == 1
    assert service.learn_new_signals(now=500.0) == 0
    serving.buffer.record_signals(answer.query_id, ImplicitSignals(rephrased=True))
    assert service.learn_new_signals(now=600.0) + service.learn_new_signals(now=700.0) == 0  # learned once
    assert service.learner.step == 1


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_the_weak_reward_of_a_long_look_is_higher_than_of_a_glance():
    """The direction of the signal, whatever the answer's size: the longest-viewed widget gets the most."""
    rng = np.random.default_rng(0)
    for n in (2, 3, 4):
        times = rng.uniform(0, 10_000, n)
        shown = [WidgetChoice("kpi", "small", "", [], None, 1.0, 0.5) for _ in range(n)]
        experience = replace(answered(None), widgets=shown, signals=ImplicitSignals(
            widgets=[WidgetSignals(i, "kpi", float(t)) for i, t in enumerate(times)], reported_at=NOW))  # fmt: skip
        rewards = [e.reward for e in signal_rewards(experience, weight=0.2)]
        assert int(np.argmax(rewards)) == int(np.argmax(times)) and int(np.argmin(rewards)) == int(np.argmin(times))
