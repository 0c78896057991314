"""The parser on the labelled operator questions (tests/data/operator_queries.jsonl).

The labels were written from the documented conventions (vocabulary.py and
the rules in that file's header), independently of the parser.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from layer2.understanding.intent import parse_intent

LABELS = [json.loads(line) for line in (Path(__file__).parents[2] / "data" / "operator_queries.jsonl").open()]
NOW = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def parsed(full_plant_vocabulary):
    return [
        (label, parse_intent(transcript=label["transcript"], vocabulary=full_plant_vocabulary, now=NOW))
        for label in LABELS
    ]


def accuracy(parsed, same) -> tuple[float, list[str]]:
    misses = [label["transcript"] for label, result in parsed if not same(label, result)]
    return 1 - len(misses) / len(parsed), misses


def test_the_labelled_set_is_large_and_varied():
    assert len(LABELS) >= 150
    assert {label["intent_type"] for label in LABELS} == {
        "status", "trend", "comparison", "ranking", "anomaly", "alerts", "summary", "energy",
    }  # fmt: skip
    assert len({label["equipment_type"] for label in LABELS if label["equipment_type"]}) == 11


def test_equipment_and_metrics_are_exactly_right_for_at_least_95_percent(parsed):
    both, misses = accuracy(
        parsed,
        lambda label, r: (
            set(r.intent.equipment_ids) == set(label["equipment_ids"])
            and set(r.intent.metrics) == set(label["metrics"])
        ),
    )
    assert both >= 0.95, f"{both:.1%} exact; misses: {misses}"


def test_intent_type_time_window_and_unknown_equipment(parsed):
    intent_type, misses = accuracy(parsed, lambda label, r: r.intent.intent_type == label["intent_type"])
    assert intent_type >= 0.9, misses

    def same_window(label, r):
        if label["time_window"] is None:
            return r.intent.time_range.label in ("now", "last 24 hours")  # the defaults
        window = r.intent.time_range.to_dict()
        return (window["start"], window["end"]) == (label["time_window"]["start"], label["time_window"]["end"])

    window, misses = accuracy(parsed, same_window)
    assert window >= 0.9, misses
    unknown, misses = accuracy(
        parsed, lambda label, r: sorted(u.mentioned for u in r.unresolved) == sorted(label["unknown_equipment"])
    )
    assert unknown >= 0.95, misses


def test_unknown_equipment_names_the_closest_real_ones(full_plant_vocabulary):
    result = parse_intent(transcript="show chiller 15 power", vocabulary=full_plant_vocabulary, now=NOW)
    assert result.intent.equipment_ids == []
    [unknown] = result.unresolved
    assert unknown.mentioned == "chiller 15" and unknown.suggestions == ["chiller_012", "chiller_011", "chiller_010"]
    assert (
        result.intent.confidence
        < parse_intent(transcript="show chiller 12 power", vocabulary=full_plant_vocabulary, now=NOW).intent.confidence
    )


def test_intent_has_exactly_the_documented_fields(full_plant_vocabulary):
    intent = parse_intent(
        transcript="top 5 pumps by vibration", vocabulary=full_plant_vocabulary, now=NOW
    ).intent.to_dict()
    assert list(intent) == [
        "intent_type", "equipment_type", "equipment_ids", "metrics", "time_range", "aggregation", "comparison",
        "filters", "top_k", "confidence", "aggregations", "not_understood", "refusal", "inherited",
    ]  # fmt: skip
    assert intent["top_k"] == 5 and intent["filters"] == {"order": "desc"} and intent["metrics"] == ["vibration_mm_s"]
    assert intent["time_range"]["end"] == "2026-03-04T14:30:00Z"
