"""The llm planner backend: plans validated against the catalog, a model built here, rule fallback."""

import pytest

from layer2.orchestrator import Orchestrator
from layer2.planning.llm_planner import LLMPlanner
from layer2.planning.plan_prompt import PlanItem, candidate_prompt, offered_slots, parse_plan, plan_json
from layer2.planning.planner import candidates
from layer2.planning.planner_model import PlannerModelConfig, build_model, build_tokenizer, save_planner
from layer2.understanding.intent import parse_intent
from tests.layer2.conftest import PLANT_NOW


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    """A randomly initialised planner model folder, built here (nothing downloaded)."""
    corpus = ['QUESTION: show chiller 1 power\nPLAN: {"widgets":[{"type":"kpi","size":"small"}]}'] * 20
    tokenizer = build_tokenizer(corpus, vocab_size=300)
    config = PlannerModelConfig(vocab_size=300, hidden_size=32, intermediate_size=64)
    return save_planner(build_model(tokenizer, config), tokenizer, tmp_path_factory.mktemp("planner"), config)


@pytest.fixture
def offered(full_plant_vocabulary):
    parsed = parse_intent(transcript="show chiller 1 power", vocabulary=full_plant_vocabulary, now=PLANT_NOW)
    return parsed, candidates(intent=parsed.intent, vocabulary=full_plant_vocabulary)


def test_a_valid_plan_parses_to_its_items(offered):
    parsed, cands = offered
    text = plan_json([PlanItem("kpi", "small"), PlanItem("trend_line", "large")]) + " trailing words"
    assert parse_plan(text, offered_slots(cands)) == [PlanItem("kpi", "small"), PlanItem("trend_line", "large")]
    assert candidate_prompt(parsed.transcript, parsed.intent, cands).endswith("PLAN:\n")


def test_a_plan_is_written_in_one_order_whichever_order_it_is_given_in():
    """Preference training scores sequences: two orders of one plan must not look like two plans."""
    kpi, trend = PlanItem("kpi", "small"), PlanItem("trend_line", "large")
    assert (
        plan_json([trend, kpi])
        == plan_json([kpi, trend])
        == ('{"widgets":[{"type":"kpi","size":"small"},{"type":"trend_line","size":"large"}]}')
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "kpi small",
        '{"widgets": []}',
        '{"widgets": [{"type": "hologram", "size": "small"}]}',
        '{"widgets": [{"type": "kpi", "size": "full"}]}',  # kpi has no full size
        '{"widgets": [{"type": "status_grid", "size": "full"}]}',  # not offered for one chiller
        '{"widgets": [{"type": "kpi", "size": "small"}, {"type": "kpi", "size": "medium"}]}',
        '{"widgets": [{"type": "kpi"}]}',
        '{"widgets": "kpi"}',
        '{"widgets": [{"type": "kpi", "size": "small"}',
    ],
)
def test_invalid_plans_are_refused(offered, text):
    assert parse_plan(text, offered_slots(offered[1])) is None


def test_a_random_model_falls_back_to_the_rule_plan(tiny_model_path, serving):
    planner = LLMPlanner(tiny_model_path, max_new_tokens=24)
    rules = serving.answer("Show chiller 1 power")
    llm = Orchestrator(serving.access, serving.buffer, backend=planner).answer("Show chiller 1 power")
    assert planner.generate("QUESTION: show chiller 1 power\nPLAN: ")  # it really generated text
    assert llm.planner == "rules"
    assert [(w.widget_type, w.size) for w in llm.widgets] == [(w.widget_type, w.size) for w in rules.widgets]


def test_model_config_validation_shows_the_bad_value():
    with pytest.raises(ValueError, match=r"hidden_size must divide by num_attention_heads \(4\), got 30"):
        PlannerModelConfig(hidden_size=30, num_attention_heads=4)
