"""The plan grammar accepts exactly the plans ``parse_plan`` accepts, as ``plan_json`` writes them."""

import itertools
import random

import pytest
import xgrammar as xgr

from layer2.planning.plan_grammar import longest_plan, plan_ebnf
from layer2.planning.plan_prompt import PlanItem, parse_plan, plan_json
from layer2.planning.planner import MAX_WIDGETS
from layer2.planning.planner_model import build_tokenizer
from layer2.planning.widgets import CATALOG


@pytest.fixture(scope="module")
def compiler():
    tokenizer = build_tokenizer(['{"widgets":[{"type":"kpi","size":"small"}]}'] * 5, vocab_size=300)
    return xgr.GrammarCompiler(xgr.TokenizerInfo.from_huggingface(tokenizer))


def _accepts(compiler, offered, text: str) -> bool:
    matcher = xgr.GrammarMatcher(compiler.compile_grammar(plan_ebnf(offered)))
    return matcher.accept_string(text) and matcher.is_completed()


def _offers(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        types = rng.sample(sorted(CATALOG), rng.randint(1, 4))
        yield frozenset((t, s) for t in types for s in rng.sample(CATALOG[t].sizes, rng.randint(1, 2)))


@pytest.mark.parametrize("offered", list(_offers(seed=3, count=6)), ids=lambda o: ",".join(sorted({t for t, _ in o})))
def test_the_grammar_is_exactly_the_valid_plans(compiler, offered):
    """Every sequence of up to five catalog items, in any order, repeats allowed: accepted iff parse_plan takes it
    and it is written in plan_json's order (the one spelling the model is taught)."""
    items = [PlanItem(t, s) for t, w in CATALOG.items() if t in {t for t, _ in offered} for s in w.sizes]
    items.append(PlanItem("gauge" if "gauge" not in {t for t, _ in offered} else "kpi", "small"))  # one not offered
    accepted = 0
    for n in range(1, 6):
        for plan in itertools.product(items, repeat=n):
            text = '{"widgets":[' + ",".join(f'{{"type":"{i.widget_type}","size":"{i.size}"}}' for i in plan) + "]}"
            valid = parse_plan(text, offered) is not None and text == plan_json(list(plan))
            assert _accepts(compiler, offered, text) == valid, text
            accepted += valid
    assert accepted > 0


def test_text_around_a_valid_plan_is_refused(compiler):
    offered = frozenset({("kpi", "small"), ("trend_line", "large")})
    plan = plan_json([PlanItem("kpi", "small")])
    assert _accepts(compiler, offered, plan)
    for text in (" " + plan, plan + " ", plan.replace(":", ": "), '{"widgets":[]}', plan[:-1]):
        assert not _accepts(compiler, offered, text), text


def test_an_offer_without_widgets_has_no_grammar():
    with pytest.raises(ValueError, match="at least one offered widget"):
        plan_ebnf(frozenset())


def test_at_most_max_widgets_in_order(compiler):
    types = sorted(CATALOG)[:6]
    offered = frozenset((t, CATALOG[t].sizes[0]) for t in types)
    for n in range(1, len(types) + 1):
        for chosen in itertools.combinations(types, n):
            text = plan_json([PlanItem(t, CATALOG[t].sizes[0]) for t in chosen])
            assert _accepts(compiler, offered, text) == (n <= MAX_WIDGETS), text


@pytest.mark.parametrize("offered", [*_offers(seed=5, count=4), frozenset((t, CATALOG[t].sizes[-1]) for t in CATALOG)])
def test_longest_plan_is_the_longest_valid_plan(offered):
    """The constrained decoder's token budget: every valid plan fits, and one fills it."""
    sizes = {t: [s for u, s in sorted(offered) if u == t] for t, _ in offered}
    lengths = [
        len(plan_json([PlanItem(t, s) for t, s in zip(types, chosen, strict=True)]).encode())
        for n in range(1, MAX_WIDGETS + 1)
        for types in itertools.combinations(sorted(sizes), n)
        for chosen in itertools.product(*(sizes[t] for t in types))
    ]
    assert longest_plan(offered) == max(lengths)
