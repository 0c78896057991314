"""POST /api/layer2/signals/ and the rephrase note, through Django's test client over the seeded test plant.

The console reports its totals so far for an answer; the newest report is what the experience holds. Only the
asker reports; a question asked again in other words within the window marks the previous answer rephrased.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from layer2.implicit_signals import is_rephrase
from rl.experiences.buffer import get_experience_buffer

ORCHESTRATE, SIGNALS, EXPERIENCES = "/api/layer2/orchestrate/", "/api/layer2/signals/", "/api/layer2/experiences/"
RL_STATUS = "/api/layer2/rl-status/"


def ask(client, transcript: str, conversation_id: str | None = None) -> dict:
    body = {"transcript": transcript, **({"conversation_id": conversation_id} if conversation_id else {})}
    response = client.post(ORCHESTRATE, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def report(query_id: str, *widgets: dict, next_question_after_ms=12000) -> dict:
    return {"query_id": query_id, "widgets": list(widgets), "next_question_after_ms": next_question_after_ms}


KPI = {"widget_index": 0, "widget_type": "kpi", "visible_ms": 5300, "expansions": 1, "hovers": 4}
TREND = {"widget_index": 1, "widget_type": "trend_line", "visible_ms": 812.5, "expansions": 0, "hovers": 0}


def stored(client, query_id: str) -> dict | None:
    [experience] = [e for e in client.get(EXPERIENCES).json()["experiences"] if e["query_id"] == query_id]
    return experience["signals"]


def test_a_report_is_stored_with_the_answer_and_a_later_one_replaces_it(api_client, serving):
    answer = ask(api_client, "Show chiller 1 power")
    assert [w["type"] for w in answer["widgets"]][:2] == ["kpi", "trend_line"]
    response = api_client.post(SIGNALS, report(answer["query_id"], KPI, TREND), format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query_id"] == answer["query_id"] and set(body["signals"]) == {
        "widgets", "next_question_after_ms", "rephrased", "reported_at"}  # fmt: skip
    assert body["signals"]["widgets"] == [KPI, TREND] and body["signals"]["rephrased"] is False
    assert stored(api_client, answer["query_id"]) == body["signals"]

    later = {**KPI, "visible_ms": 9100, "hovers": 6}
    for _ in range(2):  # the page's totals grew; then it retried the same post
        response = api_client.post(
            SIGNALS, report(answer["query_id"], later, next_question_after_ms=None), format="json"
        )
        assert response.status_code == 200, response.content
    now = stored(api_client, answer["query_id"])
    assert now["widgets"] == [later] and now["next_question_after_ms"] is None  # replaced, not added up
    stats = api_client.get(RL_STATUS).json()["signals"]
    assert (stats["answers"], stats["reported"], stats["widgets_reported"]) == (1, 1, 1)
    assert stats["mean_visible_ms"] == 9100 and stats["implicit_weight"] == 0.0 and stats["learned"] is False


def test_a_report_needs_only_the_query_id_and_defaults_the_counts(api_client, serving):
    answer = ask(api_client, "pump 1 vibration")
    response = api_client.post(SIGNALS, {"query_id": answer["query_id"]}, format="json")
    assert response.status_code == 200 and response.json()["signals"]["widgets"] == []
    bare = {"widget_index": 0, "widget_type": answer["widgets"][0]["type"]}
    response = api_client.post(SIGNALS, {"query_id": answer["query_id"], "widgets": [bare]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["signals"]["widgets"] == [{**bare, "visible_ms": 0.0, "expansions": 0, "hovers": 0}]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"widgets": [{**KPI, "widget_type": "gauge"}]}, "widgets"),  # the answer's widget 0 is a kpi
        ({"widgets": [{**KPI, "widget_index": 9}]}, "widgets"),  # it had four widgets
        ({"widgets": [KPI, KPI]}, "widgets"),  # reported twice
        ({"widgets": [{**KPI, "widget_type": "hologram"}]}, "widgets"),
        ({"widgets": [{**KPI, "widget_index": -1}]}, "widgets"),
        ({"widgets": [{**KPI, "visible_ms": -1}]}, "widgets"),
        ({"widgets": [{**KPI, "visible_ms": 24 * 3600 * 1000 + 1}]}, "widgets"),
        ({"widgets": [{**KPI, "visible_ms": "5300"}]}, "widgets"),
        ({"widgets": [{**KPI, "expansions": 1.5}]}, "widgets"),
        ({"widgets": [{**KPI, "hovers": True}]}, "widgets"),
        ({"widgets": [{**KPI, "hovers": -2}]}, "widgets"),
        ({"widgets": [{"widget_type": "kpi"}]}, "widgets"),
        ({"widgets": "all of them"}, "widgets"),
        ({"next_question_after_ms": -5}, "next_question_after_ms"),
        ({"next_question_after_ms": "soon"}, "next_question_after_ms"),
        ({"query_id": "xyz"}, "query_id"),
        ({"query_id": None}, "query_id"),
    ],
)
def test_bad_reports_are_400_naming_the_field_and_store_nothing(api_client, serving, change, field):
    query_id = ask(api_client, "Show chiller 1 power")["query_id"]
    response = api_client.post(SIGNALS, {**report(query_id, KPI), **change}, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert stored(api_client, query_id) is None


def test_only_the_asker_reports_another_users_answer_is_not_found_staff_and_judges_are_forbidden(
    api_client, client_for, serving
):
    query_id = ask(api_client, "Show chiller 1 power")["query_id"]
    other = client_for("bob").post(SIGNALS, report(query_id, KPI), format="json")
    unknown = client_for("carol").post(SIGNALS, report("f" * 32, KPI), format="json")
    assert other.status_code == 404 and query_id in other.json()["query_id"][0]
    assert unknown.status_code == 404 and set(unknown.json()) == set(other.json()) == {"query_id"}
    for account in (client_for("boss", "--staff"), client_for("claude", "--judge")):
        forbidden = account.post(SIGNALS, report(query_id, KPI), format="json")
        assert forbidden.status_code == 403 and "only its asker" in forbidden.json()["query_id"][0]
    assert stored(api_client, query_id) is None
    assert api_client.post(SIGNALS, report(query_id, KPI), format="json").status_code == 200


def test_the_same_question_in_other_words_marks_the_previous_answer_rephrased(api_client, serving):
    first = ask(api_client, "Show chiller 1 power")
    api_client.post(SIGNALS, report(first["query_id"], KPI), format="json")
    second = ask(api_client, "how much power is chiller one using", first["conversation_id"])
    assert second["intent"]["equipment_ids"] == first["intent"]["equipment_ids"]
    signals = stored(api_client, first["query_id"])
    assert signals["rephrased"] is True and signals["widgets"] == [KPI]  # the console's report stands
    assert stored(api_client, second["query_id"]) is None
    later = api_client.post(SIGNALS, report(first["query_id"], {**KPI, "visible_ms": 7000}), format="json")
    assert later.json()["signals"]["rephrased"] is True  # a later report does not undo it
    assert api_client.get(RL_STATUS).json()["signals"]["rephrased"] == 1


@pytest.mark.parametrize(
    "first, then, why",
    [
        ("Show chiller 1 power", "Show chiller 1 power", "the same words: a refresh"),
        ("show chiller 1 power", "what about last month?", "another window: a new question"),
        ("show chiller 1 power", "and chiller 2?", "another unit"),
        ("show chiller 1 power", "chiller 1 load", "another metric"),
    ],
)
def test_a_new_question_or_the_same_words_again_is_no_rephrase(api_client, serving, first, then, why):
    answer = ask(api_client, first)
    ask(api_client, then, answer["conversation_id"])
    assert stored(api_client, answer["query_id"]) is None, why


def test_a_question_asked_again_past_the_window_or_in_a_new_conversation_is_no_rephrase(api_client, serving, settings):
    first = ask(api_client, "Show chiller 1 power")
    ask(api_client, "how much power is chiller one using")  # a new conversation
    settings.REPHRASE_WINDOW_SECONDS = 0
    ask(api_client, "how much power is chiller one using", first["conversation_id"])  # past the window
    assert stored(api_client, first["query_id"]) is None
    assert get_experience_buffer().signals_stats().answers == 0


def test_a_rephrase_asks_the_same_of_every_part_of_the_intent(serving):
    answer = serving.answer("Show chiller 1 power")
    previous, soon = answer.context, answer.context.answered_at + timedelta(seconds=5)

    def again(intent) -> bool:
        return is_rephrase(previous=previous, transcript="chiller one's power please", intent=intent, asked_at=soon,
                           window=timedelta(seconds=120))  # fmt: skip

    assert again(answer.intent)
    changed = {"intent_type": "trend", "equipment_ids": ["chiller_002"], "equipment_type": "pump",
               "metrics": ["load_percent"], "aggregation": "max", "refusal": "command"}  # fmt: skip
    for field, value in changed.items():
        assert not again(replace(answer.intent, **{field: value})), field
    assert not again(replace(answer.intent, time_range=replace(answer.intent.time_range, label="today")))
    assert not is_rephrase(previous=previous, transcript="SHOW chiller 1 power!", intent=answer.intent, asked_at=soon,
                           window=timedelta(seconds=120))  # the same words: a refresh  # fmt: skip
