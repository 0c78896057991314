"""Rewards, the Tier 1 scorer, its checkpoints, off-policy estimates and the continuous service."""

import time
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from layer2.orchestrator import Orchestrator
from layer2.planning.planner import RuleRanker, candidates
from layer2.services import submit_feedback
from layer2.understanding.intent import parse_intent
from layer2.understanding.roles import ROLES
from rl.experiences.buffer import ExperienceBuffer
from rl.experiences.records import CandidateRecord, Experience, Feedback, WidgetChoice, WidgetFeedback
from rl.experiences.reward import MISSING_BONUS, basic_reward, plan_reward, widget_rewards
from rl.tier1.off_policy import estimate
from rl.tier1.scorer import CheckpointStore, Tier1Config, Tier1Learner, Tier1Ranker, parameter_count
from rl.tier1.service import ServiceConfig, Tier1Service, install

NOW = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)


def rich(rating="up", **changes) -> Feedback:
    base = Feedback(
        rating,
        evaluation_confidence=0.5,
        per_widget_feedback=[WidgetFeedback(0, "kpi", 1.0, True), WidgetFeedback(1, "table", 0.0, False)],
        missing_widgets=["gauge"],
        received_at=NOW,
    )
    return replace(base, **changes)


def experience(feedback: Feedback | None) -> Experience:
    return Experience(
        "a" * 32, "show pump 1 power", {"intent_type": "status", "equipment_type": "pump", "metrics": []},
        [WidgetChoice("kpi", "small", "", ["pump_001"], None, 0.7, 0.9),
         WidgetChoice("table", "medium", "", ["pump_001"], None, 0.5, 0.4)],
        [CandidateRecord("kpi", "small", None, 0.95), CandidateRecord("table", "medium", None, 0.4),
         CandidateRecord("gauge", "small", None, 0.6), CandidateRecord("gauge", "medium", None, 0.45)],
        "", 1.0, {}, {}, "rules", "tier1", NOW, feedback,
    )  # fmt: skip


# --------------------------------------------------------------------------- rewards


def test_basic_and_extended_rewards_follow_the_documented_formula():
    assert (basic_reward("up"), basic_reward("down"), basic_reward(None)) == (1.0, -1.0, 0.0)
    assert plan_reward(Feedback("down", received_at=NOW)) == -1.0
    # 0.2*1*0.5 + 0.4*(2*0.5-1) - 0.3*1/3 + 0.2*(2*0.5-1) = 0.1 + 0 - 0.1 + 0
    assert plan_reward(rich()) == pytest.approx(0.0)
    assert plan_reward(rich("down", missing_widgets=[])) == pytest.approx(-0.1)
    assert plan_reward(rich(missing_widgets=["a", "b", "c", "d", "e"])) == pytest.approx(0.1 - 0.3)


def test_per_widget_rewards_and_missing_widget_examples():
    examples = widget_rewards(experience(rich()))
    assert [(e.widget_type, e.size) for e in examples] == [("kpi", "small"), ("table", "medium"), ("gauge", "small")]
    assert examples[0].reward == pytest.approx(0.6 + 0.4) and examples[1].reward == pytest.approx(-0.6 - 0.4)
    assert examples[2].reward == MISSING_BONUS and examples[2].propensity is None  # the best-scored gauge size
    thumbs = widget_rewards(experience(Feedback("down", received_at=NOW)))
    assert [e.reward for e in thumbs] == [-1.0, -1.0]
    assert widget_rewards(experience(None)) == []


# --------------------------------------------------------------------------- the scorer


@pytest.fixture
def status_offer(full_plant_vocabulary):
    parsed = parse_intent(transcript="show pump 1 vibration", vocabulary=full_plant_vocabulary, now=NOW)
    return parsed.intent, candidates(intent=parsed.intent, vocabulary=full_plant_vocabulary)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_an_untrained_scorer_ranks_like_the_rules(full_plant_vocabulary, role):
    learner = Tier1Learner()
    assert 6000 <= parameter_count(learner.model) <= 8000
    for question in ("show pump 1 vibration", "top 5 pumps by vibration", "compare chillers 1 and 2 power",
                     "which compressors have abnormal temperatures", "show critical alerts"):  # fmt: skip
        intent = parse_intent(transcript=question, vocabulary=full_plant_vocabulary, now=NOW).intent
        offered = candidates(intent=intent, vocabulary=full_plant_vocabulary)
        greedy = Tier1Ranker(learner, explore=False).choose(intent, offered, 4, role=role)
        rules = RuleRanker().choose(intent, offered, 4, role=role)
        assert [c.candidate for c in greedy] == [c.candidate for c in rules], question


def test_softmax_choices_record_their_propensity(status_offer):
    intent, offered = status_offer
    learner = Tier1Learner(Tier1Config(seed=3))
    choices = learner.choose(intent.to_dict(), offered, 3)
    scores = learner.scores(intent.to_dict(), offered)
    first = offered.index(choices[0].candidate)
    expected = np.exp(scores / learner.temperature) / np.exp(scores / learner.temperature).sum()
    assert choices[0].propensity == pytest.approx(expected[first], rel=1e-5)
    assert len({c.candidate.slot for c in choices}) == 3 and all(0 < c.propensity <= 1 for c in choices)


def test_step_size_and_exploration_anneal_with_feedback_to_their_floors(status_offer):
    intent, _ = status_offer
    config = Tier1Config()
    learner = Tier1Learner(config)
    assert (learner.learning_rate, learner.temperature) == (config.learning_rate, config.temperature)
    learner.observed = config.anneal_feedback
    learner.learn(intent.to_dict(), widget_rewards(experience(rich())))
    assert learner.learning_rate < config.learning_rate
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(config.learning_rate / 2**0.5)
    learner.observed = 10**6
    assert (learner.learning_rate, learner.temperature) == (config.min_learning_rate, config.min_temperature)
    with pytest.raises(ValueError, match="min_learning_rate"):
        Tier1Config(learning_rate=0.001, min_learning_rate=0.002)


def test_tier1_learns_a_planted_preference_through_the_feedback_path(db, serving, tmp_path):
    """Operators love the readings table and dislike the KPI: after feedback, the table leads."""
    learner = Tier1Learner(Tier1Config(seed=1))
    install(Tier1Service(learner, serving.buffer, tmp_path))
    try:
        tier1 = Orchestrator(serving.access, serving.buffer, ranker=Tier1Ranker(learner))
        before = Tier1Ranker(learner, explore=False)
        for _ in range(60):
            answer = tier1.answer("show pump 1 vibration")
            judged = [WidgetFeedback(i, w.widget_type, 1.0 if w.widget_type == "table" else 0.0, True)
                      for i, w in enumerate(answer.widgets)]  # fmt: skip
            submit_feedback(buffer=serving.buffer, query_id=answer.query_id, feedback=Feedback(
                "up", 0.9, per_widget_feedback=judged, received_at=NOW, source="judge:test"))  # fmt: skip
        assert learner.observed == 60
        parsed = serving.answer("show pump 1 vibration").intent
        offered = candidates(intent=parsed, vocabulary=serving.vocabulary())
        top = before.choose(parsed, offered, 4)
        assert top[0].candidate.widget_type == "table"
        assert "kpi" not in [c.candidate.widget_type for c in top[:2]]
    finally:
        install(None)


ROLE_FAVOURITE = {"engineer": "table", "manager": "gauge"}  # both away from the rules' KPI-first plan


def teach_role_preferences(orchestrator: Orchestrator, buffer: ExperienceBuffer, rounds: int) -> None:
    """Engineers rate only the readings table useful, managers only the gauge; each asks ``rounds`` times."""
    for _ in range(rounds):
        for role, favourite in ROLE_FAVOURITE.items():
            answer = orchestrator.answer("show pump 1 vibration", role=role)
            judged = [WidgetFeedback(i, w.widget_type, 1.0 if w.widget_type == favourite else 0.0, True)
                      for i, w in enumerate(answer.widgets)]  # fmt: skip
            missing = [] if favourite in [w.widget_type for w in answer.widgets] else [favourite]
            submit_feedback(buffer=buffer, query_id=answer.query_id, feedback=Feedback(
                "up", 0.9, per_widget_feedback=judged, missing_widgets=missing, received_at=NOW,
                source="judge:test"))  # fmt: skip


def top_widget_by_role(learner: Tier1Learner, serving) -> dict[str | None, str]:
    parsed = parse_intent(transcript="show pump 1 vibration", vocabulary=serving.vocabulary(), now=NOW).intent
    offered = candidates(intent=parsed, vocabulary=serving.vocabulary())
    ranker = Tier1Ranker(learner, explore=False)
    return {role: ranker.choose(parsed, offered, 4, role=role)[0].candidate.widget_type for role in ROLE_FAVOURITE}


def test_tier1_learns_that_the_same_question_deserves_different_widgets_by_role(db, serving, tmp_path):
    """Role-blind, one ranking cannot put the table first for engineers and the gauge first for managers."""
    learner = Tier1Learner(Tier1Config(seed=2))
    install(Tier1Service(learner, serving.buffer, tmp_path))
    try:
        assert set(top_widget_by_role(learner, serving).values()) == {"kpi"}  # untrained: the rules' choice
        teach_role_preferences(Orchestrator(serving.access, serving.buffer, ranker=Tier1Ranker(learner)),
                               serving.buffer, rounds=40)  # fmt: skip
    finally:
        install(None)
    recorded = serving.buffer.list(has_feedback=True)
    assert [e.user_role for e in recorded[:4]] == ["engineer", "manager", "engineer", "manager"]
    assert top_widget_by_role(learner, serving) == ROLE_FAVOURITE

    # A new trainer that has only the journal relearns it: the role reaches replay through the experience.
    successor = Tier1Service(Tier1Learner(Tier1Config(seed=3)), ExperienceBuffer(serving.buffer.path), tmp_path / "new")
    successor.start()
    _wait(lambda: successor.is_leader)
    successor.stop()
    successor.replay(300)
    assert top_widget_by_role(successor.learner, serving) == ROLE_FAVOURITE


def test_checkpoints_round_trip_and_a_corrupt_one_is_skipped(tmp_path, status_offer):
    intent, offered = status_offer
    store = CheckpointStore(tmp_path)
    learner = Tier1Learner()
    learner.learn(intent.to_dict(), widget_rewards(experience(rich())))
    older = store.save(learner.state())
    learner.learn(intent.to_dict(), widget_rewards(experience(rich("down"))))
    newest = store.save(learner.state())
    restored = Tier1Learner()
    restored.load_state(store.load_latest()[0])
    assert restored.step == learner.step == 2
    np.testing.assert_allclose(restored.scores(intent.to_dict(), offered), learner.scores(intent.to_dict(), offered))
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    newest.write_bytes(bytes(data))
    state, path = store.load_latest()
    assert path == older and state["step"] == 1
    older.write_bytes(older.read_bytes()[:100])  # truncated by a crash mid-copy
    assert store.load_latest() is None
    with pytest.raises(ValueError, match="config"):
        Tier1Learner(Tier1Config(rank=4)).load_state(learner.state())


def test_a_checkpoint_from_before_the_role_feature_is_not_loaded_and_not_fatal(tmp_path):
    learner = Tier1Learner()
    learner.step = 7
    old = {k: v for k, v in learner.state().items() if k != "features"}
    old["model"]["intent_tower.0.weight"] = old["model"]["intent_tower.0.weight"][:, :-4]  # 43 intent features
    with pytest.raises(ValueError, match="features"):
        Tier1Learner().load_state(old)
    CheckpointStore(tmp_path / "tier1").save(old)
    service = Tier1Service(Tier1Learner(), ExperienceBuffer(tmp_path / "experiences.jsonl"), tmp_path)
    service.start()
    try:
        _wait(lambda: service.is_leader)
        assert service.learner.step == 0  # started from the rules, to relearn from the journal
    finally:
        service.stop()


def test_off_policy_estimates_of_the_logging_policy_match_its_logged_reward(status_offer):
    intent, offered = status_offer
    learner = Tier1Learner(Tier1Config(seed=5))
    rng = np.random.default_rng(0)
    logged = []
    for i in range(400):
        [choice] = learner.choose(intent.to_dict(), offered, 1)
        good = choice.candidate.widget_type in ("gauge", "trend_line")
        feedback = Feedback("up" if good == (rng.random() < 0.9) else "down", received_at=NOW)
        c = choice.candidate
        logged.append(Experience(
            f"{i:032x}", "q", intent.to_dict(),
            [WidgetChoice(c.widget_type, c.size, "", [], c.metric, choice.propensity, choice.score)],
            [CandidateRecord(o.widget_type, o.size, o.metric, o.rule_score) for o in offered],
            "", 1.0, {}, {}, "rules", "tier1", NOW, feedback,
        ))  # fmt: skip
    result = estimate(learner=learner, experiences=logged)
    assert result.samples == 400
    assert result.ips == pytest.approx(result.logged_reward, abs=0.1)
    assert result.doubly_robust == pytest.approx(result.logged_reward, abs=0.1)


# --------------------------------------------------------------------------- the continuous service


def test_one_leader_trains_followers_reload_and_a_follower_takes_over(tmp_path):
    buffer = ExperienceBuffer(tmp_path / "experiences.jsonl")
    config = ServiceConfig(poll_seconds=0.05, checkpoint_seconds=0.1)
    first = Tier1Service(Tier1Learner(), buffer, tmp_path, config)
    second = Tier1Service(Tier1Learner(), ExperienceBuffer(tmp_path / "experiences.jsonl"), tmp_path, config)
    first.start()
    _wait(lambda: first.is_leader)
    second.start()
    try:
        buffer.add(experience(None))
        buffer.update_feedback("a" * 32, rich())
        _wait(lambda: first.learner.observed == 1)  # the leader tailed the journal
        _wait(lambda: second.learner.step == first.learner.step > 0)  # the follower reloaded its checkpoint
        assert not second.is_leader
        first.stop()
        _wait(lambda: second.is_leader)
        assert second.status()["leader_pid"] is not None
    finally:
        second.stop()
        first.stop()


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.slow
def test_live_workers_have_exactly_one_trainer(gunicorn_server):
    from concurrent.futures import ThreadPoolExecutor

    server = gunicorn_server(workers=3, ENABLE_CONTINUOUS_RL="true")
    status, body, _ = server.request("POST", "/api/layer2/orchestrate/", {"transcript": "show pump 1 vibration"})
    assert status == 200
    assert server.request("POST", "/api/layer2/feedback/", {"query_id": body["query_id"], "rating": "up"})[0] == 200

    tier1: dict[str, dict] = {}  # worker pid -> its report, from one round of requests

    def round_heard_the_trainer() -> bool:
        """Ask 30 times, 6 at once (so several workers answer); True once the round heard the trainer itself."""
        with ThreadPoolExecutor(6) as pool:
            reports = list(pool.map(lambda _: server.request("GET", "/api/layer2/rl-status/"), range(30)))
        tier1.clear()
        tier1.update({worker: body["tier1"] for _, body, worker in reports})
        return len(tier1) >= 2 and any(t["is_leader"] for t in tier1.values())

    _wait(round_heard_the_trainer, timeout=30)  # until a leader is elected and answers beside another worker
    trainers = [worker for worker, t in tier1.items() if t["is_leader"]]
    assert len(trainers) == 1, f"workers {trainers} each train"
    leader_pid = tier1[trainers[0]]["leader_pid"]
    assert isinstance(leader_pid, int) and str(leader_pid) == trainers[0] == str(tier1[trainers[0]]["process"])
    assert {t["leader_pid"] for t in tier1.values()} == {leader_pid}, "every worker names the same trainer"
    assert all(t["available"] and t["parameters"] > 6000 for t in tier1.values())
