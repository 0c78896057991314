"""Diagnosis answers over the labelled fault cases (tests/data/diagnosis_cases.jsonl), through the API.

The plant is the cases' own (``diagnosis_cases.DIAGNOSIS_PLAN``); ground truth
is the fault the generator injected. Each case is asked on its own, in the
labels' zone. Two floors:

- *diagnosed*: the unit, the symptom and the first-ranked cause are the
  injected fault's;
- *the bar* (the issue's): the answer names the unit, reports two or more
  metrics, relates them to a limit, a usual level, an alert or the running
  state, and every number it says is one the offline judge re-reads from the
  database (``rl/judges/answer_facts.py``).
"""

import re

import pytest

from rl.experiences.buffer import get_experience_buffer
from rl.judges.answer_facts import AnswerFacts
from tests.layer2.answering.diagnosis_cases import load_cases
from tests.layer2.understanding.labels import ZONE

DIAGNOSED_FLOOR = 0.9
BAR_FLOOR = 0.9
RELATES = re.compile(r"\b(?:limit|usual|alerts?|running|stopped|ran)\b")
CASES = load_cases()


@pytest.fixture
def diagnosis_plant(diagnosis_plant_conninfo, use_timeseries_database, experience_path, settings):
    from tests.conftest import DIAGNOSIS_PLANT

    settings.PLANT_TIME_ZONE = ZONE
    use_timeseries_database(DIAGNOSIS_PLANT)


def ask(client, transcript: str) -> dict:
    response = client.post("/api/layer2/orchestrate/", {"transcript": transcript}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bar_misses(body: dict, experience, access) -> list[str]:
    """What the answer lacks of the issue's bar."""
    spoken, diagnosis = body["voice_response"], experience.data_summary["diagnosis"]
    name = access.catalog.table(diagnosis["equipment_id"]).display_name
    labels = [diagnosis["symptom"]["label"], *(d["label"] for d in diagnosis["drivers"])]
    misses = [] if name in spoken else [f"{name} not named"]
    reported = [label for label in labels if re.search(rf"\b{re.escape(label)}\b", spoken)]
    if len(reported) + (" is running" in spoken or " is stopped" in spoken or " ran " in spoken) < 2:
        misses.append(f"fewer than two metrics reported ({reported})")
    if not RELATES.search(spoken):
        misses.append("related to no limit, usual level, alert or running state")
    check = AnswerFacts(access).check_numbers(experience)
    if not check.checked or check.false:
        misses.append(f"numbers not the data's: {check.false}")
    return misses


def test_the_labelled_faults_are_diagnosed_and_meet_the_bar(api_client, diagnosis_plant):
    from industrial.timeseries.access import get_timeseries_access

    assert len(CASES) >= 40
    access, buffer = get_timeseries_access(), get_experience_buffer()
    wrong, short = [], []
    for case in CASES:
        body = ask(api_client, case["transcript"])
        expect, intent = case["expect"], body["intent"]
        experience = buffer.get(body["query_id"])
        diagnosis = experience.data_summary.get("diagnosis")
        if intent["intent_type"] != "diagnosis" or diagnosis is None:
            wrong.append(f"{case['transcript']!r}: read as {intent['intent_type']}")
            short.append(case["transcript"])
            continue
        found = (intent["equipment_ids"][:1], diagnosis["symptom"]["metric"], diagnosis["causes"][0]["kind"])
        if found != (expect["equipment_ids"], expect["symptom"], expect["cause"]):
            wrong.append(f"{case['transcript']!r} ({case['truth']['fault']}): {found}, want {expect}")
        if misses := bar_misses(body, experience, access):
            short.append(f"{case['transcript']!r}: {misses} in {body['voice_response']!r}")
    diagnosed, met = 1 - len(wrong) / len(CASES), 1 - len(short) / len(CASES)
    assert diagnosed >= DIAGNOSED_FLOOR, f"{diagnosed:.1%} diagnosed; wrong:\n" + "\n".join(wrong)
    assert met >= BAR_FLOOR, f"{met:.1%} meet the bar; short:\n" + "\n".join(short)


def test_a_diagnosis_shows_the_symptom_its_driver_its_alerts_and_its_peers(api_client, diagnosis_plant):
    case = next(c for c in CASES if c["truth"]["fault"] == "overheating" and not c["generic"])
    body = ask(api_client, case["transcript"])
    by_type = {w["type"]: w for w in body["widgets"]}
    assert {"trend_line", "alerts_list", "comparison"} <= set(by_type) and ({"gauge", "kpi"} & set(by_type))
    symptom = case["expect"]["symptom"]
    series = [s["metric"] for s in by_type["trend_line"]["data"]["series"]]
    assert series[0] == symptom and len(series) == 2 and series[1] != symptom  # with its strongest driver
    assert by_type["comparison"]["equipment_ids"][0] == case["expect"]["equipment_ids"][0]
    assert len(by_type["comparison"]["equipment_ids"]) >= 3
    assert body["intent"]["metrics"] == [symptom]


def test_a_healthy_unit_is_said_to_be_healthy_with_its_numbers(api_client, diagnosis_plant):
    faulty = {c["expect"]["equipment_ids"][0] for c in CASES}
    words = {"pump": "pump", "motor": "motor", "chiller": "chiller", "boiler": "boiler", "ahu": "AHU", "ups": "UPS"}
    healthy = next(f"{w} {n}" for t, w in words.items() for n in range(1, 6) if f"{t}_{n:03d}" not in faulty)
    body = ask(api_client, f"is anything wrong with {healthy}")
    assert body["intent"]["intent_type"] == "diagnosis"
    assert "Nothing points to a fault" in body["voice_response"] or "Most likely" in body["voice_response"]
    experience = get_experience_buffer().get(body["query_id"])
    from industrial.timeseries.access import get_timeseries_access

    check = AnswerFacts(get_timeseries_access()).check_numbers(experience)
    assert check.checked and check.claims and not check.false, (check, body["voice_response"])
