"""The offline judge: real answers from the orchestrator over the seeded plant, judged without a network.

The numbers it checks are re-read from the database through the access
layer; the tests tamper with a real answer (another equipment, another
metric, a different number, a dropped widget) and see the judge notice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from statistics import mean

import pytest

from rl.experiences.buffer import get_experience_buffer
from rl.experiences.records import Experience, Feedback, WidgetChoice
from rl.experiences.reward import plan_reward
from rl.judges.answer_facts import AnswerFacts, spoken_claims, supports
from rl.judges.offline import OfflineJudge
from tests.conftest import PLANT_END


@pytest.fixture
def ask(api_client, serving):
    def ask(transcript: str) -> Experience:
        body = api_client.post("/api/layer2/orchestrate/", {"transcript": transcript}, format="json").json()
        return get_experience_buffer().get(body["query_id"])

    return ask


@pytest.fixture
def judge(access) -> OfflineJudge:
    return OfflineJudge(AnswerFacts(access))


def scores(evaluation) -> list[float]:
    return [w.appropriateness_score for w in evaluation.per_widget_feedback]


def without(experience: Experience, widget_type: str) -> Experience:
    """The answer with every ``widget_type`` widget taken out (the data summary re-keyed to match)."""
    kept = [(i, w) for i, w in enumerate(experience.widgets) if w.widget_type != widget_type]
    summary = {}
    for new, (old, w) in enumerate(kept):
        if f"{old}:{w.widget_type}" in experience.data_summary:
            summary[f"{new}:{w.widget_type}"] = experience.data_summary[f"{old}:{w.widget_type}"]
    return replace(experience, widgets=[w for _, w in kept], data_summary=summary)


def test_a_plan_about_the_wrong_equipment_scores_lower_than_the_right_one(ask, judge):
    right = ask("Show chiller 1 power")
    wrong = replace(right, widgets=[replace(w, equipment_ids=["chiller_002"]) for w in right.widgets])
    good, bad = judge.evaluation(right), judge.evaluation(wrong)

    assert all(b < g for g, b in zip(scores(good), scores(bad), strict=True))
    assert mean(scores(bad)) < 0.3 < 0.6 < mean(scores(good))
    assert (good.rating, bad.rating) == ("up", "down")
    assert plan_reward(Feedback(**vars(bad))) < plan_reward(Feedback(**vars(good)))  # what the learners would get
    assert "shows chiller_002; the question was about chiller_001" in bad.per_widget_feedback[0].issues


def test_a_widget_with_the_wrong_metric_scores_lower(ask, judge):
    right = ask("Show chiller 1 power")
    assert right.widgets[0].widget_type == "kpi"
    wrong = replace(right, widgets=[replace(right.widgets[0], metric="chw_supply_temp_c"), *right.widgets[1:]])
    good, bad = judge.evaluation(right), judge.evaluation(wrong)
    assert scores(bad)[0] < scores(good)[0] and scores(bad)[1:] == scores(good)[1:]
    assert "shows chw_supply_temp_c; the question was about power_consumption_kw" in bad.per_widget_feedback[0].issues


SPOKEN = [
    "Show chiller 1 power",
    "UPS 1 battery charge",
    "energy meter 2 power factor",
    "what is the speed of motor 1",
    "average power of chiller 2 over the last 12 hours",
    "pump 2 max vibration over the last 6 hours",
    "compare chillers 1 and 2 power over the last 24 hours",
    "how much energy did meter 1 use yesterday",
    "top 2 pumps by motor temperature",
    "how much energy did the plant use today",
    "pump 1",
]


@pytest.mark.parametrize("transcript", SPOKEN)
def test_true_numbers_pass_and_a_false_one_is_caught(ask, judge, transcript):
    answer = ask(transcript)
    check = judge.facts.check_numbers(answer)
    assert check.checked and check.claims and check.false == [], (answer.voice_response, check)
    assert judge.evaluation(answer).rating == "up"

    said = check.claims[-1]
    decimals = len(said.partition(".")[2])
    lie = f"{float(said) + 7.3:.{decimals}f}"
    at = answer.voice_response.rindex(said)
    tampered = replace(
        answer, voice_response=answer.voice_response[:at] + lie + answer.voice_response[at + len(said) :]
    )
    evaluation = judge.evaluation(tampered)
    assert judge.facts.check_numbers(tampered).false == [lie], tampered.voice_response
    assert evaluation.rating == "down" and evaluation.evaluation_confidence == 0.95
    assert f"Correct the spoken value {lie}: the database does not hold it" in evaluation.suggested_improvements
    assert lie in evaluation.evaluation_reasoning


def test_a_kpi_showing_a_value_the_database_does_not_hold_is_caught(ask, judge):
    answer = ask("average power of chiller 2 over the last 12 hours")
    true_value = answer.data_summary["0:kpi"]["value"]
    shown = {**answer.data_summary, "0:kpi": {**answer.data_summary["0:kpi"], "value": true_value * 1.1 + 1}}
    evaluation = judge.evaluation(replace(answer, data_summary=shown))
    assert evaluation.rating == "down"
    assert evaluation.per_widget_feedback[0].issues[-1].startswith("shows the value")
    assert scores(evaluation)[0] < scores(judge.evaluation(answer))[0]


def test_active_alerts_not_shown_make_the_alerts_list_missing(ask, judge, plant_db):
    answer = ask("Show chiller 1 power")
    assert "alerts_list" in [w.widget_type for w in answer.widgets]
    trimmed = without(answer, "alerts_list")
    assert judge.evaluation(trimmed).missing_widgets == []  # no active alert on chiller 1 in the seeded plant

    raised = PLANT_END - timedelta(hours=1)
    row = plant_db.execute(
        "INSERT INTO alerts (equipment_id, severity, metric, value, threshold, message, raised_at) "
        "VALUES ('chiller_001', 'high', 'power_consumption_kw', 400, 350, 'power high', %s) RETURNING id",
        (raised,),
    ).fetchone()
    try:
        evaluation = judge.evaluation(trimmed)
        shown = judge.evaluation(answer)
    finally:
        plant_db.execute("DELETE FROM alerts WHERE id = %s", row)
    assert evaluation.missing_widgets == ["alerts_list"] and shown.missing_widgets == []
    assert "Add an alerts_list: 1 alerts are active" in evaluation.suggested_improvements
    assert "1 active alerts on what was asked about" in evaluation.evaluation_reasoning


def test_a_plan_without_a_widget_that_answers_the_question_names_one_missing(ask, judge):
    answer = ask("compare chillers 1 and 2 power over the last 24 hours")
    assert judge.evaluation(answer).missing_widgets == []
    assert judge.evaluation(without(answer, "comparison")).missing_widgets == ["comparison"]


def test_the_same_answer_always_gets_the_same_valid_evaluation(ask, judge):
    answer = ask("top 2 pumps by motor temperature")
    first, second = judge.evaluate(answer), judge.evaluate(answer)
    assert first == second and first.evaluation is not None
    assert first.evaluation.query_understanding == "A ranking question about pump (motor_temp_c): latest, now."
    assert (first.input_tokens, first.output_tokens, judge.cost_usd(10, 10)) == (0, 0, 0.0)


def test_without_a_database_numbers_go_unchecked_and_confidence_is_lower(ask):
    answer = ask("Show chiller 1 power")
    lie = replace(answer, voice_response="Chiller 1 is drawing 999.9 kilowatts.")
    evaluation = OfflineJudge(None).evaluate(lie).evaluation
    assert evaluation.evaluation_confidence == 0.6 and evaluation.rating == "up"
    assert "spoken numbers not checked (no database)" in evaluation.evaluation_reasoning
    wrong_type = replace(answer, widgets=[replace(w, equipment_ids=["pump_001"]) for w in answer.widgets])
    assert mean(scores(OfflineJudge(None).evaluation(wrong_type))) < 0.3


def test_sizes_must_exist_and_fit_what_the_widget_holds():
    def plan(*widgets: tuple[str, str, int]) -> Experience:
        chosen = [WidgetChoice(t, size, t, [], "power_consumption_kw", 1.0, 0.5) for t, size, _ in widgets]
        summary = {f"{i}:{t}": {"items": n, "abnormal": 0} for i, (t, _, n) in enumerate(widgets)}
        intent = {"intent_type": "ranking", "equipment_type": "pump", "equipment_ids": [], "confidence": 0.9,
                  "metrics": ["power_consumption_kw"], "aggregation": "latest",
                  "time_range": {"label": "now"}}  # fmt: skip
        return Experience("q" * 32, "rank pumps", intent, chosen, [], "", 1.0, {}, summary, "rules", "rules", PLANT_END)

    evaluation = OfflineJudge(None).evaluation(
        plan(
            ("bar_ranking", "medium", 3),
            ("bar_ranking", "medium", 10),
            ("bar_ranking", "large", 10),
            ("kpi", "full", 1),
        )
    )
    assert [w.size_appropriate for w in evaluation.per_widget_feedback] == [True, False, True, False]
    assert [w.size_direction for w in evaluation.per_widget_feedback] == [None, "larger", None, None]
    assert evaluation.per_widget_feedback[1].issues == ["too narrow (medium) for what it holds"]
    assert evaluation.per_widget_feedback[3].issues[-1] == "full is not a size a kpi comes in"


def test_spoken_claims_leave_out_names_counts_windows_and_unknown_equipment():
    text = (
        "I couldn't find chiller 15. The closest are Chiller 2 and Chiller 1. The top 3 pumps by motor temp are "
        "Pump 1 at 31.5 degrees Celsius, Pump 12 at -0.4 degrees Celsius and UPS 2 at 7 percent over the last 12 hours."
    )
    assert spoken_claims(text) == ["31.5", "-0.4", "7"]
    assert spoken_claims("Energy Meter 2 power factor is 0.91.") == ["0.91"]
    assert supports("31.5", 31.46) and supports("31.5", 31.5499) and not supports("31.5", 31.56)
    assert supports("7", 7.4) and not supports("7", 7.6) and supports("0.91", 0.9149)


@pytest.mark.parametrize(
    ("transcript", "said"),
    [("turn off pump 1", "Declined as a command"), ("what's the fuel level of pump 2", "Not understood: fuel level")],
)
def test_a_refusal_or_an_honest_i_cannot_tell_with_no_widgets_is_rated_up(ask, judge, transcript, said):
    experience = ask(transcript)
    assert experience.widgets == []
    evaluation = judge.evaluation(experience)
    assert evaluation.rating == "up" and said in evaluation.query_understanding
    answered = ask("pump 2 power")
    assert judge.evaluation(replace(answered, widgets=[], data_summary={})).rating == "down"  # an empty plan is not
