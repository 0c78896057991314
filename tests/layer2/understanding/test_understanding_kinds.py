"""The parser on the understanding questions (tests/data/understanding_questions.jsonl), kind by kind.

Kinds: speech (recogniser errors and spoken forms), everyday_words (plain words
for metrics), windows (clock and calendar phrases), aggregations, fleet
(counts, sums, thresholds, rankings), alert_history and honest (refusals,
unknown equipment and metrics). A question is understood when every field its
label determines is right (``labels.understood``); each kind must reach its
floor.
"""

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from layer2.understanding.intent import parse_intent
from tests.layer2.understanding.labels import KINDS, NOW, ZONE, load_questions, parsed_value, understood

FLOORS = {
    "speech": 0.97,
    "everyday_words": 0.97,
    "windows": 0.97,
    "aggregations": 0.97,
    "fleet": 0.97,
    "alert_history": 0.97,
    "honest": 0.97,
}

QUESTIONS = load_questions()
OPERATOR_QUERIES = Path(__file__).parents[2] / "data" / "operator_queries.jsonl"
LABEL_FIELDS = {
    "intent_type", "equipment_type", "equipment_ids", "metrics", "aggregation", "aggregations", "window",
    "filters", "top_k", "refusal", "not_understood", "unknown_equipment", "widgets",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed(full_plant_vocabulary):
    zone = ZoneInfo(ZONE)
    return [
        (q, parse_intent(transcript=q["transcript"], vocabulary=full_plant_vocabulary, now=NOW, zone=zone))
        for q in QUESTIONS
    ]


@pytest.mark.parametrize("kind", list(FLOORS))
def test_each_kind_is_understood(parsed, kind):
    mine = [(q, result, understood(q["expect"], result)) for q, result in parsed if q["kind"] == kind]
    misses = [
        f"{q['transcript']!r}: "
        + "; ".join(f"{name} want {q['expect'][name]!r} got {parsed_value(name, result)!r}" for name in wrong)
        for q, result, wrong in mine
        if wrong
    ]
    share = 1 - len(misses) / len(mine)
    assert share >= FLOORS[kind], (
        f"{kind}: {share:.1%} of {len(mine)} understood (floor {FLOORS[kind]:.0%}); misses:\n" + "\n".join(misses)
    )


def test_the_set_is_large_every_kind_is_covered_and_the_questions_are_new():
    assert len(QUESTIONS) >= 330
    assert set(FLOORS) == set(KINDS) == {q["kind"] for q in QUESTIONS}
    for kind in KINDS:
        assert sum(q["kind"] == kind for q in QUESTIONS) >= 40, kind
    old = {json.loads(line)["transcript"].strip().lower() for line in OPERATOR_QUERIES.read_text().splitlines()}
    reused = [q["transcript"] for q in QUESTIONS if q["transcript"].strip().lower() in old]
    assert not reused, reused
    transcripts = [q["transcript"].strip().lower() for q in QUESTIONS]
    assert len(set(transcripts)) == len(transcripts), "a transcript appears twice"
    assert sum(bool(q.get("truth")) for q in QUESTIONS) >= 120
    unknown = {name for q in QUESTIONS for name in q["expect"]} - LABEL_FIELDS
    assert not unknown, unknown
