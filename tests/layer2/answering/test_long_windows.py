"""Windows of any length are answered over the data that exists, in buckets that fit it (issue 14).

"The last million days" is a readable window: it starts at the floor of every
window (``time_windows.EARLIEST``), the intent keeps the words asked, the
voice says where the data starts, and the chart covers the data in buckets
chosen from the span the data covers (weeks, then months, for years of it).
Each answer is a real orchestrate call, over the seeded small plant (2 days)
or over a plant with four years of six-hourly readings.
"""

from datetime import timedelta

import psycopg
import pytest

from industrial.plant.seeding import SeedPlan, seed_plant
from industrial.timeseries.access import BUCKETS, MAX_POINTS
from layer2.answering.data_binding import bucket_for
from layer2.services import get_orchestrator
from tests.conftest import PLANT_END, TEST_DATABASE

ORCHESTRATE = "/api/layer2/orchestrate/"
FLOOR = "1900-01-01T00:00:00Z"
FIRST_READING = "2026-02-28T00:01:00Z"  # the small plant's first row


@pytest.mark.parametrize(
    ("transcript", "label"),
    [
        ("Show chiller 1 power over the last 1000000 days", "last 1000000 days"),
        ("Show chiller 1 power over the last 99999999999999999999 days", "last 99999999999999999999 days"),
        ("Show chiller 1 power over the last 200 days", "last 200 days"),
        ("Show chiller 1 power over the last 400 days", "last 400 days"),
        ("Show chiller 1 power over the last 1000 months", "last 1000 months"),
        ("Show chiller 1 power over the last two thousand years", "last 2000 years"),
        ("chiller 1 cop trend for the past 100000 weeks", "last 100000 weeks"),
        ("compare chiller 1 and chiller 2 cop over the last 5000 years", "last 5000 years"),
        ("energy used by meter 1 over the last 1000000 hours", "last 1000000 hours"),
        ("which pump had the highest flow over the last 50000 days", "last 50000 days"),
        ("alarms on chiller 1 over the last 1000000 days", "last 1000000 days"),
    ],
)
def test_a_window_of_any_length_is_answered_with_widgets(ask, transcript, label):
    body = ask(transcript)
    intent = body["intent"]
    assert intent["not_understood"] == [] and intent["time_range"]["label"] == label
    assert body["widgets"] and "didn't understand" not in body["voice_response"]
    for widget in body["widgets"]:
        if "bucket" in widget["data"]:
            assert widget["data"]["window"]["start"] >= FIRST_READING[:10]  # charted over the data there is
            assert widget["data"]["window"]["label"] == label


def test_a_million_days_say_what_was_asked_and_what_was_covered(ask, plant_db):
    body = ask("Show chiller 1 power over the last 1000000 days")
    time_range = body["intent"]["time_range"]
    assert (time_range["start"], time_range["end"]) == (FLOOR, "2026-03-02T00:01:00Z")
    mean = plant_db.execute("SELECT avg(power_consumption_kw) FROM chiller_001").fetchone()[0]
    spoken = f"Chiller 1 power consumption averaged {mean:.1f} kilowatts over the last 1000000 days."
    assert body["voice_response"] == f"{spoken} The data starts on 28 February."  # 08:01 in Singapore
    [trend] = [w for w in body["widgets"] if w["type"] == "trend_line"]
    assert (trend["data"]["window"]["start"], trend["data"]["bucket"]) == (FIRST_READING, "1h")  # two days covered
    [kpi] = [w for w in body["widgets"] if w["type"] == "kpi"]
    assert kpi["data"]["value"] == pytest.approx(mean) and kpi["data"]["start"] == FLOOR


@pytest.mark.parametrize("transcript", ["chiller 1 power over the last 0 days", "pump 2 flow in the past zero hours"])
def test_a_window_of_no_time_is_said_not_understood(ask, transcript):
    body = ask(transcript)
    assert body["widgets"] == [] and body["intent"]["not_understood"][0].startswith("the time '")
    assert body["voice_response"].startswith("I didn't understand the time '")


def test_stepping_back_from_a_million_days_is_answered(ask, api_client, serving):
    first = ask("Show chiller 1 power over the last 1000000 days")
    turns = [first]
    for _ in range(3):
        response = api_client.post(
            ORCHESTRATE,
            {"transcript": "and the period before that", "conversation_id": turns[-1]["conversation_id"]},
            format="json",
        )
        assert response.status_code == 200, response.content
        turns.append(response.json())
    assert all(t["intent"]["time_range"]["end"] <= FLOOR for t in turns[1:])
    assert all(t["voice_response"] for t in turns)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0.1, "5m"), (1, "1h"), (2, "1h"), (7, "6h"), (14, "6h"), (30, "1d"), (150, "1d"), (151, "1w"), (365, "1w"),
     (3 * 365, "1w"), (3 * 366 + 1, "1mo"), (50 * 365, "1mo"), (46_000, "1mo")],
)  # fmt: skip
def test_buckets_coarsen_to_weeks_then_months_as_the_span_grows(days, bucket):
    chosen = bucket_for(timedelta(days=days))
    assert chosen == bucket
    width = timedelta(days=28) if chosen == "1mo" else BUCKETS[chosen]  # a month: the shortest
    assert timedelta(days=days) / width <= MAX_POINTS


# --------------------------------------------------------------------------- four years of data

LONG_DAYS = 1500


@pytest.fixture
def long_plant(scratch_database, use_timeseries_database, experience_path, settings):
    """A chiller and an energy meter with a reading every 6 hours for 1500 days, served by the orchestrator."""
    conninfo = scratch_database("long_answers")
    plan = SeedPlan(days=LONG_DAYS, interval=21600, counts={"chiller": 1, "energy_meter": 1}, seed=3, end=PLANT_END,
                    fault_rate=0)  # fmt: skip
    seed_plant(conninfo=conninfo, plan=plan)
    use_timeseries_database(f"{TEST_DATABASE}_long_answers")
    settings.PLANT_TIME_ZONE = "UTC"
    get_orchestrator.cache_clear()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        yield get_orchestrator(), conn
    get_orchestrator.cache_clear()


@pytest.mark.parametrize(
    ("words", "bucket"),
    [("the last 10 years", "1mo"), ("the last 1000000 days", "1mo"), ("the last 2 years", "1w"),
     ("the last 200 days", "1w"), ("the last 100 days", "1d"), ("the last 3 days", "6h")],
)  # fmt: skip
def test_a_trend_over_years_of_data_is_charted_in_weeks_or_months(long_plant, words, bucket):
    orchestrator, conn = long_plant
    answer = orchestrator.answer(f"chiller 1 power trend over {words}")
    [trend] = [w for w in answer.widgets if w.widget_type == "trend_line"]
    assert trend.data["bucket"] == bucket
    [series] = trend.data["series"]
    start, end = answer.intent.time_range.start, answer.intent.time_range.end
    first = conn.execute(
        'SELECT min("timestamp") FROM chiller_001 WHERE "timestamp" >= %s AND "timestamp" < %s', (start, end)
    ).fetchone()[0]
    assert 12 <= len(series["points"]) <= 160
    assert series["points"][0][0] <= first.isoformat().replace("+00:00", "Z")  # the first bucket holds it


def test_monthly_energy_adds_up_to_the_spoken_total(long_plant):
    orchestrator, conn = long_plant
    answer = orchestrator.answer("energy used by meter 1 over the last 100 years")
    [trend] = [w for w in answer.widgets if w.widget_type == "trend_line"]
    first, last = conn.execute(
        'SELECT (SELECT energy_kwh FROM energy_meter_001 ORDER BY "timestamp" LIMIT 1), '
        '(SELECT energy_kwh FROM energy_meter_001 ORDER BY "timestamp" DESC LIMIT 1)'
    ).fetchone()
    assert (trend.data["bucket"], trend.data["aggregation"]) == ("1mo", "delta")
    assert sum(v for _, v in trend.data["series"][0]["points"]) == pytest.approx(last - first, rel=1e-9)
    assert f"{last - first:,.1f}".replace(",", "") in answer.voice_response.replace(",", "")


def test_a_diagnosis_over_a_thousand_years_reads_the_data_there_is(ask):
    voice = ask("what's wrong with chiller 1 over the last 1000 years")["voice_response"]
    assert "1 January" not in voice and "over the last 1000 years" in voice  # not "since 1900"
    assert "between 8:01 am on 28 February and" in voice or "between" not in voice
