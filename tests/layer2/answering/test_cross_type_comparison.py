"""A comparison across equipment types answers what exists and says what does not (issue 14).

"Compare chiller 1 and pump 1 cop": chiller 1 has a COP, pump 1 has none. The
answer shows and speaks chiller 1's COP and says pump 1 has none, with what it
has; it never shows another metric (their power) as if it were the one asked.
Real orchestrate calls over the seeded small plant; numbers checked by SQL.
"""

import pytest


def latest(plant_db, table: str, column: str) -> float:
    return plant_db.execute(f'SELECT {column} FROM {table} ORDER BY "timestamp" DESC LIMIT 1').fetchone()[0]


def columns(plant_db, table: str) -> set[str]:
    rows = plant_db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    return {r[0] for r in rows}


def assert_only_what_was_asked(body: dict, plant_db) -> None:
    """Every widget with a metric shows one the operator asked, and only for units that have it."""
    asked = body["intent"]["metrics"]
    for widget in body["widgets"]:
        if widget["metric"] is None:
            continue
        assert not asked or widget["metric"] in asked, (widget["title"], asked)
        for eq in widget["equipment_ids"]:
            assert widget["metric"] in columns(plant_db, eq), (widget["title"], eq)


def test_a_metric_one_unit_lacks_is_shown_for_the_other_and_said_missing(ask, plant_db):
    body = ask("Compare chiller 1 and pump 1 cop")
    cop = latest(plant_db, "chiller_001", "cop")
    voice = body["voice_response"]
    assert voice.startswith(f"Chiller 1 cop is {cop:.2f}.")
    assert "Pump 1 has no cop; it has power consumption, flow rate" in voice
    assert "kilowatts" not in voice and "running" not in voice  # never the pump's power instead
    assert body["widgets"], body
    assert_only_what_was_asked(body, plant_db)
    shown = [w for w in body["widgets"] if w["metric"] == "cop"]
    assert shown and all(w["equipment_ids"] == ["chiller_001"] for w in shown)
    assert any(w["type"] in ("trend_line", "comparison") for w in shown)  # the chart the comparison asked for
    assert not any("power" in w["title"].lower() for w in body["widgets"])


def test_each_unit_is_shown_with_its_own_metric(ask, plant_db):
    body = ask("compare chiller 1 cop and pump 1 flow")
    cop, flow = latest(plant_db, "chiller_001", "cop"), latest(plant_db, "pump_001", "flow_rate_m3h")
    assert body["intent"]["metrics"] == ["cop", "flow_rate_m3h"]  # the chiller's own flow was not asked
    assert (
        body["voice_response"]
        == f"Chiller 1 cop is {cop:.2f} and Pump 1 flow rate is {flow:.1f} cubic meters per hour."
    )
    assert_only_what_was_asked(body, plant_db)
    titles = [w["title"] for w in body["widgets"]]
    assert not any("power" in t.lower() for t in titles), titles
    assert any(t.startswith("Chiller 1 cop") for t in titles) and any(t.startswith("Pump 1 flow rate") for t in titles)


def test_a_comparison_within_one_type_is_unchanged(ask, plant_db):
    body = ask("compare chiller 1 and chiller 2 cop")
    first, second = (latest(plant_db, t, "cop") for t in ("chiller_001", "chiller_002"))
    assert body["voice_response"] == f"Chiller 1 cop is {first:.2f} and Chiller 2 cop is {second:.2f}."
    assert [(w["type"], w["title"], w["equipment_ids"]) for w in body["widgets"]] == [
        ("comparison", "Chiller 1, Chiller 2 cop comparison", ["chiller_001", "chiller_002"]),
        ("bar_ranking", "Chiller 1, Chiller 2 cop ranking", ["chiller_001", "chiller_002"]),
        ("table", "Chiller 1, Chiller 2 cop readings", ["chiller_001", "chiller_002"]),
    ]


def test_units_of_the_type_that_has_it_are_compared_together(ask, plant_db):
    body = ask("compare chiller 1, chiller 2 and pump 1 cop over the last day")
    assert_only_what_was_asked(body, plant_db)
    [chart] = [w for w in body["widgets"] if w["type"] == "comparison"]
    assert chart["equipment_ids"] == ["chiller_001", "chiller_002"] and chart["metric"] == "cop"
    assert "Pump 1 has no cop; it has" in body["voice_response"]


@pytest.mark.parametrize(
    "transcript",
    [
        "how hot are chiller 2 and motor 1",
        "compare boiler 1 and pump 2 flow",
        "dg 2 and meter 1 power",
        "chiller 1 and pump 1 cop trend over the last 3 days",
        "is pump 1 or chiller 1 running",
        "compare chiller 1 and pump 1",
        "compare pump 1 with the chillers cop",  # the metric read off a fleet named beside the unit
    ],
)
def test_a_question_across_types_never_shows_a_metric_not_asked(ask, plant_db, transcript):
    body = ask(transcript)
    assert body["widgets"] and body["voice_response"]
    assert_only_what_was_asked(body, plant_db)
