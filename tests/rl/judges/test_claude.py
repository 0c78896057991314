"""The Claude judge: the real ``anthropic`` SDK against a stand-in Messages API on loopback.

Experiences come from the real orchestrator over the seeded plant. Retry
waits are kept short by the judge's configuration (``retry_base_delay``), and
a test that must prove ``retry-after`` is honoured configures a long backoff
so that only the server's shorter wait can explain the timing.
"""

from __future__ import annotations

import logging
import time

import anthropic
import pytest

from rl.experiences.buffer import get_experience_buffer
from rl.judges.claude import DEFAULT_MODEL, ClaudeJudge, ClaudeJudgeConfig, retry_after
from rl.judges.evaluation import JudgeStopped, evaluation_schema
from tests.rl.judges.messages_stand_in import (
    BAD_KEY,
    DROP,
    OVERLOADED,
    SPEND_LIMIT,
    MessagesStandIn,
    Reply,
    error_reply,
    evaluation_for,
    json_reply,
    text_reply,
)

QUESTION = "Show chiller 1 power"


@pytest.fixture
def stand_in():
    with MessagesStandIn() as api:
        yield api


@pytest.fixture
def experience(api_client, serving):
    body = api_client.post("/api/layer2/orchestrate/", {"transcript": QUESTION}, format="json").json()
    return get_experience_buffer().get(body["query_id"])


def judge_for(stand_in: MessagesStandIn, **config) -> ClaudeJudge:
    settings = {"api_key": "sk-test-key", "base_url": stand_in.base_url, "retry_base_delay": 0.01, **config}
    return ClaudeJudge(ClaudeJudgeConfig(**settings))


def types_of(experience) -> list[str]:
    return [w.widget_type for w in experience.widgets]


def test_a_good_evaluation_is_accepted_with_every_field_and_the_request_carries_the_rubric(stand_in, experience):
    expected = evaluation_for(types_of(experience))
    stand_in.script(json_reply(expected, input_tokens=1500, output_tokens=400))
    verdict = judge_for(stand_in).evaluate(experience)

    assert verdict.skip_reason is None and verdict.attempts == 1
    assert verdict.evaluation.to_dict() == expected
    assert (verdict.input_tokens, verdict.output_tokens) == (1500, 400)
    [request] = stand_in.received
    assert request.headers["authorization"] == "Bearer sk-test-key"  # how SDK 2.12 sends the key
    body = request.body
    assert body["model"] == DEFAULT_MODEL == "claude-sonnet-5-5"
    assert "tools" not in body and "tool_choice" not in body and "temperature" not in body
    sent = body["output_config"]["format"]
    assert sent == {
        "type": "json_schema",
        "schema": anthropic.transform_schema(evaluation_schema(len(experience.widgets))),
    }
    assert "maximum: 1" in sent["schema"]["properties"]["evaluation_confidence"]["description"]  # bounds, in words
    prompt = body["messages"][0]["content"]
    assert QUESTION in prompt and experience.voice_response in prompt
    assert f'"intent_type": "{experience.intent["intent_type"]}"' in prompt
    for i, widget in enumerate(experience.widgets):
        assert f'{i}. {widget.widget_type}, {widget.size}: "{widget.title}"' in prompt
    kpi_value = experience.data_summary["0:kpi"]["value"]
    assert repr(kpi_value) in prompt  # the data behind the plan is shown


def test_malformed_json_is_sent_back_with_the_reason_and_the_corrected_evaluation_accepted(
    stand_in, experience, caplog
):
    expected = evaluation_for(types_of(experience))
    stand_in.script(text_reply('{"rating": "up", "per_widget'), json_reply(expected))
    with caplog.at_level(logging.WARNING, logger="rl.judges.claude"):
        verdict = judge_for(stand_in).evaluate(experience)

    assert verdict.evaluation.to_dict() == expected and verdict.attempts == 2
    assert verdict.input_tokens == 2 * 1200  # both calls are paid for
    assert "not valid JSON" in caplog.text and experience.query_id in caplog.text
    second = stand_in.received[1].body["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1]["content"][0]["text"] == '{"rating": "up", "per_widget'
    assert "not valid JSON" in second[2]["content"]


def test_a_missing_field_is_named_to_the_model_and_the_retry_accepted(stand_in, experience):
    expected = evaluation_for(types_of(experience))
    incomplete = {k: v for k, v in expected.items() if k != "evaluation_confidence"}
    stand_in.script(json_reply(incomplete), json_reply(expected))
    verdict = judge_for(stand_in).evaluate(experience)

    assert verdict.evaluation.to_dict() == expected
    retry = stand_in.received[1].body["messages"][2]
    assert retry["role"] == "user" and "'evaluation_confidence' is a required property" in retry["content"]


def test_a_score_out_of_range_twice_skips_the_experience_with_the_reason_logged(stand_in, experience, caplog):
    bad = evaluation_for(types_of(experience))
    bad["per_widget_feedback"][0]["appropriateness_score"] = 1.4
    stand_in.script(json_reply(bad))
    with caplog.at_level(logging.WARNING, logger="rl.judges.claude"):
        verdict = judge_for(stand_in, max_attempts=2).evaluate(experience)

    assert verdict.evaluation is None and len(stand_in.received) == 2
    assert verdict.skip_reason == (
        "invalid evaluation after 2 attempts: $.per_widget_feedback[0].appropriateness_score: "
        "1.4 is greater than the maximum of 1"
    )
    assert caplog.text.count("1.4 is greater than the maximum of 1") == 2


def test_an_evaluation_of_a_widget_the_plan_did_not_show_is_rejected(stand_in, experience):
    wrong = evaluation_for(["gauge", *types_of(experience)[1:]])
    stand_in.script(json_reply(wrong))
    verdict = judge_for(stand_in, max_attempts=1).evaluate(experience)
    assert verdict.evaluation is None
    assert verdict.skip_reason.endswith("widget 0 is a kpi, not a gauge")


def test_a_429_is_retried_after_the_wait_the_server_asks_for(stand_in, experience):
    """The configured backoff is 30 s: only the server's retry-after-ms of 300 explains a sub-3-second retry."""
    stand_in.script(
        error_reply(
            429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", retry_after_ms="300"
        ),
        json_reply(evaluation_for(types_of(experience))),
    )
    started = time.monotonic()
    verdict = judge_for(stand_in, retry_base_delay=30.0, retry_max_delay=30.0).evaluate(experience)

    assert verdict.evaluation is not None
    first, second = stand_in.received
    assert 0.3 <= second.at - first.at < 3.0
    assert time.monotonic() - started < 3.0


def test_a_garbled_body_and_a_dropped_connection_are_retried(stand_in, experience):
    stand_in.script(
        Reply(200, b'{"id": "msg_1", "type": "mess'), DROP, json_reply(evaluation_for(types_of(experience)))
    )
    verdict = judge_for(stand_in).evaluate(experience)
    assert verdict.evaluation is not None and len(stand_in.received) == 3


def test_repeated_529s_give_up_after_the_configured_retries(stand_in, experience):
    stand_in.script(OVERLOADED)
    verdict = judge_for(stand_in, max_retries=3).evaluate(experience)

    assert verdict.evaluation is None and len(stand_in.received) == 4
    assert verdict.skip_reason == "529 overloaded_error: Overloaded, still failing after 4 attempts"


def test_a_bad_request_skips_only_this_experience_without_retrying(stand_in, experience):
    stand_in.script(error_reply(400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"))
    verdict = judge_for(stand_in).evaluate(experience)
    assert verdict.evaluation is None and len(stand_in.received) == 1
    assert verdict.skip_reason == (
        "400 invalid_request_error: prompt is too long: 250000 tokens > 200000 maximum (not retried)"
    )


CREDIT = error_reply(
    400,
    "invalid_request_error",
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing.",
)
LINKED = error_reply(
    402, "billing_error", "Linked organization spend limit", error_code="linked_organization_spend_limit_reached"
)
FORBIDDEN = error_reply(403, "permission_error", "Your API key does not have permission to use the specified resource.")


@pytest.mark.parametrize(
    "reply, says",
    [
        (SPEND_LIMIT, "Raise the spend limit"),
        (CREDIT, "credit balance is too low"),
        (LINKED, "linked_organization_spend_limit_reached"),
        (BAD_KEY, "Check ANTHROPIC_API_KEY"),
        (FORBIDDEN, "Check the key's workspace"),
    ],
    ids=["spend-limit-429", "credit-400", "billing-402", "key-401", "forbidden-403"],
)
def test_spend_limit_billing_and_key_errors_stop_at_once_without_retrying(stand_in, experience, reply, says):
    stand_in.script(reply)
    with pytest.raises(JudgeStopped, match=says):
        judge_for(stand_in, max_retries=4).evaluate(experience)
    assert len(stand_in.received) == 1


def test_the_stand_in_refuses_what_the_api_refuses_so_the_judges_request_is_the_one_it_accepts(stand_in):
    client = anthropic.Anthropic(api_key="k", base_url=stand_in.base_url, max_retries=0)
    stand_in.script(json_reply({"ok": True}))
    ask = {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    tool = {"name": "t", "description": "d", "input_schema": {"type": "object", "properties": {}}}
    with pytest.raises(anthropic.NotFoundError), pytest.warns(DeprecationWarning):
        client.messages.create(model="claude-sonnet-4-5-20250929", **ask)  # the judge's old default: retired
    with pytest.raises(anthropic.BadRequestError, match="forced tool use is not supported"):
        client.messages.create(
            model="claude-sonnet-5-5", tools=[tool], tool_choice={"type": "tool", "name": "t"}, **ask
        )
    with pytest.raises(anthropic.BadRequestError, match="temperature: Extra inputs"):
        client.messages.create(model="claude-sonnet-5-5", extra_body={"temperature": 0.0}, **ask)
    raw_schema = {"type": "json_schema", "schema": evaluation_schema(2)}  # bounds the API does not take
    with pytest.raises(anthropic.BadRequestError, match="maxLength, minLength are not supported"):
        client.messages.create(model="claude-sonnet-5-5", output_config={"format": raw_schema}, **ask)
    with pytest.raises(anthropic.BadRequestError, match="Thinking may not be enabled"):
        client.messages.create(model="claude-haiku-4-5-20251001", tools=[tool], tool_choice={"type": "any"},
                               thinking={"type": "enabled", "budget_tokens": 1024}, **ask)  # fmt: skip
    accepted = {"type": "json_schema", "schema": anthropic.transform_schema(evaluation_schema(2))}
    assert client.messages.create(model="claude-sonnet-5-5", output_config={"format": accepted}, **ask).content


def test_a_retired_model_stops_the_run_naming_the_model(stand_in, experience):
    with pytest.raises(JudgeStopped, match="Check --model"), pytest.warns(DeprecationWarning):
        judge_for(stand_in, model="claude-sonnet-4-5-20250929").evaluate(experience)


def test_retry_after_reads_milliseconds_seconds_and_dates():
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past: now
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    assert 55 <= retry_after({"retry-after": future}) <= 60
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None


def test_config_is_validated_and_prices_come_from_the_model():
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        ClaudeJudgeConfig(api_key="")
    with pytest.raises(ValueError, match="max_attempts must be at least 1, got 0"):
        ClaudeJudgeConfig(api_key="k", max_attempts=0)
    assert ClaudeJudgeConfig(api_key="k").prices() == (3.0, 15.0)
    assert ClaudeJudgeConfig(api_key="k", model="claude-opus-4-1-20250805").prices() == (15.0, 75.0)
    assert ClaudeJudgeConfig(api_key="k", model="claude-opus-4-5").prices() == (5.0, 25.0)
    assert ClaudeJudgeConfig(api_key="k", model="my-gateway-model").prices() is None
    assert ClaudeJudgeConfig(api_key="k", model="x", input_price_per_mtok=2, output_price_per_mtok=8).prices() == (2, 8)
    judge = ClaudeJudge(ClaudeJudgeConfig(api_key="k"))
    assert judge.cost_usd(1_000_000, 100_000) == pytest.approx(3.0 + 1.5)
