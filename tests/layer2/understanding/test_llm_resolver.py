"""The language-model resolver with the real ``anthropic`` SDK against a loopback stand-in of the Messages API.

Questions the rules read weakly ("how noisy is pump 2": words left unread) go
to the resolver when ``INTENT_RESOLVER=llm``; its answer is checked against the
catalog and merged, and every failure (a timeout, a refusal, malformed output,
an invented id, a spent budget) leaves the rules' answer.
"""

import json
from dataclasses import replace

import pytest

from layer2.services import get_orchestrator
from rl.experiences.buffer import get_experience_buffer
from tests.rl.judges.messages_stand_in import MessagesStandIn, Reply, error_reply, message, text_reply, tool_reply

WEAK = "how noisy is pump 2"  # the rules hear "noisy", which no column is
READING = {"understood": True, "intent_type": "status", "equipment_type": "pump", "equipment_ids": ["pump_002"],
           "metrics": ["vibration_mm_s"], "aggregation": "latest", "window": None}  # fmt: skip


@pytest.fixture
def api():
    with MessagesStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def resolving(api, settings, configured_plant, experience_path):
    """The orchestrator asking the stand-in when the rules are unsure."""
    settings.INTENT_RESOLVER = "llm"
    settings.ANTHROPIC_API_KEY = "sk-test"
    settings.ANTHROPIC_BASE_URL = api.base_url
    settings.RESOLVER_TIMEOUT_S = 0.5
    get_orchestrator.cache_clear()
    yield api
    get_orchestrator.cache_clear()


def answer(client, transcript: str) -> tuple[dict, object]:
    response = client.post("/api/layer2/orchestrate/", {"transcript": transcript}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    return body, get_experience_buffer().get(body["query_id"])


def test_an_unsure_reading_is_resolved_by_the_model_within_the_catalog(api_client, resolving):
    resolving.script(tool_reply(READING, tool="record_intent"))
    body, experience = answer(api_client, WEAK)
    assert experience.resolver == "llm" and body["intent"]["metrics"] == ["vibration_mm_s"]
    assert body["intent"]["not_understood"] == [] and "Pump 2 vibration" in body["voice_response"]
    [sent] = resolving.received
    tool = sent.body["tools"][0]
    assert sent.body["tool_choice"] == {"type": "tool", "name": "record_intent"}
    ids = tool["input_schema"]["properties"]["equipment_ids"]["items"]["enum"]
    assert "pump_002" in ids and "pump_003" not in ids  # the test plant has two of each type: only real ids
    assert sent.body["messages"][0]["content"] == WEAK


def test_a_sure_reading_never_asks_and_the_resolver_is_off_by_default(api_client, resolving, settings):
    resolving.script(tool_reply(READING, tool="record_intent"))
    _, experience = answer(api_client, "pump 1 vibration")
    assert experience.resolver == "rules" and resolving.received == []
    settings.INTENT_RESOLVER = "rules"
    get_orchestrator.cache_clear()
    _, experience = answer(api_client, WEAK)
    assert experience.resolver == "rules" and resolving.received == []


@pytest.mark.parametrize(
    "reply",
    [
        tool_reply({**READING, "equipment_ids": ["pump_003"]}, tool="record_intent"),  # an id the plant has not got
        tool_reply({**READING, "metrics": ["fuel_level_percent"]}, tool="record_intent"),  # a column pumps lack
        tool_reply(
            {
                **READING,
                "window": {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z", "label": "the future"},
            },
            tool="record_intent",
        ),
        tool_reply({"understood": True, "intent_type": "status"}, tool="record_intent"),  # fields missing
        tool_reply("not an object", tool="record_intent"),
        tool_reply({**READING, "understood": False}, tool="record_intent"),
        text_reply("I think they mean vibration."),
        Reply(200, json.dumps(message([], stop_reason="refusal")).encode()),
        error_reply(529, "overloaded_error", "Overloaded"),
        replace(tool_reply(READING, tool="record_intent"), delay=2.0),  # past the 0.5 s timeout
    ],
    ids=[
        "invented-id",
        "metric-the-type-lacks",
        "future-window",
        "missing-fields",
        "not-an-object",
        "not-understood",
        "text-instead-of-tool",
        "refusal",
        "overloaded",
        "timeout",
    ],
)
def test_any_failure_keeps_the_rules_answer(api_client, resolving, reply):
    resolving.script(reply)
    body, experience = answer(api_client, WEAK)
    assert len(resolving.received) == 1
    assert experience.resolver == "rules" and body["intent"]["not_understood"]  # the rules' honest answer
    assert "noisy" in body["voice_response"]


def test_identical_transcripts_are_asked_once_and_the_daily_budget_holds(api_client, resolving, settings):
    settings.RESOLVER_DAILY_CALLS = 2
    get_orchestrator.cache_clear()
    resolving.script(tool_reply(READING, tool="record_intent"))
    for _ in range(3):
        _, experience = answer(api_client, WEAK)
        assert experience.resolver == "llm"
    assert len(resolving.received) == 1  # the cache answered twice
    answer(api_client, "how loud is pump 2")  # the second call of the day
    _, over = answer(api_client, "is pump 2 making a racket")
    assert len(resolving.received) == 2 and over.resolver == "rules"
