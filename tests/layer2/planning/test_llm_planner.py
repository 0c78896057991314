"""The llm planner backend: plans validated against the catalog, a model built here, rule fallback."""

import pytest

from layer2.orchestrator import Orchestrator
from layer2.planning.constrained_decoding import PlanConstraint
from layer2.planning.llm_planner import LLMPlanner, generate_plans, load_planner
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


def test_a_random_model_unconstrained_falls_back_to_the_rule_plan(tiny_model_path, serving, offered):
    planner = LLMPlanner(tiny_model_path, max_new_tokens=24, constrained=False)
    rules = serving.answer("Show chiller 1 power")
    llm = Orchestrator(serving.access, serving.buffer, backend=planner).answer("Show chiller 1 power")
    assert planner.generate("QUESTION: show chiller 1 power\nPLAN: ", offered_slots(offered[1]))  # real text
    assert llm.planner == "rules"
    assert [(w.widget_type, w.size) for w in llm.widgets] == [(w.widget_type, w.size) for w in rules.widgets]


QUESTIONS = ("Show chiller 1 power", "which compressors have abnormal temperatures", "critical alerts",
             "compare pumps 1 and 2 flow this week", "how are the AHUs doing")  # fmt: skip


def test_a_random_model_constrained_writes_only_valid_plans(tiny_model_path, serving):
    """Random weights know nothing about plans: the grammar alone makes every plan valid."""
    llm = Orchestrator(serving.access, serving.buffer, backend=LLMPlanner(tiny_model_path))
    for question in QUESTIONS:
        answer = llm.answer(question)
        experience = serving.buffer.get(answer.query_id)
        assert answer.planner == "llm", question
        offered = offered_slots(experience.candidates)
        assert all((w.widget_type, w.size) in offered for w in answer.widgets) and answer.widgets


def test_one_batch_decodes_each_prompt_within_its_own_offer(tiny_model_path, full_plant_vocabulary):
    model, tokenizer = load_planner(model_path=tiny_model_path)
    prompts, offers = [], []
    for question in QUESTIONS:
        parsed = parse_intent(transcript=question, vocabulary=full_plant_vocabulary, now=PLANT_NOW)
        cands = candidates(intent=parsed.intent, vocabulary=full_plant_vocabulary)
        prompts.append(candidate_prompt(parsed.transcript, parsed.intent, cands))
        offers.append(offered_slots(cands))
    assert len(set(offers)) > 2  # different grammars side by side
    constraint = PlanConstraint.for_model(model, tokenizer)
    texts = generate_plans(model=model, tokenizer=tokenizer, prompts=prompts, offers=offers, constraint=constraint)
    assert all(parse_plan(t, o) is not None for t, o in zip(texts, offers, strict=True)), texts
    unconstrained = generate_plans(model=model, tokenizer=tokenizer, prompts=prompts)
    assert not any(parse_plan(t, o) for t, o in zip(unconstrained, offers, strict=True))  # what it does alone


def test_model_config_validation_shows_the_bad_value():
    with pytest.raises(ValueError, match=r"hidden_size must divide by num_attention_heads \(4\), got 30"):
        PlannerModelConfig(hidden_size=30, num_attention_heads=4)
