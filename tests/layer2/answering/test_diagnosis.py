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

import pytest

from rl.experiences.buffer import get_experience_buffer
from rl.judges.answer_facts import AnswerFacts
from tests.layer2.answering.diagnosis_cases import CASES_PATH, bar_misses, diagnosed_misses, load_cases
from tests.layer2.understanding.labels import ZONE

DIAGNOSED_FLOOR = 0.9
BAR_FLOOR = 0.9
CASES = load_cases()
HELD_OUT = CASES_PATH.parent / "held_out" / "diagnosis_cases.jsonl"  # held-out phrasings, scored blind once


@pytest.fixture
def diagnosis_plant(diagnosis_plant_conninfo, use_timeseries_database, experience_path, settings):
    from tests.conftest import DIAGNOSIS_PLANT

    settings.PLANT_TIME_ZONE = ZONE
    use_timeseries_database(DIAGNOSIS_PLANT)


def ask(client, transcript: str) -> dict:
    response = client.post("/api/layer2/orchestrate/", {"transcript": transcript}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("path", [CASES_PATH, HELD_OUT], ids=["labelled", "held-out"])
def test_the_labelled_faults_are_diagnosed_and_meet_the_bar(api_client, diagnosis_plant, path):
    from industrial.timeseries.access import get_timeseries_access

    cases = load_cases(path)
    assert len(cases) >= 40
    access, buffer = get_timeseries_access(), get_experience_buffer()
    wrong, short = [], []
    for case in cases:
        body = ask(api_client, case["transcript"])
        experience = buffer.get(body["query_id"])
        if misses := diagnosed_misses(case, body, experience):
            wrong.append(f"{case['transcript']!r} ({case['truth']['fault']}): {misses}")
        if "diagnosis" not in experience.data_summary:
            short.append(case["transcript"])
        elif misses := bar_misses(body, experience, access):
            short.append(f"{case['transcript']!r}: {misses} in {body['voice_response']!r}")
    diagnosed, met = 1 - len(wrong) / len(cases), 1 - len(short) / len(cases)
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
