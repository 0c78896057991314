"""The staff's learning view over HTTP (Django's test client): learning-history, promoting and rolling back the
planner's adapters, and what rl-status gives a training progress bar.

Answers come from the orchestrator over the seeded test plant and feedback is posted through the API; the
adapter registry is a real one in a temporary folder, its versions filed the way training files them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from layer2.services import _llm_planner, get_orchestrator
from rl.experiences.buffer import get_experience_buffer
from rl.tier1.scorer import Tier1Config, Tier1Learner
from rl.tier1.service import Tier1Service, install
from rl.tier2.adapters import AdapterRecord, AdapterRegistry
from rl.tier2.run_status import TrainingStatus

ORCHESTRATE, FEEDBACK = "/api/layer2/orchestrate/", "/api/layer2/feedback/"
HISTORY, STATUS = "/api/layer2/learning-history/", "/api/layer2/rl-status/"
PROMOTE, ROLLBACK = "/api/layer2/planner-adapters/promote/", "/api/layer2/planner-adapters/rollback/"
# A judge's evaluation: down, confidence 0.7, the one widget scored 0.9. Its reward (docs/architecture.md,
# Rewards): 0.2 · (−1) · 0.7 + 0.4 · (2 · 0.9 − 1) = 0.18.
EVALUATION = {
    "rating": "down",
    "evaluation_confidence": 0.7,
    "per_widget_feedback": [{"widget_index": 0, "widget_type": "kpi", "appropriateness_score": 0.9}],
}
EVALUATION_REWARD = 0.18


def ask(client, transcript: str = "Show chiller 1 power") -> str:
    response = client.post(ORCHESTRATE, {"transcript": transcript}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["query_id"]


def rate(client, query_id: str, rating: str = "up", **evaluation) -> None:
    response = client.post(FEEDBACK, {"query_id": query_id, "rating": rating, **evaluation}, format="json")
    assert response.status_code == 200, response.content


def history(client, **query) -> dict:
    response = client.get(HISTORY, query)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def staff(client_for):
    return client_for("boss", "--staff")


@pytest.fixture
def registry(settings, tmp_path) -> AdapterRegistry:
    """The configured adapter registry, in a temporary folder, holding v0001 and v0002 (neither serving)."""
    settings.PLANNER_DIR = tmp_path / "planner"
    registry = AdapterRegistry(settings.PLANNER_DIR)
    for _ in range(2):
        version = registry.next_version()
        record = AdapterRecord(
            version=version,
            created_at=timezone.now(),
            method="dpo",
            base_model=str(tmp_path / "base"),
            data={"pairs": 60},
            hyperparameters={},
            metrics={"candidate": {"preference_accuracy": 0.8}},
            incumbent=None,
            promoted=False,
            decision="kept, not promoted",
        )
        registry.add(registry.staging(version), record)
    return registry


def test_the_learning_view_is_staff_only(client_for, staff, serving, registry):
    operator = client_for("ann")
    assert operator.get(HISTORY).status_code == 403
    assert operator.post(PROMOTE, {"version": "v0001"}, format="json").status_code == 403
    assert operator.post(ROLLBACK, {}, format="json").status_code == 403
    assert registry.active() is None  # the refused promotion changed nothing
    assert staff.get(HISTORY).status_code == 200


def test_buckets_count_the_answers_and_feedback_just_posted(staff, judge_client, serving):
    up, down, judged = ask(staff), ask(staff, "pump 1 vibration"), ask(staff, "UPS 2 charge")
    rate(staff, up, "up")
    rate(staff, down, "down")
    rate(judge_client, judged, **EVALUATION)
    body = history(staff)
    assert (body["bucket"], body["hours"]) == ("hour", 48)
    busy = [b for b in body["buckets"] if b["answers"]]
    assert sum(b["answers"] for b in busy) == 3
    assert sum(b["ratings_up"] for b in busy) == 1 and sum(b["ratings_down"] for b in busy) == 2  # the judge's too
    assert sum(b["evaluations"] for b in busy) == 1
    if len(busy) == 1:  # the three answers fell in one hour (not across an hour's edge)
        assert busy[0]["mean_reward"] == pytest.approx((1 - 1 + EVALUATION_REWARD) / 3)
    starts = [datetime.fromisoformat(b["start"]) for b in body["buckets"]]
    assert starts == [starts[0] + timedelta(hours=i) for i in range(len(starts))] and len(starts) in (49, 50)
    assert starts[-1] <= datetime.now(UTC) < starts[-1] + timedelta(hours=1)
    assert all(b["mean_reward"] is None for b in body["buckets"] if not b["answers"])


def test_the_window_reaches_back_whole_buckets_and_no_further(staff, serving):
    query_id = ask(staff)
    rate(staff, query_id, "up")
    buffer = get_experience_buffer()
    old = replace(buffer.get(query_id), query_id="a" * 32, created_at=timezone.now() - timedelta(days=10))
    buffer.add(old)
    days = history(staff, bucket="day", hours=48)["buckets"]
    assert len(days) == 3 and sum(b["answers"] for b in days) == 1
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert datetime.fromisoformat(days[-1]["start"]) == midnight
    eleven_days = history(staff, bucket="day", hours=24 * 11)["buckets"]
    assert sum(b["answers"] for b in eleven_days) == 2 and sum(b["ratings_up"] for b in eleven_days) == 2


@pytest.mark.parametrize(
    "query, field",
    [({"bucket": "week"}, "bucket"), ({"hours": "0"}, "hours"), ({"hours": str(24 * 90 + 1)}, "hours"),
     ({"hours": ""}, "hours"), ({"hours": "1.5"}, "hours")],
)  # fmt: skip
def test_bad_learning_history_parameters_are_400_naming_them(staff, query, field):
    response = staff.get(HISTORY, query)
    assert response.status_code == 400 and field in response.json(), response.content


def test_recent_feedback_names_the_asker_newest_rated_first(client_for, staff, serving):
    ann = client_for("ann")
    anns = ask(ann)
    rate(ann, anns, "down")
    boss = ask(staff, "pump 1 vibration")
    rate(staff, boss, "up")
    recent = history(staff)["recent_feedback"]
    assert [(r["query_id"], r["username"], r["rating"], r["source"]) for r in recent] == [
        (boss, "boss", "up", "operator"),
        (anns, "ann", "down", "operator"),
    ]
    assert recent[0]["transcript"] == "pump 1 vibration" and recent[0]["reward"] == 1.0
    assert datetime.fromisoformat(recent[0]["received_at"]) > datetime.fromisoformat(recent[1]["received_at"])


def test_a_late_evaluation_of_an_old_answer_is_the_newest_feedback(client_for, staff, judge_client, serving):
    ann = client_for("ann")
    anns = ask(ann)
    rate(ann, anns, "down")
    for _ in range(20):  # twenty answers rated after ann's: hers is no longer among the 20 rated last
        rate(staff, ask(staff, "pump 1 vibration"), "up")
    assert anns not in [r["query_id"] for r in history(staff)["recent_feedback"]]
    rate(judge_client, anns, **EVALUATION)
    recent = history(staff)["recent_feedback"]
    assert len(recent) == 20
    newest = recent[0]
    assert (newest["query_id"], newest["username"]) == (anns, "ann")
    assert (newest["rating"], newest["source"]) == ("down", "operator")  # her thumb stands; the evaluation joins it
    assert newest["has_evaluation"] and newest["reward"] == pytest.approx(EVALUATION_REWARD)


def test_tier1_is_reported_unavailable_when_it_does_not_run(staff, serving):
    tier1 = history(staff)["tier1"]
    assert tier1["available"] is False and "ENABLE_CONTINUOUS_RL=false" in tier1["detail"]
    assert "loss_history" not in tier1


def test_tier1_reports_its_loss_history_and_the_reward_of_what_it_ranked(
    staff, configured_plant, experience_path, tmp_path
):
    learner = Tier1Learner(Tier1Config(seed=1))
    install(Tier1Service(learner, get_experience_buffer(), tmp_path / "tier1"))
    get_orchestrator.cache_clear()  # rebuilt with the Tier 1 ranker
    try:
        for i in range(21):  # 21 updates: one point of 20 and the newest of 1
            rate(staff, ask(staff), "up" if i % 3 else "down")
        tier1 = history(staff)["tier1"]
    finally:
        install(None)
    assert tier1["available"] is True and tier1["steps"] == learner.step == 21
    losses = list(learner.losses)
    assert [p["step"] for p in tier1["loss_history"]] == [20, 21]
    assert tier1["loss_history"][0]["loss"] == pytest.approx(sum(losses[:20]) / 20)
    assert tier1["loss_history"][1]["loss"] == pytest.approx(losses[20])
    trend = tier1["reward_trend"]
    assert sum(p["rated"] for p in trend) == 21  # every answer was ranked by Tier 1 and rated
    assert sum(p["mean_reward"] * p["rated"] for p in trend) == pytest.approx(14 - 7)


def test_promote_then_rollback_changes_what_rl_status_serves(staff, serving, registry, caplog):
    def serving_adapter() -> str | None:
        return staff.get(STATUS).json()["tier2"]["serving_adapter"]

    assert serving_adapter() is None
    with caplog.at_level(logging.INFO, logger="rl.status"):
        first = staff.post(PROMOTE, {"version": "v0001"}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["serving_adapter"] == "v0001" and serving_adapter() == "v0001"
    assert "v0001 promoted by boss" in caplog.text
    second = staff.post(PROMOTE, {"version": "v0002"}, format="json").json()
    assert (second["serving_adapter"], second["history"]) == ("v0002", ["v0001", "v0002"])
    assert second["can_roll_back"] is True
    assert [a["version"] for a in second["adapters"]] == ["v0001", "v0002"]
    assert serving_adapter() == "v0002"

    with caplog.at_level(logging.INFO, logger="rl.status"):
        back = staff.post(ROLLBACK, {}, format="json")
    assert back.status_code == 200 and back.json()["serving_adapter"] == "v0001" and serving_adapter() == "v0001"
    assert "rolled back by boss: v0001 serves" in caplog.text
    base = staff.post(ROLLBACK, {}, format="json").json()
    assert (base["serving_adapter"], base["can_roll_back"]) == (None, False) and serving_adapter() is None


def test_a_promotion_is_what_the_llm_planner_serves_next(staff, serving, registry, settings, tmp_path):
    """Every worker's llm planner asks the registry before each plan (no model is loaded here)."""
    settings.PLANNER_MODEL_PATH = str(tmp_path / "base")
    os.makedirs(settings.PLANNER_MODEL_PATH)
    (tmp_path / "base" / "config.json").write_text("{}")
    planner = _llm_planner()  # as layer2.services builds it for PLANNER_BACKEND=llm
    assert planner._wanted_adapter() is None
    staff.post(PROMOTE, {"version": "v0002"}, format="json")
    assert planner._wanted_adapter() == registry.adapters / "v0002"
    staff.post(ROLLBACK, {}, format="json")
    assert planner._wanted_adapter() is None


@pytest.mark.parametrize(
    "body, status",
    [({"version": "v0009"}, 404), ({"version": "v3"}, 400), ({"version": 3}, 400), ({}, 400)],
)
def test_an_unknown_or_malformed_version_is_refused_naming_version(staff, registry, body, status):
    response = staff.post(PROMOTE, body, format="json")
    assert response.status_code == status and list(response.json()) == ["version"], response.content
    assert registry.active() is None


def test_the_unknown_version_error_lists_the_known_ones(staff, registry):
    [message] = staff.post(PROMOTE, {"version": "v0009"}, format="json").json()["version"]
    assert "v0009" in message and "v0001, v0002" in message


def test_a_rollback_with_nothing_to_roll_back_to_is_409(staff, registry):
    response = staff.post(ROLLBACK, {}, format="json")
    assert response.status_code == 409 and "nothing to roll back" in response.json()["detail"]
    assert staff.post(ROLLBACK, [], format="json").status_code == 400  # a body, if any, is an object


def test_rl_status_has_what_a_training_progress_bar_needs(staff, experience_path, settings, tmp_path):
    """The trainer's status file as a run writes it (rl/tier2/training.py), read back through rl-status."""
    settings.PLANNER_DIR = tmp_path / "planner"
    status = TrainingStatus(settings.PLANNER_DIR)
    status.start(state="training", phase="training", run_id="abc123", pid=os.getpid(), method="dpo")
    status.write(progress={"step": 30, "max_steps": 120, "loss": 0.7, "elapsed_s": 10.0, "eta_s": 30.0})
    training = staff.get(STATUS).json()["tier2"]["training"]
    assert (training["state"], training["run_id"]) == ("training", "abc123")
    progress = training["progress"]
    assert (progress["step"], progress["max_steps"], progress["eta_s"]) == (30, 120, 30.0)
    assert datetime.fromisoformat(training["updated_at"]) <= datetime.now(UTC)  # eta_s counts from here
