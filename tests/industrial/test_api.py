"""The industrial REST API over real HTTP (DRF test client), each answer checked by independent SQL."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from rest_framework.test import APIClient

from tests.conftest import PLANT_END, TEST_DATABASE

API = "/api/industrial"
DAY_START = PLANT_END - timedelta(days=1)
EQUIPMENT_COLUMNS = (
    "equipment_id, equipment_type, display_name, building, zone, rated_capacity, rated_unit, install_date, criticality"
)
ALL_PATHS = [
    "/equipment/",
    "/equipment/chiller_001/",
    "/equipment/chiller_001/latest/",
    "/equipment/chiller_001/timeseries/?metric=power_consumption_kw",
    "/alerts/",
]


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def get(client: APIClient, path: str, params: dict | None = None):
    return client.get(API + path, params or {})


def equipment_rows(plant_db, where: str = "TRUE", params: tuple = ()) -> list[dict]:
    cur = plant_db.execute(f"SELECT {EQUIPMENT_COLUMNS} FROM equipment WHERE {where} ORDER BY equipment_id", params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur]


def metric_columns(plant_db, table: str) -> list[str]:
    return [
        r[0]
        for r in plant_db.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s AND column_name <> 'timestamp' "
            "ORDER BY ordinal_position",
            (table,),
        )
    ]


def assert_equipment_matches(body: dict, row: dict, columns: list[str]) -> None:
    expected = {**row, "install_date": row["install_date"].isoformat()}
    assert {k: body[k] for k in expected} == expected
    assert [m["name"] for m in body["metrics"]] == columns


def alert_ids(plant_db, where: str = "TRUE", params: dict | None = None) -> list[int]:
    query = (
        f"SELECT a.id FROM alerts a JOIN equipment e USING (equipment_id) WHERE {where} "
        "ORDER BY a.raised_at DESC, a.id DESC"
    )
    return [r[0] for r in plant_db.execute(query, params or {})]


def severity_counts(plant_db, ids: list[int]) -> dict[str, int]:
    counts = dict(
        plant_db.execute("SELECT severity, count(*) FROM alerts WHERE id = ANY(%s) GROUP BY severity", (ids,))
    )
    return {s: counts.get(s, 0) for s in ("critical", "high", "medium", "low")}


def bucketed(plant_db, table: str, column: str, seconds: int, agg: str, start: datetime, end: datetime):
    """[iso bucket start, value] by flooring epoch seconds: independent of the API's date_bin. Values in double
    precision: PostgreSQL adds up a ``real`` column in float4, which the API does not."""
    query = sql.SQL(
        'SELECT to_timestamp(floor(extract(epoch FROM "timestamp") / %(s)s) * %(s)s) AS b, {agg}({c}::float8) '
        'FROM {t} WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s GROUP BY b ORDER BY b'
    ).format(agg=sql.SQL(agg), c=sql.Identifier(column), t=sql.Identifier(table))
    if agg != "sum":
        query = sql.SQL(query.as_string().replace("::float8)", ")"))
    rows = plant_db.execute(query, {"s": seconds, "start": start, "end": end}).fetchall()
    return [iso(b) for b, _ in rows], [v for _, v in rows]


# --------------------------------------------------------------------------- equipment


def test_equipment_list_matches_the_equipment_table(api_client, configured_plant, plant_db):
    response = get(api_client, "/equipment/")
    assert response.status_code == 200
    body = response.json()
    rows = equipment_rows(plant_db)
    assert [e["equipment_id"] for e in body] == [r["equipment_id"] for r in rows] and len(rows) == 22
    for item, row in zip(body, rows, strict=True):
        assert_equipment_matches(item, row, metric_columns(plant_db, row["equipment_id"]))
    chiller = body[[e["equipment_id"] for e in body].index("chiller_001")]
    metrics = {m["name"]: m for m in chiller["metrics"]}
    assert metrics["power_consumption_kw"] == {
        "name": "power_consumption_kw",
        "unit": "kW",
        "label": "power consumption",
    }
    assert metrics["cop"]["unit"] == "" and metrics["chw_flow_m3h"]["unit"] == "m³/h"


def test_equipment_list_filters_by_type(api_client, configured_plant, plant_db):
    body = get(api_client, "/equipment/", {"type": "cooling_tower"}).json()
    rows = equipment_rows(plant_db, "equipment_type = %s", ("cooling_tower",))
    assert (
        [e["equipment_id"] for e in body]
        == [r["equipment_id"] for r in rows]
        == [
            "cooling_tower_001",
            "cooling_tower_002",
        ]
    )
    assert {e["equipment_type"] for e in body} == {"cooling_tower"}


def test_equipment_detail_matches_its_row_and_columns(api_client, configured_plant, plant_db):
    response = get(api_client, "/equipment/pump_002/")
    assert response.status_code == 200
    [row] = equipment_rows(plant_db, "equipment_id = %s", ("pump_002",))
    assert_equipment_matches(response.json(), row, metric_columns(plant_db, "pump_002"))
    assert response.json()["display_name"] == "Pump 2"


# --------------------------------------------------------------------------- latest


def test_latest_is_the_newest_row(api_client, configured_plant, plant_db):
    response = get(api_client, "/equipment/chiller_002/latest/")
    assert response.status_code == 200
    body = response.json()
    columns = metric_columns(plant_db, "chiller_002")
    query = sql.SQL('SELECT "timestamp", {} FROM chiller_002 ORDER BY "timestamp" DESC LIMIT 1').format(
        sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    row = plant_db.execute(query).fetchone()
    assert body["equipment_id"] == "chiller_002"
    assert body["timestamp"] == iso(row[0]) == "2026-03-02T00:00:00Z"
    assert body["values"] == dict(zip(columns, row[1:], strict=True))
    assert body["units"]["power_consumption_kw"] == "kW" and body["units"]["chw_supply_temp_c"] == "°C"
    assert set(body["units"]) == set(columns)


def test_latest_returns_only_the_metrics_asked_for(api_client, configured_plant, plant_db):
    body = get(api_client, "/equipment/pump_001/latest/", {"metrics": "speed_rpm, vibration_mm_s,speed_rpm"}).json()
    row = plant_db.execute('SELECT speed_rpm, vibration_mm_s FROM pump_001 ORDER BY "timestamp" DESC LIMIT 1')
    speed, vibration = row.fetchone()
    assert body["values"] == {"speed_rpm": speed, "vibration_mm_s": vibration}
    assert body["units"] == {"speed_rpm": "rpm", "vibration_mm_s": "mm/s"}


# --------------------------------------------------------------------------- timeseries


@pytest.mark.parametrize(
    ("bucket", "seconds", "agg"),
    [("1h", 3600, "avg"), ("15m", 900, "max"), ("6h", 21600, "min"), ("1d", 86400, "count"), ("1h", 3600, "sum")],
)
def test_timeseries_buckets_match_sql(api_client, configured_plant, plant_db, bucket, seconds, agg):
    start, end = PLANT_END - timedelta(days=2), PLANT_END
    params = {"metric": "power_consumption_kw", "start": iso(start), "end": iso(end), "bucket": bucket, "agg": agg}
    response = get(api_client, "/equipment/chiller_002/timeseries/", params)
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("equipment_id", "metric", "unit", "bucket", "aggregation", "start", "end")} == {
        "equipment_id": "chiller_002",
        "metric": "power_consumption_kw",
        "unit": "kW",
        "bucket": bucket,
        "aggregation": agg,
        "start": "2026-02-28T00:00:00Z",
        "end": "2026-03-02T00:00:00Z",
    }
    timestamps, values = bucketed(plant_db, "chiller_002", "power_consumption_kw", seconds, agg, start, end)
    assert len(timestamps) == 2 * 86400 // seconds
    assert [p[0] for p in body["points"]] == timestamps
    assert [p[1] for p in body["points"]] == pytest.approx(values, rel=1e-9)


def test_timeseries_defaults_to_the_day_before_the_latest_reading_hourly_avg(api_client, configured_plant, plant_db):
    body = get(api_client, "/equipment/ahu_001/timeseries/", {"metric": "supply_air_temp_c"}).json()
    end = PLANT_END + timedelta(minutes=1)  # the latest reading is at PLANT_END
    assert (body["start"], body["end"]) == (iso(end - timedelta(hours=24)), iso(end))
    assert (body["bucket"], body["aggregation"], body["unit"]) == ("1h", "avg", "°C")
    timestamps, values = bucketed(plant_db, "ahu_001", "supply_air_temp_c", 3600, "avg", end - timedelta(hours=24), end)
    assert len(timestamps) == 25 and timestamps[-1] == "2026-03-02T00:00:00Z"  # the last reading has its own hour
    assert [p[0] for p in body["points"]] == timestamps
    assert [p[1] for p in body["points"]] == pytest.approx(values, rel=1e-9)


def test_timeseries_with_only_start_ends_after_the_latest_reading(api_client, configured_plant):
    params = {"metric": "current_a", "start": "2026-03-01T23:00:00+00:00"}
    body = get(api_client, "/equipment/motor_001/timeseries/", params).json()
    assert body["end"] == "2026-03-02T00:01:00Z"
    assert [p[0] for p in body["points"]] == ["2026-03-01T23:00:00Z", "2026-03-02T00:00:00Z"]


def test_timeseries_raw_returns_the_rows(api_client, configured_plant, plant_db):
    start = DAY_START + timedelta(hours=7)
    params = {
        "metric": "flow_rate_m3h",
        "start": iso(start),
        "end": iso(start + timedelta(minutes=10)),
        "bucket": "raw",
    }
    body = get(api_client, "/equipment/pump_001/timeseries/", params).json()
    rows = plant_db.execute(
        'SELECT "timestamp", flow_rate_m3h FROM pump_001 WHERE "timestamp" >= %s AND "timestamp" < %s '
        'ORDER BY "timestamp"',
        (start, start + timedelta(minutes=10)),
    ).fetchall()
    assert len(rows) == 10 and body["aggregation"] == "raw"
    assert body["points"] == [[iso(ts), v] for ts, v in rows]


def test_timeseries_offsets_are_converted_to_utc(api_client, configured_plant):
    params = {"metric": "current_a", "start": "2026-03-01T05:30:00+05:30", "end": "2026-03-01T07:30:00+05:30"}
    body = get(api_client, "/equipment/motor_002/timeseries/", params).json()
    assert (body["start"], body["end"]) == ("2026-03-01T00:00:00Z", "2026-03-01T02:00:00Z")
    assert [p[0] for p in body["points"]] == ["2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z"]


def _rows(plant_db, table: str, column: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    query = sql.SQL('SELECT "timestamp", {c} FROM {t} WHERE "timestamp" >= %s AND "timestamp" < %s ORDER BY 1')
    return plant_db.execute(query.format(c=sql.Identifier(column), t=sql.Identifier(table)), (start, end)).fetchall()


def test_monthly_buckets_are_utc_calendar_months(api_client, configured_plant, plant_db):
    start, end = datetime(2025, 12, 15, tzinfo=UTC), PLANT_END + timedelta(minutes=1)
    params = {"metric": "cop", "start": iso(start), "end": iso(end), "bucket": "1mo", "agg": "max"}
    body = get(api_client, "/equipment/chiller_001/timeseries/", params).json()
    months: dict[str, float] = {}
    for ts, value in _rows(plant_db, "chiller_001", "cop", start, end):
        key = iso(ts.replace(day=1, hour=0, minute=0))
        months[key] = max(months.get(key, value), value)
    assert (body["bucket"], body["aggregation"]) == ("1mo", "max")
    assert body["points"] == [[k, pytest.approx(v)] for k, v in months.items()]
    assert [p[0] for p in body["points"]] == ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]


def test_weekly_buckets_start_on_monday_and_deltas_add_up(api_client, configured_plant, plant_db):
    start, end = PLANT_END - timedelta(days=2), PLANT_END + timedelta(minutes=1)
    params = {"metric": "energy_kwh", "start": iso(start), "end": iso(end), "bucket": "1w", "agg": "delta"}
    body = get(api_client, "/equipment/energy_meter_002/timeseries/", params).json()
    rows = _rows(plant_db, "energy_meter_002", "energy_kwh", start - timedelta(minutes=1), end)
    assert [p[0] for p in body["points"]] == ["2026-02-23T00:00:00Z", "2026-03-02T00:00:00Z"]  # Mondays
    assert sum(p[1] for p in body["points"]) == pytest.approx(rows[-1][1] - rows[0][1], rel=1e-9)


# --------------------------------------------------------------------------- alerts


def test_alerts_default_lists_every_alert_newest_first(api_client, configured_plant, plant_db):
    response = get(api_client, "/alerts/")
    assert response.status_code == 200
    body = response.json()
    ids = alert_ids(plant_db)
    assert 0 < len(ids) <= 100
    assert [a["id"] for a in body["alerts"]] == ids and body["count"] == len(ids)
    assert body["counts_by_severity"] == severity_counts(plant_db, ids)
    row = plant_db.execute(
        "SELECT a.equipment_id, e.equipment_type, e.display_name, a.severity, a.metric, a.value, a.threshold, "
        "a.message, a.raised_at, a.cleared_at, a.acknowledged FROM alerts a JOIN equipment e USING (equipment_id) "
        "WHERE a.id = %s",
        (ids[0],),
    ).fetchone()
    first = body["alerts"][0]
    fields = ("equipment_id", "equipment_type", "display_name", "severity", "metric", "value", "threshold", "message")
    assert tuple(first[f] for f in fields) == row[:8]
    assert first["raised_at"] == iso(row[8]) and first["cleared_at"] == (row[9] and iso(row[9]))
    assert first["acknowledged"] == row[10] and first["active"] == (row[9] is None)


@pytest.mark.parametrize(
    ("params", "where", "sql_params"),
    [
        ({"severity": "critical,high"}, "a.severity IN ('critical', 'high')", {}),
        ({"type": "pump"}, "e.equipment_type = 'pump'", {}),
        (
            {"severity": "medium", "type": "cooling_tower"},
            "a.severity = 'medium' AND e.equipment_type = 'cooling_tower'",
            {},
        ),
        (
            {"start": "2026-03-01T05:30:00+05:30", "end": "2026-03-01T12:00:00Z"},
            "a.raised_at >= %(start)s AND a.raised_at < %(end)s",
            {"start": datetime(2026, 3, 1, tzinfo=UTC), "end": datetime(2026, 3, 1, 12, tzinfo=UTC)},
        ),
    ],
)
def test_alert_filters_match_sql(api_client, configured_plant, plant_db, params, where, sql_params):
    body = get(api_client, "/alerts/", params).json()
    ids = alert_ids(plant_db, where, sql_params)
    assert 0 < len(ids) < len(alert_ids(plant_db))  # the filter keeps some and drops some
    assert [a["id"] for a in body["alerts"]] == ids and body["count"] == len(ids)
    assert body["counts_by_severity"] == severity_counts(plant_db, ids)


def test_alerts_filter_by_equipment(api_client, configured_plant, plant_db):
    equipment_id = plant_db.execute("SELECT equipment_id FROM alerts GROUP BY 1 ORDER BY count(*) DESC, 1").fetchone()[
        0
    ]
    body = get(api_client, "/alerts/", {"equipment_id": equipment_id}).json()
    ids = alert_ids(plant_db, "a.equipment_id = %(eq)s", {"eq": equipment_id})
    assert ids and [a["id"] for a in body["alerts"]] == ids
    assert {a["equipment_id"] for a in body["alerts"]} == {equipment_id}


def test_alert_limit_cuts_the_list_not_the_counts(api_client, configured_plant, plant_db):
    body = get(api_client, "/alerts/", {"limit": 3}).json()
    ids = alert_ids(plant_db)
    assert [a["id"] for a in body["alerts"]] == ids[:3] and body["count"] == 3
    assert body["counts_by_severity"] == severity_counts(plant_db, ids) and sum(body["counts_by_severity"].values()) > 3


@pytest.fixture
def two_active_alerts(plant_db):
    """The seeded faults have all cleared; reopen the two newest for one test, then restore them."""
    rows = plant_db.execute("SELECT id, cleared_at FROM alerts ORDER BY raised_at DESC, id DESC LIMIT 2").fetchall()
    plant_db.execute("UPDATE alerts SET cleared_at = NULL WHERE id = ANY(%s)", ([r[0] for r in rows],))
    yield [r[0] for r in rows]
    for alert_id, cleared_at in rows:
        plant_db.execute("UPDATE alerts SET cleared_at = %s WHERE id = %s", (cleared_at, alert_id))


def test_active_alerts_are_the_uncleared_ones(api_client, configured_plant, plant_db, two_active_alerts):
    body = get(api_client, "/alerts/", {"active": "true"}).json()
    assert [a["id"] for a in body["alerts"]] == two_active_alerts == alert_ids(plant_db, "a.cleared_at IS NULL")
    assert all(a["active"] and a["cleared_at"] is None for a in body["alerts"])
    assert body["counts_by_severity"] == severity_counts(plant_db, two_active_alerts)
    assert get(api_client, "/alerts/", {"active": "false"}).json()["count"] == len(alert_ids(plant_db))


# --------------------------------------------------------------------------- authentication and errors


@pytest.mark.parametrize("path", ALL_PATHS)
def test_unauthenticated_requests_get_401(configured_plant, db, path):
    anonymous = APIClient()
    response = anonymous.get(API + path)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Token"
    wrong_token = APIClient()
    wrong_token.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert wrong_token.get(API + path).status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/equipment/chiller_01/", "/equipment/chiller_01/latest/", "/equipment/chiller_01/timeseries/?metric=cop"],
)
def test_unknown_equipment_is_404_with_suggestions(api_client, configured_plant, path):
    response = get(api_client, path)
    assert response.status_code == 404
    body = response.json()
    assert "chiller_01" in body["detail"] and "chiller_001" in body["suggestions"]


def test_unknown_metric_is_400_with_suggestions(api_client, configured_plant):
    response = get(api_client, "/equipment/chiller_001/timeseries/", {"metric": "power_consumption"})
    assert response.status_code == 400
    body = response.json()
    assert "power_consumption" in body["metric"][0] and "power_consumption_kw" in body["suggestions"]


TIMESERIES = "/equipment/chiller_001/timeseries/"
BAD_PARAMETERS = [
    (TIMESERIES, {"metric": "cop", "start": "yesterday"}, "start"),
    (TIMESERIES, {"metric": "cop", "end": "2026-13-01T00:00:00Z"}, "end"),
    (TIMESERIES, {"metric": "cop", "start": "2026-03-01T00:00:00"}, "start"),
    (TIMESERIES, {"metric": "cop", "start": "2026-03-01T00:00:00Z", "end": "2026-03-01T06:00:00"}, "end"),
    (TIMESERIES, {"metric": "cop", "start": "2026-03-01"}, "start"),
    (TIMESERIES, {"metric": "cop", "start": "2026-03-01T06:00:00Z", "end": "2026-03-01T00:00:00Z"}, "start"),
    (TIMESERIES, {"metric": "cop", "start": "2026-03-01T06:00:00Z", "end": "2026-03-01T06:00:00Z"}, "start"),
    (TIMESERIES, {"metric": "cop", "start": "2026-03-05T00:00:00Z"}, "start"),  # after the default end
    (TIMESERIES, {"metric": "cop", "bucket": "2h"}, "bucket"),
    (TIMESERIES, {"metric": "cop", "bucket": "1month"}, "bucket"),
    (TIMESERIES, {"metric": "cop", "agg": "median"}, "agg"),
    (TIMESERIES, {"metric": "chw_supply_temp"}, "metric"),
    (TIMESERIES, {}, "metric"),
    (TIMESERIES, {"metric": "cop", "bucket": "1m", "start": "2026-01-01T00:00:00Z"}, "bucket"),  # too many points
    ("/equipment/chiller_001/latest/", {"metrics": "cop,speed_rpm"}, "metrics"),
    ("/equipment/chiller_001/latest/", {"metrics": ","}, "metrics"),
    ("/equipment/", {"type": "chillr"}, "type"),
    ("/alerts/", {"severity": "urgent"}, "severity"),
    ("/alerts/", {"severity": "critical,urgent"}, "severity"),
    ("/alerts/", {"limit": 0}, "limit"),
    ("/alerts/", {"limit": 5000}, "limit"),
    ("/alerts/", {"limit": "ten"}, "limit"),
    ("/alerts/", {"type": "chillr"}, "type"),
    ("/alerts/", {"equipment_id": "chiller_01"}, "equipment_id"),
    ("/alerts/", {"active": "maybe"}, "active"),
    ("/alerts/", {"start": "not a date"}, "start"),
    ("/alerts/", {"end": "2026-03-01T00:00:00"}, "end"),
    ("/alerts/", {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "start"),
]


@pytest.mark.parametrize(("path", "params", "field"), BAD_PARAMETERS)
def test_bad_parameter_is_400_naming_it(api_client, configured_plant, path, params, field):
    response = get(api_client, path, params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) - {"suggestions"} == {field}
    assert isinstance(body[field], list) and body[field][0]


def test_an_unknown_bucket_lists_the_weekly_and_monthly_ones(api_client, configured_plant):
    body = get(api_client, TIMESERIES, {"metric": "cop", "bucket": "2h"}).json()
    assert body["bucket"] == ['"2h" is not one of raw, 1m, 5m, 15m, 30m, 1h, 6h, 12h, 1d, 1w, 1mo.']


YEAR_1, YEAR_9999 = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"
EXTREMES = [
    (TIMESERIES, {"end": YEAR_1}, "end"),  # no day before it to start from
    (TIMESERIES, {"end": "0001-01-01T23:00:00Z"}, 200),
    (TIMESERIES, {"end": "0001-01-01T00:00:00-05:00"}, 200),
    (TIMESERIES, {"end": "0001-01-01T00:00:00+05:00"}, "end"),  # before year 1 in UTC
    (TIMESERIES, {"start": YEAR_1, "end": "0001-01-01T00:00:00.000001Z"}, 200),
    (TIMESERIES, {"start": YEAR_1}, "bucket"),  # 2025 years of hours
    (TIMESERIES, {"start": YEAR_1, "bucket": "1mo"}, "bucket"),  # more months than a response holds
    (TIMESERIES, {"start": "1900-01-01T00:00:00Z", "bucket": "1mo"}, 200),
    (TIMESERIES, {"start": YEAR_1, "bucket": "raw"}, 200),
    (TIMESERIES, {"start": YEAR_1, "end": YEAR_9999, "bucket": "raw"}, 200),
    (TIMESERIES, {"start": "0001-01-01T00:00:00+14:00", "bucket": "raw"}, "start"),
    (TIMESERIES, {"start": YEAR_9999}, "start"),
    (TIMESERIES, {"start": "9999-12-31T00:00:00Z", "end": YEAR_9999}, 200),
    (TIMESERIES, {"end": "9999-12-31T23:59:59-05:00"}, "end"),
    (TIMESERIES, {"start": YEAR_1, "end": YEAR_1}, "start"),
    ("/alerts/", {"end": YEAR_1}, 200),
    ("/alerts/", {"start": YEAR_1, "end": YEAR_9999}, 200),
    ("/alerts/", {"start": YEAR_9999}, 200),
    ("/alerts/", {"start": "0001-01-01T00:00:00+14:00"}, "start"),
    ("/alerts/", {"end": "9999-12-31T23:59:59-05:00"}, "end"),
]


@pytest.mark.parametrize(("path", "params", "expected"), EXTREMES)
def test_datetimes_at_the_extremes_are_answered_or_refused_naming_the_field(
    api_client, configured_plant, plant_db, path, params, expected
):
    response = get(api_client, path, {"metric": "cop", **params} if path == TIMESERIES else params)
    assert response["Content-Type"] == "application/json"
    body = response.json()
    if expected != 200:
        assert (response.status_code, list(body)) == (400, [expected]), body
        return
    assert response.status_code == 200, body
    if path == TIMESERIES:  # the data there is in the window: none before 2026, every row of it when raw
        start, end = (datetime.fromisoformat(body[k].replace("Z", "+00:00")) for k in ("start", "end"))
        rows = _rows(plant_db, "chiller_001", "cop", start, end)
        assert all(body["start"] <= p[0] < body["end"] for p in body["points"])
        assert bool(body["points"]) == bool(rows)
        assert body["bucket"] != "raw" or len(body["points"]) == len(rows)


def test_unknown_type_and_equipment_parameters_name_close_matches(api_client, configured_plant):
    assert "chiller" in get(api_client, "/equipment/", {"type": "chillr"}).json()["type"][0]
    assert "chiller_001" in get(api_client, "/alerts/", {"equipment_id": "chiller_01"}).json()["equipment_id"][0]


INJECTIONS = [
    "chiller_001; DROP TABLE equipment",
    "chiller_001'; DROP TABLE alerts; --",
    'chiller_001"; DROP TABLE "chiller_001"; --',
    "' OR '1'='1",
    "chiller_001) UNION SELECT usename, passwd FROM pg_shadow --",
    "chiller_001\\",
    "ｃｈｉｌｌｅｒ＿００１",
    "chiller_001\u0000",
    "čhillér_001 💥",
]
PATH_TEMPLATES = [
    "/equipment/{}/",
    "/equipment/{}/latest/",
    "/equipment/{}/timeseries/?metric=cop",
]
QUERY_TARGETS = [
    ("/equipment/", "type", {}),
    ("/equipment/chiller_001/latest/", "metrics", {}),
    (TIMESERIES, "metric", {}),
    (TIMESERIES, "start", {"metric": "cop"}),
    (TIMESERIES, "end", {"metric": "cop"}),
    (TIMESERIES, "bucket", {"metric": "cop"}),
    (TIMESERIES, "agg", {"metric": "cop"}),
    ("/alerts/", "active", {}),
    ("/alerts/", "severity", {}),
    ("/alerts/", "equipment_id", {}),
    ("/alerts/", "type", {}),
    ("/alerts/", "start", {}),
    ("/alerts/", "end", {}),
    ("/alerts/", "limit", {}),
]


def plant_size(plant_db) -> tuple[int, int, int]:
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
    return tuple(
        plant_db.execute(q).fetchone()[0]
        for q in (tables, "SELECT count(*) FROM equipment", "SELECT count(*) FROM alerts")
    )


@pytest.mark.parametrize("attack", INJECTIONS)
def test_injection_strings_are_refused_and_change_nothing(api_client, configured_plant, plant_db, attack):
    before = plant_size(plant_db)
    assert before == (24, 22, before[2]) and before[2] > 0
    for template in PATH_TEMPLATES:
        response = api_client.get(API + template.format(quote(attack, safe="")))
        assert response.status_code == 404, (template, response.content)
        assert "suggestions" in response.json()
    for path, field, base in QUERY_TARGETS:
        response = get(api_client, path, {**base, field: attack})
        assert response.status_code == 400, (path, field, response.content)
        assert field in response.json()
    assert plant_size(plant_db) == before


# --------------------------------------------------------------------------- an equipment without readings


@pytest.fixture
def empty_plant(scratch_database, use_timeseries_database):
    """A database with one equipment table and no rows in it."""
    conninfo = scratch_database("empty")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute('CREATE TABLE pump_001 ("timestamp" timestamptz PRIMARY KEY, flow_rate_m3h real)')
    use_timeseries_database(f"{TEST_DATABASE}_empty")


def test_equipment_without_readings_answers_empty(api_client, empty_plant):
    latest = get(api_client, "/equipment/pump_001/latest/").json()
    assert latest == {"equipment_id": "pump_001", "timestamp": None, "values": {}, "units": {}}
    series = get(api_client, "/equipment/pump_001/timeseries/", {"metric": "flow_rate_m3h"})
    assert series.status_code == 200 and series.json()["points"] == []
    assert [e["equipment_id"] for e in get(api_client, "/equipment/").json()] == ["pump_001"]
