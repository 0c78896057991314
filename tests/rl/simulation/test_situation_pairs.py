"""Situation pairs as Tier 2 preference data: the conversion, the split, and the asker's role in the prompt."""

from __future__ import annotations

import pytest

from industrial.plant.spec import READING_INTERVAL
from layer2.planning.plan_prompt import candidate_prompt, parse_plan
from layer2.planning.planner import candidates
from layer2.understanding.intent import PlantVocabulary, parse_intent
from layer2.understanding.roles import ROLES
from rl.simulation.data_provider import RLTimeSeriesDataProvider
from rl.simulation.situation_pairs import situation_pairs
from rl.tier2.preference_data import PreferenceData, PreferencePair, _held_out, situation_preference_pairs, with_pairs


@pytest.fixture(scope="module")
def drawn(access):
    return situation_pairs(provider=RLTimeSeriesDataProvider(access, seed=11), n=15, roles=ROLES)


def test_situation_pairs_become_preference_pairs_of_source_situation(drawn):
    converted = situation_preference_pairs(drawn)
    assert len(converted) == len(drawn) == 15
    for pair, preference in zip(drawn, converted, strict=True):
        assert (preference.prompt, preference.chosen, preference.rejected) == (pair.prompt, pair.chosen, pair.rejected)
        assert preference.source == "situation" and preference.offered == pair.offered
        assert preference.query_ids == (), "no experience stands behind a situation pair"
        chosen = parse_plan(preference.chosen, preference.offered)
        assert chosen is not None, f"the chosen plan is not valid for the offered slots: {preference.chosen}"
        assert chosen != parse_plan(preference.rejected, preference.offered)


def test_a_drawn_role_is_written_into_the_served_prompt(access, drawn):
    """With roles, each prompt is the one the planner is served for that asker (not ``ROLE: -``)."""
    vocabulary = PlantVocabulary.from_catalog(access.catalog)
    assert {p.role for p in drawn} <= set(ROLES) and len({p.role for p in drawn}) > 1
    for p in drawn:
        intent = parse_intent(transcript=p.transcript, vocabulary=vocabulary, now=p.at + READING_INTERVAL).intent
        assert p.prompt == candidate_prompt(
            p.transcript, intent, candidates(intent=intent, vocabulary=vocabulary), p.role
        )
        assert f"\nROLE: {p.role}\n" in p.prompt
    unknown = situation_pairs(provider=RLTimeSeriesDataProvider(access, seed=11), n=3)
    assert all(p.role is None and "\nROLE: -\n" in p.prompt for p in unknown)
    with pytest.raises(ValueError, match="roles must be among"):
        situation_pairs(provider=RLTimeSeriesDataProvider(access, seed=11), n=1, roles=("visitor",))


def test_added_pairs_split_by_the_prompt_rule_and_are_not_added_twice(drawn):
    rated = PreferencePair(
        "QUESTION: q\nINTENT: x\nPLAN:\n", '{"widgets":[]}', '{"widgets":[]}', "ratings", frozenset(), ()
    )
    data = PreferenceData(train=[rated])
    added = with_pairs(data, situation_preference_pairs(drawn), held_out_share=0.5)
    assert data.train == [rated] and not data.held_out, "the data added to is left as it was"
    assert added.train[0] == rated and added.pairs == 1 + len(drawn)
    assert added.held_out and len(added.train) > 1, "this seed puts pairs on both sides at a share of 0.5"
    assert all(_held_out(p.prompt, 0.5) for p in added.held_out)
    assert not any(_held_out(p.prompt, 0.5) for p in added.train)
    again = with_pairs(added, situation_preference_pairs(drawn), held_out_share=0.5)
    assert (again.train, again.held_out) == (added.train, added.held_out)
