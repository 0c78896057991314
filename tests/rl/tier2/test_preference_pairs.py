"""``judge_widget`` pairs: one widget dropped or swapped, ordered by the judge's scores for the same prompt.

Built from hand-made experiences, so every score and every expected pair is in view; no database, no model.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from layer2.planning.plan_prompt import parse_plan
from rl.experiences.records import CandidateRecord, Experience, Feedback, WidgetChoice, WidgetFeedback
from rl.tier2.preference_data import WIDGET_PAIRS_PER_ANSWER, build_preference_data, prompt_key, widget_pairs

NOW = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)
INTENT = {"intent_type": "status", "equipment_type": "pump", "equipment_ids": ["pump_001"], "metrics": ["power"]}
OFFERED = [("gauge", "small"), ("table", "medium"), ("trend_line", "medium"), ("trend_line", "large"), ("kpi", "small")]


def answer(query_id: str, scored: list[tuple[str, str, float]], *, role: str = "operator"):
    """An evaluated answer showing ``scored`` (type, size, judge's score) widgets, to pump 1's status question.

    Rated up, so that no judge_repair pair (which dedupes first) takes the place of a widget pair.
    """
    widgets = [WidgetChoice(t, s, "", ["pump_001"], "power", 0.5, 0.5) for t, s, _ in scored]
    judged = [WidgetFeedback(i, t, score, True) for i, (t, _, score) in enumerate(scored)]
    return Experience(
        query_id, "show pump 1 power", INTENT, widgets, [CandidateRecord(t, s, "power", 0.5) for t, s in OFFERED],
        "", 1.0, {}, {}, "rules", "tier1", NOW, Feedback("up", 0.9, "judged", "understood", judged),
        user_role=role,
    )  # fmt: skip


def plan(text: str) -> frozenset[tuple[str, str]]:
    return frozenset((w["type"], w["size"]) for w in json.loads(text)["widgets"])


def widget_pairs_of(experiences) -> set[tuple[frozenset, frozenset]]:
    """The ``judge_widget`` pairs ``build_preference_data`` makes, as (chosen, rejected) sets of (type, size)."""
    data = build_preference_data(experiences, held_out_share=0, with_widget_pairs=True)
    return {(plan(p.chosen), plan(p.rejected)) for p in data.train if p.source == "judge_widget"}


GAUGE, TABLE, KPI = ("gauge", "small"), ("table", "medium"), ("kpi", "small")
TREND, TREND_LARGE = ("trend_line", "medium"), ("trend_line", "large")


def test_a_poor_widget_is_dropped_or_swapped_for_one_judged_better_on_the_same_prompt():
    poor = answer("a" * 32, [(*GAUGE, 0.9), (*TABLE, 0.1)])  # mean score 0.5
    good = answer("b" * 32, [(*GAUGE, 0.9), (*TREND, 0.8)])  # 0.85
    shown = frozenset({GAUGE, TABLE})
    assert widget_pairs_of([poor, good]) == {
        (frozenset({GAUGE}), shown),  # the table dropped: 0.9
        (shown, frozenset({TABLE})),  # the gauge dropped: 0.1
        (frozenset({GAUGE, TREND}), shown),  # the table swapped for the trend (the good answer's own pair too)
        (frozenset({GAUGE, TREND}), frozenset({TABLE, TREND})),  # the good answer's gauge swapped for the table
    }  # dropping either of the good answer's widgets, or the gauge for the trend in the poor one: within 0.15
    data = build_preference_data([poor, good], held_out_share=0, with_widget_pairs=True)
    pairs = [p for p in data.train if p.source == "judge_widget"]
    assert all(parse_plan(p.chosen, p.offered) and parse_plan(p.rejected, p.offered) for p in pairs)
    assert {p.query_ids for p in pairs} == {(poor.query_id,), (good.query_id,)}


def test_scores_are_averaged_over_the_prompts_answers_and_close_plans_are_not_paired():
    first = answer("a" * 32, [(*GAUGE, 0.9), (*TABLE, 0.3)])
    second = answer("b" * 32, [(*TABLE, 0.7), (*KPI, 0.7)])  # the table's mean over the prompt: 0.5
    pairs = widget_pairs_of([first, second])
    shown = frozenset({GAUGE, TABLE})
    assert (frozenset({GAUGE}), shown) in pairs and (shown, frozenset({TABLE})) in pairs  # 0.9 and 0.5 against 0.7
    # by first's own scores (table 0.3) the kpi for the table gains 0.2; by the prompt's means only 0.1
    assert (frozenset({GAUGE, KPI}), shown) not in pairs
    assert (frozenset({GAUGE, KPI}), frozenset({TABLE, KPI})) in pairs  # second's table for the gauge: 0.2


def test_scores_never_cross_prompts_and_thumbs_alone_make_no_pairs():
    operator = answer("a" * 32, [(*GAUGE, 0.9), (*TABLE, 0.1)])
    engineer = answer("b" * 32, [(*GAUGE, 0.2), (*TREND, 0.95)], role="engineer")
    assert prompt_key(operator) != prompt_key(engineer)
    data = build_preference_data([operator, engineer], held_out_share=0, with_widget_pairs=True)
    for pair in (p for p in data.train if p.source == "judge_widget"):
        assert (TREND in plan(pair.chosen) | plan(pair.rejected)) == ("ROLE: engineer" in pair.prompt)
    thumbs = replace(operator, feedback=Feedback("down", received_at=NOW))
    assert widget_pairs_of([thumbs]) == set()


def test_one_answer_gives_at_most_its_widest_gaps():
    shown = answer("a" * 32, [(*GAUGE, 0.5), (*TABLE, 0.5), (*KPI, 0.5)])
    liked, disliked = answer("b" * 32, [(*TREND, 0.99)]), answer("c" * 32, [(*TREND_LARGE, 0.02)])
    pairs = [p for p in widget_pairs([shown, liked, disliked]) if p.query_ids == (shown.query_id,)]
    assert len(pairs) == WIDGET_PAIRS_PER_ANSWER  # of six swaps 0.16 or more apart (drops: 0 apart)
    assert sum(TREND in plan(p.chosen) for p in pairs) == 3, "the three widest first: the liked trend swapped in"
    assert sum(TREND_LARGE in plan(p.rejected) for p in pairs) == 1
