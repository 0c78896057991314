"""Spoken answers over long windows say what SQL over the raw rows says, while rollups do the reading.

A plant with a reading a minute for 200 days (the shape of the customer's,
shorter), in Singapore's clock: each answer's numbers are recomputed here
from the raw rows of the window the answer reports.
"""

from __future__ import annotations

import re
from datetime import datetime

import psycopg
import pytest

from industrial.plant.seeding import SeedPlan, seed_plant
from layer2.services import get_orchestrator
from tests.conftest import PLANT_END, TEST_DATABASE

ZONE = "Asia/Singapore"


@pytest.fixture(scope="module")
def minute_plant(django_db_blocker):
    from industrial.database.connection import drop_database, recreate_database

    name = f"{TEST_DATABASE}_rollup_answers"
    with django_db_blocker.unblock():
        conninfo = recreate_database(name)
        plan = SeedPlan(days=200, counts={"chiller": 2, "energy_meter": 2}, seed=8, end=PLANT_END, time_zone=ZONE)
        seed_plant(conninfo=conninfo, plan=plan)
    yield name, conninfo
    drop_database(name)


@pytest.fixture
def answer(minute_plant, use_timeseries_database, experience_path, settings):
    name, conninfo = minute_plant
    settings.PLANT_TIME_ZONE = ZONE
    use_timeseries_database(name)
    get_orchestrator.cache_clear()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        yield lambda transcript: (get_orchestrator().answer(transcript), conn)
    get_orchestrator.cache_clear()


def numbers(voice: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.\d+", voice)]


def window(answer) -> tuple[datetime, datetime]:
    return answer.intent.time_range.start, answer.intent.time_range.end


@pytest.mark.parametrize(
    ("transcript", "sql"),
    [
        ("average chiller 1 power over the last 3 months", "avg(power_consumption_kw)"),
        ("what was the highest power of chiller 2 in the last 150 days", "max(power_consumption_kw)"),
        ("lowest chw supply temperature of chiller 1 over the past 100 days", "min(chw_supply_temp_c)"),
    ],
)
def test_a_spoken_figure_over_months_equals_sql_over_the_raw_rows(answer, transcript, sql):
    reply, conn = answer(transcript)
    table = "chiller_001" if "chiller 1" in transcript else "chiller_002"
    expected = conn.execute(
        f'SELECT {sql} FROM {table} WHERE "timestamp" >= %s AND "timestamp" < %s', window(reply)
    ).fetchone()[0]
    assert round(expected, 1) in numbers(reply.voice_response) or round(expected, 2) in numbers(reply.voice_response)
    [kpi] = [w for w in reply.widgets if w.widget_type == "kpi"]
    assert kpi.data["value"] == pytest.approx(expected, rel=1e-9)


def test_a_fleet_ranked_over_months_equals_sql_over_the_raw_rows(answer):
    reply, conn = answer("which chiller used the most power on average over the last 120 days")
    expected = {
        eq: conn.execute(
            f'SELECT avg(power_consumption_kw) FROM {eq} WHERE "timestamp" >= %s AND "timestamp" < %s', window(reply)
        ).fetchone()[0]
        for eq in ("chiller_001", "chiller_002")
    }
    best = max(expected, key=expected.get)
    assert f"Chiller {best[-1]}" in reply.voice_response
    assert round(expected[best], 1) in numbers(reply.voice_response)


def test_a_daily_trend_over_months_is_the_plants_days_averaged_from_raw_rows(answer):
    reply, conn = answer("chiller 1 power trend over the last 60 days")
    [trend] = [w for w in reply.widgets if w.widget_type == "trend_line"]
    assert trend.data["bucket"] == "1d"
    start, end = (datetime.fromisoformat(trend.data["window"][k].replace("Z", "+00:00")) for k in ("start", "end"))
    rows = conn.execute(
        "SELECT date_trunc('day', \"timestamp\", %s) AS d, avg(power_consumption_kw) FROM chiller_001 "
        'WHERE "timestamp" >= %s AND "timestamp" < %s GROUP BY d ORDER BY d',
        (ZONE, start, end),
    ).fetchall()
    points = trend.data["series"][0]["points"]
    assert [p[0] for p in points] == [d.isoformat().replace("+00:00", "Z") for d, _ in rows]  # 16:00Z: midnight
    assert [p[1] for p in points] == pytest.approx([v for _, v in rows], rel=1e-9)


def test_energy_over_months_adds_up_to_the_counter(answer):
    reply, conn = answer("how much energy did meter 1 use over the last 90 days")
    start, end = window(reply)
    before, last = conn.execute(
        'SELECT (SELECT energy_kwh FROM energy_meter_001 WHERE "timestamp" < %s ORDER BY "timestamp" DESC LIMIT 1), '
        '(SELECT energy_kwh FROM energy_meter_001 WHERE "timestamp" < %s ORDER BY "timestamp" DESC LIMIT 1)',
        (start, end),
    ).fetchone()
    assert round(last - before, 1) in numbers(reply.voice_response)
    [trend] = [w for w in reply.widgets if w.widget_type == "trend_line"]
    assert sum(v for _, v in trend.data["series"][0]["points"]) == pytest.approx(last - before, rel=1e-9)
