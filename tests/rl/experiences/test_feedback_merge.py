"""Feedback arriving twice: a judge's evaluation never overwrites an operator's own thumb, and a retried request
(the same ``feedback_id``) counts once.

The rich fields are always the newest evaluation's; the rating is the
newest operator's, a judge's only while no operator has rated. Checked in both
stores (across a second process's view and a compaction) and through the API.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from rl.experiences.buffer import get_experience_buffer
from rl.experiences.records import Feedback
from tests.rl.experiences.buffer_worker import CREATED, make_experience, rich_feedback
from tests.rl.judges.messages_stand_in import evaluation_for


def thumb(rating: str, source: str = "operator", days: int = 1) -> Feedback:
    return Feedback(rating=rating, source=source, received_at=CREATED + timedelta(days=days))


def test_a_judge_evaluation_after_an_operator_thumb_adds_its_fields_under_the_thumb(make_store):
    store = make_store()
    store.add(make_experience("q-1", seq=1))
    store.update_feedback("q-1", thumb("up"))
    judge = rich_feedback("down", seq=1, source="judge:claude")

    merged = replace(judge, rating="up", source="operator")
    assert store.update_feedback("q-1", judge).feedback == merged
    for view in (store, make_store()):  # this process, and a fresh one reading the same store
        assert view.get("q-1").feedback == merged and view.get("q-1").has_evaluation
        assert view.stats().evaluations_by_source == {"judge:claude": 1}
    store.compact()
    assert make_store().get("q-1").feedback == merged


def test_a_judge_thumb_never_replaces_an_operator_thumb_but_an_operator_replaces_a_judge(make_store):
    store = make_store()
    store.add(make_experience("q-1", seq=1))
    store.add(make_experience("q-2", seq=2))
    store.update_feedback("q-1", thumb("down"))
    assert store.update_feedback("q-1", thumb("up", source="judge:offline", days=2)).feedback.rating == "down"
    assert store.update_feedback("q-1", thumb("up", days=3)).feedback == thumb("up", days=3)  # changed their mind
    store.update_feedback("q-2", thumb("up", source="judge:offline"))
    assert store.update_feedback("q-2", thumb("down", days=2)).feedback == thumb("down", days=2)


def test_a_retried_feedback_counts_once_from_any_view_and_after_a_compaction(make_store):
    """A ``feedback_id`` is applied once to an experience: its retry (through this view or another process's,
    before or after a compaction) changes nothing and is not tailed again; the same id on another experience,
    or a feedback without one, is new."""
    store = make_store()
    store.add(make_experience("q-1", seq=1))
    store.add(make_experience("q-2", seq=2))
    start = store.feedback_cursor()
    judge = rich_feedback("up", seq=1)
    first, second = replace(thumb("up"), feedback_id="op-1"), replace(thumb("down", days=2), feedback_id="op-2")
    for feedback in (judge, first, second):
        store.update_feedback("q-1", feedback)
    rated = replace(judge, rating="down", source="operator", received_at=second.received_at)
    # Applied again, the first thumb would bring back "up", the judge's evaluation its own received_at.
    assert store.update_feedback("q-1", first).feedback == rated
    assert make_store().update_feedback("q-1", judge).feedback == rated
    assert store.update_feedback("q-2", first).feedback == first
    store.compact()
    for view in (store, make_store()):
        assert view.update_feedback("q-1", first).feedback == rated
        assert view.update_feedback("q-2", first).feedback == first
    assert store.feedback_since(start)[0] == ["q-1", "q-1", "q-1", "q-2"]
    stats = store.stats()
    assert (stats.size, stats.with_feedback, stats.with_evaluation) == (2, 2, 1)

    cursor = store.feedback_cursor()
    anonymous = thumb("down", days=3)  # no feedback_id: the store cannot tell a retry, so each is new
    store.update_feedback("q-2", anonymous)
    store.update_feedback("q-2", anonymous)
    assert store.feedback_since(cursor)[0] == ["q-2", "q-2"]
    assert make_store().get("q-2").feedback == anonymous


def test_stats_count_evaluations_by_their_source(make_store):
    store = make_store()
    sources = ["judge:offline", "judge:offline", "judge:claude", "operator", None]
    for seq, source in enumerate(sources):
        store.add(make_experience(f"q-{seq}", seq=seq))
        if source:
            store.update_feedback(f"q-{seq}", rich_feedback("up", seq=seq, source=source))
    store.update_feedback("q-4", thumb("up"))  # a thumb alone is no evaluation
    stats = store.stats()
    assert (stats.size, stats.with_feedback, stats.with_evaluation) == (5, 5, 4)
    assert stats.evaluations_by_source == {"judge:claude": 1, "judge:offline": 2, "operator": 1}


def test_through_the_api_the_operator_rating_stands_and_the_rich_fields_land(api_client, client_for, serving):
    body = api_client.post("/api/layer2/orchestrate/", {"transcript": "Show chiller 1 power"}, format="json").json()
    query_id = body["query_id"]
    assert api_client.post("/api/layer2/feedback/", {"query_id": query_id, "rating": "up"}, format="json").json() == {
        "query_id": query_id,
        "rating": "up",
        "has_evaluation": False,
    }
    evaluation = evaluation_for([w["type"] for w in body["widgets"]], rating="down")
    response = client_for("claude", "--judge").post(
        "/api/layer2/feedback/", {"query_id": query_id, **evaluation}, format="json"
    )
    assert response.json() == {"query_id": query_id, "rating": "up", "has_evaluation": True}

    listed = api_client.get("/api/layer2/experiences/?has_evaluation=true").json()["experiences"]
    [feedback] = [e["feedback"] for e in listed if e["query_id"] == query_id]
    assert feedback["rating"] == "up" and feedback["source"] == "operator"
    for name in ("evaluation_confidence", "evaluation_reasoning", "query_understanding"):
        assert feedback[name] == evaluation[name]
    # The record has every verdict field: a direction the judge did not give reads null.
    assert feedback["per_widget_feedback"] == [{**w, "size_direction": None} for w in evaluation["per_widget_feedback"]]
    assert get_experience_buffer().stats().evaluations_by_source == {"judge:claude": 1}
    status = api_client.get("/api/layer2/rl-status/").json()["buffer"]
    assert status["with_evaluation"] == 1 and status["evaluations_by_source"] == {"judge:claude": 1}
