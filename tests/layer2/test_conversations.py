"""Conversations through the API: follow-ups read in context, ids that belong to one user and expire."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from layer2.models import Conversation

ORCHESTRATE, EXPERIENCES = "/api/layer2/orchestrate/", "/api/layer2/experiences/"


def ask(client, transcript: str, conversation_id: str | None = None):
    body = {"transcript": transcript, **({"conversation_id": conversation_id} if conversation_id else {})}
    return client.post(ORCHESTRATE, body, format="json")


def test_a_follow_up_inherits_what_it_does_not_restate_and_says_so(api_client, serving):
    first = ask(api_client, "what's the discharge pressure on compressor 1").json()
    assert first["turn"] == 1 and len(first["conversation_id"]) == 32 and first["intent"]["inherited"] == []
    second = ask(api_client, "and compressor 2?", first["conversation_id"]).json()
    assert second["conversation_id"] == first["conversation_id"] and second["turn"] == 2
    assert second["intent"]["equipment_ids"] == ["air_compressor_002"]
    assert second["intent"]["metrics"] == ["discharge_pressure_bar"]
    assert "metrics" in second["intent"]["inherited"] and "equipment_ids" not in second["intent"]["inherited"]
    assert "Air Compressor 2 discharge pressure" in second["voice_response"]
    third = ask(api_client, "what about yesterday?", first["conversation_id"]).json()
    assert third["turn"] == 3 and third["intent"]["time_range"]["label"] == "yesterday"
    assert third["intent"]["equipment_ids"] == ["air_compressor_002"]
    assert set(third["intent"]["inherited"]) >= {"equipment_ids", "metrics"}


def test_without_a_conversation_id_the_same_words_stand_alone(api_client, serving):
    ask(api_client, "what's the discharge pressure on compressor 1")
    alone = ask(api_client, "and compressor 2?").json()
    assert alone["turn"] == 1 and alone["intent"]["metrics"] != ["discharge_pressure_bar"]


def test_a_new_subject_starts_afresh_inside_a_conversation(api_client, serving):
    first = ask(api_client, "average power of chiller 1 yesterday").json()
    fresh = ask(api_client, "pump 2 vibration", first["conversation_id"]).json()
    assert fresh["intent"]["inherited"] == [] and fresh["intent"]["time_range"]["label"] == "now"
    assert fresh["intent"]["equipment_ids"] == ["pump_002"] and fresh["intent"]["metrics"] == ["vibration_mm_s"]


def test_after_a_ranking_its_and_the_second_one_name_the_ranked_units(api_client, serving, plant_db):
    ranking = ask(api_client, "which pumps have the highest vibration").json()
    order = [i["equipment_id"] for w in ranking["widgets"] if w["type"] == "bar_ranking" for i in w["data"]["items"]]
    assert len(order) == 2
    cid = ranking["conversation_id"]
    top = ask(api_client, "what's its motor temperature", cid).json()
    assert top["intent"]["equipment_ids"] == order[:1] and top["intent"]["metrics"] == ["motor_temp_c"]
    second = ask(api_client, "and the second one", cid).json()
    assert second["intent"]["equipment_ids"] == order[1:2] and second["intent"]["metrics"] == ["motor_temp_c"]


def test_the_experience_records_the_conversation_turn_and_resolved_intent(api_client, serving):
    first = ask(api_client, "boiler 1 steam pressure").json()
    second = ask(api_client, "and its trend", first["conversation_id"]).json()
    recorded = {e["query_id"]: e for e in api_client.get(EXPERIENCES).json()["experiences"]}
    follow_up = recorded[second["query_id"]]
    assert (follow_up["conversation_id"], follow_up["turn"]) == (first["conversation_id"], 2)
    assert follow_up["intent"]["intent_type"] == "trend" and follow_up["intent"]["metrics"] == ["steam_pressure_bar"]
    assert "equipment_ids" in follow_up["intent"]["inherited"]
    assert recorded[first["query_id"]]["turn"] == 1


@pytest.mark.parametrize("bad", ["not-an-id", "ABCDEF0123456789ABCDEF0123456789", 42, "a" * 33])
def test_a_malformed_conversation_id_is_a_400_naming_the_field(api_client, serving, bad):
    response = api_client.post(ORCHESTRATE, {"transcript": "pump 1 power", "conversation_id": bad}, format="json")
    assert response.status_code == 400 and "conversation_id" in response.json()


def test_unknown_expired_and_other_users_conversations_are_404(api_client, serving, settings):
    assert ask(api_client, "pump 1 power", "0" * 32).status_code == 404
    mine = ask(api_client, "pump 1 power").json()["conversation_id"]
    stranger = User.objects.create_user("night-shift", password="unused")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=stranger).key}")
    response = ask(other, "and pump 2?", mine)
    assert response.status_code == 404 and "conversation_id" in response.json()
    assert ask(api_client, "and pump 2?", mine).status_code == 200  # still the owner's
    settings.CONVERSATION_IDLE_MINUTES = 5
    Conversation.objects.filter(id=mine).update(updated_at=timezone.now() - timedelta(minutes=6))
    assert ask(api_client, "and pump 1?", mine).status_code == 404


@pytest.mark.slow
def test_every_gunicorn_worker_continues_the_same_conversation(gunicorn_server):
    server = gunicorn_server(workers=3)
    status, first, _ = server.request("POST", ORCHESTRATE, {"transcript": "chiller 1 power"})
    assert status == 200
    cid = first["conversation_id"]

    def follow(i):
        return server.request("POST", ORCHESTRATE, {"transcript": f"and chiller {1 + i % 2}?", "conversation_id": cid})

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(follow, range(12)))
    assert all(status == 200 for status, _, _ in answers), answers
    assert len({worker for _, _, worker in answers}) >= 2, "the follow-ups should spread over several workers"
    assert all(body["intent"]["metrics"] == ["power_consumption_kw"] for _, body, _ in answers)
    assert sorted(body["turn"] for _, body, _ in answers)[-1] >= 2
