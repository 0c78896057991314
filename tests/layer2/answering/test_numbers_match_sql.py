"""Every number spoken, and every KPI shown, equals an independent SQL query over the same data.

Speech rounds by the documented rule: one decimal; two for power factor and
COP; whole numbers for rpm and ppm. The expected values here come straight
from SQL and are rounded the same way.
"""

import re
from datetime import timedelta

import pytest

from tests.conftest import PLANT_END

NOW = PLANT_END + timedelta(minutes=1)  # the orchestrator's "now": just after the newest reading
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def latest(db, table: str, column: str) -> float:
    return db.execute(f'SELECT {column} FROM {table} ORDER BY "timestamp" DESC LIMIT 1').fetchone()[0]


def window(db, sql_agg: str, table: str, column: str, hours: float) -> float:
    return db.execute(
        f'SELECT {sql_agg}({column}) FROM {table} WHERE "timestamp" >= %s AND "timestamp" < %s',
        (NOW - timedelta(hours=hours), NOW),
    ).fetchone()[0]


def reading_before(db, table: str, column: str, at) -> float:
    return db.execute(
        f'SELECT {column} FROM {table} WHERE "timestamp" < %s ORDER BY "timestamp" DESC LIMIT 1', (at,)
    ).fetchone()[0]


def said(value: float, decimals: int = 1) -> str:
    text = f"{value:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text


CASES = {
    "Show chiller 1 power": lambda db: [said(latest(db, "chiller_001", "power_consumption_kw"))],
    "UPS 1 battery charge": lambda db: [said(latest(db, "ups_001", "battery_charge_percent"))],
    "energy meter 2 power factor": lambda db: [said(latest(db, "energy_meter_002", "power_factor"), 2)],
    "what is the speed of motor 1": lambda db: [said(latest(db, "motor_001", "speed_rpm"), 0)],
    "average power of chiller 2 over the last 12 hours": lambda db: [
        said(window(db, "avg", "chiller_002", "power_consumption_kw", 12))
    ],
    "pump 2 max vibration over the last 6 hours": lambda db: [said(window(db, "max", "pump_002", "vibration_mm_s", 6))],
    "compare chillers 1 and 2 power over the last 24 hours": lambda db: [
        said(window(db, "avg", "chiller_001", "power_consumption_kw", 24)),
        said(window(db, "avg", "chiller_002", "power_consumption_kw", 24)),
    ],
    "how much energy did meter 1 use yesterday": lambda db: [
        said(
            reading_before(db, "energy_meter_001", "energy_kwh", PLANT_END)
            - reading_before(db, "energy_meter_001", "energy_kwh", PLANT_END - timedelta(days=1))
        )
    ],
    "top 2 pumps by motor temperature": lambda db: [
        said(v) for v in sorted((latest(db, f"pump_00{n}", "motor_temp_c") for n in (1, 2)), reverse=True)
    ],
}


@pytest.mark.parametrize("transcript", list(CASES))
def test_spoken_numbers_equal_sql(api_client, serving, plant_db, transcript):
    body = api_client.post("/api/layer2/orchestrate/", {"transcript": transcript}, format="json").json()
    spoken = [n for n in NUMBER.findall(body["voice_response"]) if not _is_name_number(n, body["voice_response"])]
    assert spoken == CASES[transcript](plant_db), body["voice_response"]


def _is_name_number(number: str, text: str) -> bool:
    """The 1 in "Chiller 1", the 2 in "top 2" or the 12 in "last 12 hours" is a name, count or window."""
    n = re.escape(number)
    return bool(
        re.search(rf"\b(Chiller|Pump|UPS|Motor|Energy Meter|top|bottom|last) {n}\b", text)
        or re.search(rf"\b{n} (hours|days|minutes|weeks)\b", text)
    )


KPI_CASES = [
    ("Show chiller 1 power", "chiller_001", "power_consumption_kw", None),
    ("average power of chiller 2 over the last 12 hours", "chiller_002", "power_consumption_kw", ("avg", 12)),
    ("boiler 1 steam pressure peak over the last 3 hours", "boiler_001", "steam_pressure_bar", ("max", 3)),
]


@pytest.mark.parametrize("transcript, table, column, aggregate", KPI_CASES)
def test_kpi_widgets_hold_the_database_value(api_client, serving, plant_db, transcript, table, column, aggregate):
    body = api_client.post("/api/layer2/orchestrate/", {"transcript": transcript}, format="json").json()
    [kpi] = [w for w in body["widgets"] if w["type"] == "kpi"]
    assert kpi["equipment_ids"] == [table] and kpi["metric"] == column
    expected = (
        latest(plant_db, table, column)
        if aggregate is None
        else window(plant_db, aggregate[0], table, column, aggregate[1])
    )
    assert kpi["data"]["value"] == pytest.approx(expected, rel=1e-9)


def test_fleet_summary_counts_match_sql(api_client, serving, plant_db):
    body = api_client.post(
        "/api/layer2/orchestrate/", {"transcript": "how are the chillers doing"}, format="json"
    ).json()
    running = sum(latest(plant_db, f"chiller_00{n}", "running_status") >= 0.5 for n in (1, 2))
    total = sum(latest(plant_db, f"chiller_00{n}", "power_consumption_kw") for n in (1, 2))
    active = plant_db.execute(
        "SELECT count(*) FROM alerts JOIN equipment USING (equipment_id) "
        "WHERE cleared_at IS NULL AND equipment_type = 'chiller'"
    ).fetchone()[0]
    assert body["voice_response"].startswith(f"{running} of 2 chillers ")
    assert f"{said(total)} kilowatts in total, with {active} active alert" in body["voice_response"]
