"""The evaluation contract: one JSON schema, strict validation with a reason, and what the API accepts."""

from __future__ import annotations

import copy

import pytest

from layer2.models import WidgetRating
from layer2.planning.widgets import CATALOG
from rl.experiences.buffer import get_experience_buffer
from rl.experiences.records import WidgetChoice
from rl.judges.evaluation import MAX_ITEM_TEXT, MAX_ITEMS, MAX_TEXT, InvalidEvaluation, parse_evaluation
from tests.rl.judges.messages_stand_in import evaluation_for

PLAN = [
    WidgetChoice("kpi", "small", "Chiller 1 power", ["chiller_001"], "power_consumption_kw", 1.0, 0.95),
    WidgetChoice("trend_line", "medium", "Chiller 1 power trend", ["chiller_001"], "power_consumption_kw", 1.0, 0.7),
]
GOOD = evaluation_for(["kpi", "trend_line"])


def broken(change) -> dict:
    data = copy.deepcopy(GOOD)
    change(data)
    return data


def test_a_complete_evaluation_parses_to_exactly_its_fields():
    evaluation = parse_evaluation(GOOD, PLAN)
    assert evaluation.to_dict() == GOOD
    payload = evaluation.feedback_payload("a" * 32)
    assert {k: v for k, v in payload.items() if k != "feedback_id"} == {"query_id": "a" * 32, **GOOD}  # no source
    assert payload["feedback_id"] == evaluation.feedback_payload("a" * 32)["feedback_id"]  # a retry: the same key
    assert payload["feedback_id"] != evaluation.feedback_payload("b" * 32)["feedback_id"]


def test_a_wrong_size_may_say_which_way_and_the_direction_is_kept():
    data = broken(lambda d: d["per_widget_feedback"][1].update(size_direction="larger"))  # a medium trend, wrong
    evaluation = parse_evaluation(data, PLAN)
    assert [w.size_direction for w in evaluation.per_widget_feedback] == [None, "larger"]
    assert evaluation.to_dict() == data  # said where said, absent where not (as an older evaluation has it)


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda d: d.pop("evaluation_confidence"), "$: 'evaluation_confidence' is a required property"),
        (lambda d: d.pop("per_widget_feedback"), "$: 'per_widget_feedback' is a required property"),
        (
            lambda d: d["per_widget_feedback"][1].update(appropriateness_score=-0.1),
            "$.per_widget_feedback[1].appropriateness_score: -0.1 is less than the minimum of 0",
        ),
        (lambda d: d.update(evaluation_confidence=1.5), "$.evaluation_confidence: 1.5 is greater than the maximum"),
        (lambda d: d.update(rating="meh"), "$.rating: 'meh' is not one of ['up', 'down']"),
        (lambda d: d.update(missing_widgets=["pie_chart"]), "$.missing_widgets[0]: 'pie_chart' is not one of"),
        (lambda d: d["per_widget_feedback"].pop(), "$.per_widget_feedback: fails minItems 2 (got 1 items)"),
        (lambda d: d.update(notes="x"), "Additional properties are not allowed ('notes' was unexpected)"),
        (
            lambda d: d["per_widget_feedback"][0].update(size_appropriate="yes"),
            "$.per_widget_feedback[0].size_appropriate: 'yes' is not of type 'boolean'",
        ),
        (
            lambda d: d.update(evaluation_reasoning="x" * (MAX_TEXT + 1)),
            "$.evaluation_reasoning: fails maxLength 4000 (got a string of 4001 characters)",
        ),
        (
            lambda d: d["per_widget_feedback"][1].update(widget_type="gauge"),
            "$.per_widget_feedback[1]: widget 1 is a trend_line, not a gauge",
        ),
        (
            lambda d: d["per_widget_feedback"][1].update(widget_index=0, widget_type="kpi"),
            "$.per_widget_feedback: evaluate each widget once; got indexes [0, 0]",
        ),
        (lambda d: d.update(query_understanding="   "), "$.query_understanding: must not be blank"),
        (
            lambda d: d["per_widget_feedback"][1].update(size_direction="bigger"),
            "$.per_widget_feedback[1].size_direction: 'bigger' is not one of ['smaller', 'larger']",
        ),
        (
            lambda d: d["per_widget_feedback"][0].update(size_direction="larger"),
            "$.per_widget_feedback[0].size_direction: only a wrong size has a direction",
        ),
        (
            lambda d: d["per_widget_feedback"][1].update(size_direction="smaller"),
            "$.per_widget_feedback[1].size_direction: a trend_line comes in medium, large, full; at medium it "
            "cannot be smaller",
        ),
    ],
    ids=[
        "missing-confidence", "missing-widgets", "score-below-0", "confidence-above-1", "bad-rating",
        "unknown-widget-type", "widget-unjudged", "extra-field", "size-not-bool", "reasoning-too-long",
        "wrong-widget-type", "widget-twice", "blank-understanding", "unknown-direction", "direction-on-right-size",
        "direction-past-the-smallest",
    ],
)  # fmt: skip
def test_each_fault_is_rejected_with_a_reason_that_names_the_field(change, reason):
    with pytest.raises(InvalidEvaluation) as raised:
        parse_evaluation(broken(change), PLAN)
    assert reason in raised.value.reason and len(raised.value.reason) < 300, raised.value.reason


def test_not_an_object_is_rejected():
    for data, reason in [
        ("{not json", "$: '{not json' is not of type 'object'"),
        (None, "$: None is not of type 'object'"),
        ([GOOD], "$: fails type 'object' (got a list)"),
    ]:
        with pytest.raises(InvalidEvaluation) as raised:
            parse_evaluation(data, PLAN)
        assert raised.value.reason == reason


def test_an_evaluation_at_every_limit_is_accepted_by_the_feedback_api(api_client, client_for, serving):
    """The schema's limits are the serializer's: the largest valid evaluation posts; the rich fields land."""
    body = api_client.post("/api/layer2/orchestrate/", {"transcript": "Show chiller 1 power"}, format="json").json()
    experience = get_experience_buffer().get(body["query_id"])
    data = evaluation_for([w.widget_type for w in experience.widgets], rating="down")
    data["evaluation_reasoning"] = "r" * MAX_TEXT
    data["query_understanding"] = "q" * MAX_TEXT
    data["suggested_improvements"] = ["s" * MAX_ITEM_TEXT] * MAX_ITEMS
    data["per_widget_feedback"][0]["issues"] = ["i" * MAX_ITEM_TEXT] * MAX_ITEMS
    for judged, shown in zip(data["per_widget_feedback"], experience.widgets, strict=True):
        if judged["size_appropriate"] is False:  # the optional direction too, towards a size the widget has
            judged["size_direction"] = "larger" if shown.size != CATALOG[shown.widget_type].sizes[-1] else "smaller"
    assert any("size_direction" in judged for judged in data["per_widget_feedback"])
    evaluation = parse_evaluation(data, experience.widgets)

    response = client_for("claude", "--judge").post(
        "/api/layer2/feedback/", evaluation.feedback_payload(experience.query_id), format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {"query_id": experience.query_id, "rating": "down", "has_evaluation": True}
    stored = get_experience_buffer().get(experience.query_id).feedback
    assert stored.source == "judge:claude" and stored.rating == "down"
    assert [vars(w) for w in stored.per_widget_feedback] == [
        {"size_direction": None, **judged} for judged in data["per_widget_feedback"]
    ]
    for name in ("evaluation_confidence", "evaluation_reasoning", "query_understanding", "missing_widgets"):
        assert getattr(stored, name) == data[name]
    assert stored.suggested_improvements == data["suggested_improvements"]
    row = WidgetRating.objects.get(query_id=experience.query_id)
    assert row.source == "judge:claude" and row.evaluation_reasoning == data["evaluation_reasoning"]
