"""What the answer says when it cannot answer as asked: refusals, what it did not understand, and the data's start.

Each is a real orchestrate call over the seeded small plant (2 of each type,
2 days to 2026-03-02T00:00Z) on a plant clock of Asia/Singapore, and each
checks the journal too: what was not understood is recorded with the
experience, where the judge and the learners read it.
"""

import pytest

EXPERIENCES = "/api/layer2/experiences/"


def recorded(api_client, query_id: str) -> dict:
    experiences = api_client.get(EXPERIENCES, {"limit": 50}).json()["experiences"]
    return next(e for e in experiences if e["query_id"] == query_id)


@pytest.mark.parametrize(
    ("transcript", "refusal"),
    [("turn off pump 2", "command"), ("please switch on chiller 1", "command"),
     ("who won the cricket last night", "out_of_domain"), ("what's the share price of our company", "out_of_domain")],
)  # fmt: skip
def test_commands_and_outside_questions_get_a_short_refusal_and_no_widgets(ask, api_client, transcript, refusal):
    body = ask(transcript)
    assert body["widgets"] == [] and body["intent"]["refusal"] == refusal
    assert "can" in body["voice_response"] and not any(c.isdigit() for c in body["voice_response"])
    assert recorded(api_client, body["query_id"])["intent"]["refusal"] == refusal


def test_a_metric_the_type_lacks_is_said_with_what_it_has_never_another_value(ask, api_client):
    body = ask("what's the fuel level of pump 2")
    assert body["widgets"] == [] and body["intent"]["metrics"] == []
    assert body["voice_response"].startswith("Pump 2 has no fuel level; it has power consumption, flow rate")
    assert recorded(api_client, body["query_id"])["intent"]["not_understood"] == ["fuel level on pump"]


def test_words_that_are_no_metric_are_not_answered_with_the_power(ask):
    body = ask("how noisy is motor 1")
    assert body["widgets"] == [] and "kilowatts" not in body["voice_response"]
    assert body["voice_response"].startswith("I don't know what 'noisy' means for Motor 1; it has")
    assert body["intent"]["confidence"] < ask("motor 1 vibration")["intent"]["confidence"]


def test_a_time_phrase_not_understood_is_said_not_replaced_by_now(ask, api_client):
    body = ask("chiller 1 power since the big storm")
    assert body["widgets"] == [] and body["intent"]["time_range"]["label"] == "now"
    assert body["voice_response"].startswith("I didn't understand the time 'since the big storm'.")
    assert recorded(api_client, body["query_id"])["intent"]["not_understood"] == ["the time 'since the big storm'"]


def test_a_window_longer_than_the_data_says_where_the_data_starts(ask):
    body = ask("average power of chiller 1 over the last 3 years")
    assert body["intent"]["time_range"]["label"] == "last 3 years"
    assert body["voice_response"].endswith("The data starts on 28 February.")  # 2026-02-28T00:00Z is 08:00 there
    assert "data starts" not in ask("average power of chiller 1 over the last 6 hours")["voice_response"]


def test_clock_times_are_spoken_on_the_plant_clock(ask, plant_db):
    equipment_id, local = plant_db.execute(
        "SELECT equipment_id, raised_at AT TIME ZONE 'Asia/Singapore' FROM alerts "
        "ORDER BY raised_at DESC, id DESC LIMIT 1"
    ).fetchone()
    name, number = equipment_id.rsplit("_", 1)
    body = ask(f"when did {name.replace('_', ' ')} {int(number)} last alarm")
    clock = f"{(local.hour % 12) or 12}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"
    assert f"last alarmed at {clock} on {local.day} {local.strftime('%B')}" in body["voice_response"], body


@pytest.mark.parametrize(
    "transcript",
    [
        "how hot are chiller 2 and motor 1",  # two types: one word, two columns
        "dg 2 and meter 1 power",  # two types with no metric in common
        "chiller 1 power trend over the last 60 years",  # more days than one range query returns
        "pump 1 flow between 13 and 15 pm",  # no such clock time
        "last 99999 days of alarms on 31 february",
    ],
)
def test_a_well_formed_question_always_gets_an_answer(ask, transcript):
    body = ask(transcript)
    assert body["voice_response"]


def test_alerts_on_two_named_units_are_counted_on_those_two_only(ask, plant_db):
    equipment_type = plant_db.execute(
        "SELECT e.equipment_type FROM alerts a JOIN equipment e USING (equipment_id) "
        "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    said = equipment_type.replace("_", " ")
    body = ask(f"alarms on {said} 1 and {said} 2 over the last 2 days")
    counted = plant_db.execute(
        "SELECT count(*) FROM alerts WHERE equipment_id = ANY(%s) AND raised_at >= %s::timestamptz - interval '2 days' "
        "AND raised_at < %s",
        ([f"{equipment_type}_001", f"{equipment_type}_002"], "2026-03-02T00:01Z", "2026-03-02T00:01Z"),
    ).fetchone()[0]
    everywhere = plant_db.execute("SELECT count(*) FROM alerts").fetchone()[0]
    assert counted < everywhere  # the plant-wide count would be another number
    assert f" {counted} alert" in body["voice_response"] or (counted == 0 and "no alerts" in body["voice_response"])
    [widget] = [w for w in body["widgets"] if w["type"] == "alerts_list"]
    assert sum(widget["data"]["counts_by_severity"].values()) == counted
