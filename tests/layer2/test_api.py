"""The layer2 API through real HTTP requests (Django's test client) over the seeded test plant."""

import json

import pytest
from rest_framework.test import APIClient

from layer2.models import OperatorProfile, WidgetRating

ORCHESTRATE, FEEDBACK, EXPERIENCES = "/api/layer2/orchestrate/", "/api/layer2/feedback/", "/api/layer2/experiences/"
INTENT_FIELDS = ["intent_type", "equipment_type", "equipment_ids", "metrics", "time_range", "aggregation",
                 "comparison", "filters", "top_k", "confidence", "aggregations", "not_understood",
                 "refusal", "inherited"]  # fmt: skip


def ask(client, transcript: str) -> dict:
    response = client.post(ORCHESTRATE, {"transcript": transcript}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


RICH = {
    "evaluation_confidence": 0.8,
    "evaluation_reasoning": "The KPI answers the question; a trend would help.",
    "query_understanding": "Operator wants chiller 1's current power.",
    "per_widget_feedback": [
        {"widget_index": 0, "widget_type": "kpi", "appropriateness_score": 0.9, "size_appropriate": True,
         "issues": [], "strengths": ["direct answer"]},
    ],
    "missing_widgets": ["gauge"],
    "suggested_improvements": ["show the design power"],
    "source": "judge:offline",
}  # fmt: skip


def test_orchestrate_answers_with_the_documented_shape(api_client, serving):
    body = ask(api_client, "Show chiller 1 power")
    assert set(body) == {"query_id", "conversation_id", "turn", "transcript", "intent", "widgets", "voice_response",
                         "processing_time_ms"}  # fmt: skip
    assert list(body["intent"]) == INTENT_FIELDS
    assert body["intent"]["equipment_ids"] == ["chiller_001"] and body["intent"]["metrics"] == ["power_consumption_kw"]
    assert body["widgets"][0]["type"] == "kpi" and body["widgets"][0]["size"] == "small"
    assert all(set(w) == {"type", "size", "title", "equipment_ids", "metric", "data"} for w in body["widgets"])
    assert body["voice_response"].startswith("Chiller 1 ") and "kilowatts" in body["voice_response"]
    assert body["processing_time_ms"] > 0


def test_each_answer_is_recorded_once(api_client, serving):
    ids = [ask(api_client, q)["query_id"] for q in ("pump 1 vibration", "how are the boilers doing", "UPS 2 charge")]
    listed = api_client.get(EXPERIENCES).json()
    assert [e["query_id"] for e in listed["experiences"]] == ids
    assert listed["experiences"][0]["intent"]["equipment_ids"] == ["pump_001"]
    assert listed["experiences"][0]["widgets"][0]["propensity"] == 1.0


def test_feedback_is_stored_on_the_experience_and_as_a_rating_row(api_client, judge_client, serving):
    query_id = ask(api_client, "Show chiller 1 power")["query_id"]
    response = judge_client.post(FEEDBACK, {"query_id": query_id, "rating": "down", **RICH}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"query_id": query_id, "rating": "down", "has_evaluation": True}
    row = WidgetRating.objects.get(query_id=query_id)
    assert (row.rating, row.source, row.evaluation_confidence) == ("down", "judge:offline", 0.8)
    assert row.per_widget_feedback[0]["strengths"] == ["direct answer"] and row.missing_widgets == ["gauge"]
    [experience] = api_client.get(EXPERIENCES, {"has_evaluation": "true"}).json()["experiences"]
    assert experience["feedback"]["missing_widgets"] == ["gauge"]
    assert api_client.get(EXPERIENCES, {"has_feedback": "false"}).json()["count"] == 0


def test_the_askers_role_comes_from_their_profile_a_request_may_name_another(api_client, api_user, serving):
    asked = [ask(api_client, "pump 1 vibration")["query_id"]]  # no profile yet: role unknown
    OperatorProfile.objects.set_role(user=api_user, role="engineer")
    asked.append(ask(api_client, "pump 1 vibration")["query_id"])
    response = api_client.post(ORCHESTRATE, {"transcript": "pump 1 vibration", "role": "manager"}, format="json")
    assert response.status_code == 200, response.content
    asked.append(response.json()["query_id"])
    recorded = api_client.get(EXPERIENCES).json()["experiences"]
    assert [e["query_id"] for e in recorded] == asked
    assert [e["user_role"] for e in recorded] == [None, "engineer", "manager"]
    assert {e["schema_version"] for e in recorded} == {7}


def test_a_retried_feedback_post_counts_once_and_another_key_counts_again(api_client, serving):
    query_id = ask(api_client, "Show chiller 1 power")["query_id"]
    thumb = {"query_id": query_id, "rating": "down", "feedback_id": "5f0c1e9a-console-1"}
    for _ in range(3):  # the network delivered it three times
        response = api_client.post(FEEDBACK, thumb, format="json")
        assert response.status_code == 200 and response.json()["rating"] == "down", response.content
    assert WidgetRating.objects.filter(query_id=query_id).count() == 1
    changed = api_client.post(FEEDBACK, {**thumb, "rating": "up", "feedback_id": "5f0c1e9a-console-2"}, format="json")
    assert changed.json()["rating"] == "up" and WidgetRating.objects.filter(query_id=query_id).count() == 2
    again = api_client.post(FEEDBACK, thumb, format="json")  # the first post, late: it does not undo the change
    assert again.status_code == 200 and again.json()["rating"] == "up"
    [experience] = api_client.get(EXPERIENCES).json()["experiences"]
    assert experience["feedback"]["rating"] == "up" and WidgetRating.objects.count() == 2


def test_feedback_for_an_unknown_query_is_404(api_client, serving):
    response = api_client.post(FEEDBACK, {"query_id": "0" * 32, "rating": "up"}, format="json")
    assert response.status_code == 404 and "0" * 32 in response.json()["query_id"][0]


WRONG_SIZE = {"widget_index": 0, "widget_type": "kpi", "size_appropriate": False}  # the answer's small KPI


@pytest.mark.parametrize(
    "change, field",
    [
        ({"rating": "meh"}, "rating"),
        ({"rating": None}, "rating"),
        ({"query_id": "xyz"}, "query_id"),
        ({"query_id": 12345}, "query_id"),
        ({"evaluation_confidence": 1.5}, "evaluation_confidence"),
        ({"evaluation_confidence": "high"}, "evaluation_confidence"),
        ({"per_widget_feedback": [{"widget_index": 0, "widget_type": "hologram"}]}, "per_widget_feedback"),
        ({"per_widget_feedback": [{"widget_index": 9, "widget_type": "kpi"}]}, "per_widget_feedback"),
        ({"per_widget_feedback": "all good"}, "per_widget_feedback"),
        ({"missing_widgets": ["hologram"]}, "missing_widgets"),
        ({"source": "judge:'; DROP TABLE"}, "source"),
        ({"source": "judge:claude"}, "source"),  # an operator's account posts as the operator, never as a judge
        ({"per_widget_feedback": [{"widget_index": 0, "widget_type": "gauge"}]}, "per_widget_feedback"),  # a kpi
        ({"per_widget_feedback": [{**WRONG_SIZE, "size_direction": "bigger"}]}, "per_widget_feedback"),
        ({"per_widget_feedback": [{**WRONG_SIZE, "size_direction": "smaller"}]}, "per_widget_feedback"),  # smallest
        ({"feedback_id": ""}, "feedback_id"),
        ({"feedback_id": "x" * 65}, "feedback_id"),
        ({"feedback_id": "a b"}, "feedback_id"),
        ({"feedback_id": 42}, "feedback_id"),
    ],
)
def test_bad_feedback_fields_are_400_naming_the_field(api_client, serving, change, field):
    query_id = ask(api_client, "Show chiller 1 power")["query_id"]
    response = api_client.post(FEEDBACK, {"query_id": query_id, "rating": "up", **change}, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert WidgetRating.objects.count() == 0


def test_a_wrong_size_says_which_way_and_a_direction_needs_a_wrong_size(api_client, serving):
    query_id = ask(api_client, "Show chiller 1 power")["query_id"]  # widget 0: a kpi, small

    def post(**verdict):
        judged = {"widget_index": 0, "widget_type": "kpi", **verdict}
        body = {"query_id": query_id, "rating": "down", "per_widget_feedback": [judged]}
        return api_client.post(FEEDBACK, body, format="json")

    for verdict in ({"size_direction": "larger"}, {"size_appropriate": True, "size_direction": "larger"}):
        response = post(**verdict)
        assert response.status_code == 400, response.content
        [why] = response.json()["per_widget_feedback"]["0"]["size_direction"]  # DRF names a list's item by index
        assert "size_appropriate false" in why
    [refused] = post(size_appropriate=False, size_direction="smaller").json()["per_widget_feedback"]
    assert "cannot be smaller" in refused
    assert WidgetRating.objects.count() == 0

    assert post(size_appropriate=False, size_direction="larger").status_code == 200
    [experience] = api_client.get(EXPERIENCES).json()["experiences"]
    assert experience["feedback"]["per_widget_feedback"][0]["size_direction"] == "larger"
    assert WidgetRating.objects.get(query_id=query_id).per_widget_feedback[0]["size_direction"] == "larger"
    assert post(size_appropriate=False, size_direction=None).status_code == 200  # unsaid, as before


@pytest.mark.parametrize(
    "body, field",
    [({}, "transcript"), ({"transcript": ""}, "transcript"), ({"transcript": "   "}, "transcript"),
     ({"transcript": 123}, "transcript"), ({"transcript": ["show", "pumps"]}, "transcript"),
     ({"transcript": "x" * 1001}, "transcript"), ({"transcript": "pump\x00 1"}, "transcript"),
     ({"transcript": "pump 1", "role": "ceo"}, "role"), ({"transcript": "pump 1", "role": 2}, "role"),
     ({"transcript": "pump 1", "role": ["engineer"]}, "role"), ({"transcript": "pump 1", "role": None}, "role"),
     ({"transcript": "pump 1", "role": "Engineer"}, "role")],
)  # fmt: skip
def test_bad_orchestrate_bodies_are_400_naming_the_field(api_client, serving, body, field):
    response = api_client.post(ORCHESTRATE, body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_malformed_and_huge_bodies_are_refused(api_client, serving):
    assert api_client.post(ORCHESTRATE, "{not json", content_type="application/json").status_code == 400
    assert api_client.post(ORCHESTRATE, "transcript=x", content_type="text/plain").status_code == 415
    huge = json.dumps({"transcript": "pump 1 " * 20_000})
    assert api_client.post(ORCHESTRATE, huge, content_type="application/json").status_code in (400, 413)


@pytest.mark.parametrize(
    "transcript",
    ["chiller_001; DROP TABLE equipment", "'; DELETE FROM alerts; --", "chïller 1 pöwer", "\x01\x02", "🔥 pump 3"],
)
def test_hostile_transcripts_get_an_answer_and_change_nothing(api_client, serving, plant_db, transcript):
    before = plant_db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    body = ask(api_client, transcript)
    assert isinstance(body["voice_response"], str) and body["voice_response"]
    assert plant_db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == before
    assert plant_db.execute("SELECT count(*) FROM alerts").fetchone()[0] > 0


def test_unknown_equipment_gets_a_helpful_answer(api_client, serving):
    body = ask(api_client, "what's chiller 7 drawing")  # the test plant has chillers 1 and 2
    assert body["voice_response"] == "I couldn't find chiller 7. The closest are Chiller 2 and Chiller 1."
    assert body["widgets"] == []


BAD_FILTERS = [
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-03-01T00:00:00"}, "since"),
    ({"limit": 0}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"has_feedback": "perhaps"}, "has_feedback"),
]


@pytest.mark.parametrize("query, field", BAD_FILTERS)
def test_bad_experience_filters_are_400(api_client, serving, query, field):
    response = api_client.get(EXPERIENCES, query)
    assert response.status_code == 400 and field in response.json()


def test_experiences_since_filter(api_client, serving):
    ask(api_client, "pump 1 vibration")
    assert api_client.get(EXPERIENCES, {"since": "2000-01-01T00:00:00Z"}).json()["count"] == 1
    assert api_client.get(EXPERIENCES, {"since": "2999-01-01T00:00:00Z"}).json()["count"] == 0


def test_authentication_and_permissions(api_client, api_user, serving):
    anonymous = APIClient()
    for method, url in (("post", ORCHESTRATE), ("post", FEEDBACK), ("get", EXPERIENCES),
                        ("get", "/api/layer2/rl-status/"), ("post", "/api/layer2/approve-training/")):  # fmt: skip
        assert getattr(anonymous, method)(url, {}, format="json").status_code == 401
    assert api_client.post("/api/layer2/approve-training/", {}, format="json").status_code == 403
    api_user.is_staff = True
    api_user.save()
    response = api_client.post("/api/layer2/approve-training/", {}, format="json")
    assert response.status_code == 409 and response.json()["started"] is False
    status = api_client.get("/api/layer2/rl-status/").json()
    assert status["buffer"]["size"] == 0 and status["tier1"]["available"] is False


def test_requests_past_the_user_rate_are_refused_with_429(api_client, monkeypatch):
    """DRF's own throttle, as configured, with the user rate lowered so that four requests cross it."""
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    # The rates are bound when rest_framework.throttling is imported (override_settings would not reach them);
    # the dict is the settings' own, so setitem changes it for this test and monkeypatch puts it back.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "3/minute")
    cache.clear()  # the throttle counts requests in the default cache, which earlier tests' requests share
    try:
        codes = [api_client.post(FEEDBACK, {}, format="json").status_code for _ in range(4)]  # 400: no rating
    finally:
        cache.clear()
    assert codes == [400, 400, 400, 429]


def test_openapi_schema_is_served(api_client):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/layer2/orchestrate/" in response.content and b"/api/industrial/equipment/" in response.content


@pytest.mark.parametrize(
    "question",
    ["Show chiller 1 power over the last 1000000 days", "Show chiller 1 power over the last 99999999999999999999 days",
     "Show chiller 1 power over the last 1000 months", "average chiller 1 power over the last 400 years",
     "Compare chiller 1 and pump 1 cop", "compare pump 2 and boiler 1 fuel level over the last 500 weeks"],
)  # fmt: skip
def test_questions_that_used_to_be_refused_are_answered_and_recorded(api_client, serving, question):
    """Windows far past the data and comparisons across types: a 200 with an answer, and an experience."""
    body = ask(api_client, question)
    assert body["voice_response"] and body["intent"]["equipment_ids"]
    recorded = [e["query_id"] for e in api_client.get(EXPERIENCES).json()["experiences"]]
    assert recorded == [body["query_id"]]
