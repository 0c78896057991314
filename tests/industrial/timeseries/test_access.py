"""TimeSeriesDataAccess against a real PostgreSQL, each answer checked by an independent query."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from industrial.errors import InvalidQuery, UnknownEquipment, UnknownEquipmentType, UnknownMetric
from industrial.plant.seeding import SeedPlan, seed_plant
from industrial.timeseries.access import TimeSeriesDataAccess
from tests.conftest import PLANT_END

HOUR = timedelta(hours=1)
DAY_START = PLANT_END - timedelta(days=1)


def test_catalog_lists_types_with_units(access):
    assert access.equipment_types() == {t: 2 for t in access.equipment_types()}
    assert len(access.equipment_types()) == 11
    units = {m.name: m.unit for m in access.metrics("chiller_001")}
    assert units["power_consumption_kw"] == "kW" and units["chw_supply_temp_c"] == "°C"
    assert units["chw_flow_m3h"] == "m³/h" and units["cop"] == "" and units["load_percent"] == "%"
    assert {m.unit for m in access.metrics("energy_meter_001")} >= {"kWh", "Hz", "V", "A"}
    info = access.equipment("ahu_002")
    assert (info.display_name, info.equipment_type, info.criticality) == ("AHU 2", "ahu", "low")
    assert [e.equipment_id for e in access.list_equipment("boiler")] == ["boiler_001", "boiler_002"]


def test_latest_matches_the_newest_row(access, plant_db):
    reading = access.latest("pump_002")
    expected = plant_db.execute(
        'SELECT "timestamp", vibration_mm_s, speed_rpm FROM pump_002 '
        'WHERE "timestamp" = (SELECT max("timestamp") FROM pump_002)'
    ).fetchone()
    assert reading.timestamp == expected[0] == PLANT_END
    assert reading.values["vibration_mm_s"] == expected[1] and reading.values["speed_rpm"] == expected[2]
    assert reading.units["vibration_mm_s"] == "mm/s"
    only = access.latest("pump_002", ["speed_rpm"])
    assert list(only.values) == ["speed_rpm"]


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum", "count", "first", "last"])
def test_hourly_buckets_match_sql(access, plant_db, agg):
    series = access.series("chiller_002", "power_consumption_kw", DAY_START, PLANT_END, "1h", agg)
    value = {
        "avg": "avg(v)", "min": "min(v)", "max": "max(v)", "sum": "sum(v::float8)", "count": "count(v)",
        "first": "(SELECT v FROM r r2 WHERE r2.h = r.h ORDER BY ts LIMIT 1)",
        "last": "(SELECT v FROM r r2 WHERE r2.h = r.h ORDER BY ts DESC LIMIT 1)",
    }[agg]  # fmt: skip
    expected = plant_db.execute(
        f"""WITH r AS (SELECT "timestamp" AS ts, power_consumption_kw AS v,
                              to_timestamp(floor(extract(epoch FROM "timestamp") / 3600) * 3600) AS h
                       FROM chiller_002 WHERE "timestamp" >= %s AND "timestamp" < %s)
            SELECT h, {value} FROM r GROUP BY h ORDER BY h""",
        (DAY_START, PLANT_END),
    ).fetchall()
    assert len(series.points) == 24
    assert [p[0] for p in series.points] == [e[0] for e in expected]
    assert [p[1] for p in series.points] == pytest.approx([float(e[1]) for e in expected], rel=1e-6)


def test_window_is_start_inclusive_end_exclusive_and_buckets_align(access, plant_db):
    start = DAY_START + timedelta(hours=10, minutes=30)
    series = access.series("motor_001", "current_a", start, start + timedelta(minutes=90), "1h", "count")
    assert series.points == [(DAY_START + timedelta(hours=10), 30.0), (DAY_START + timedelta(hours=11), 60.0)]
    raw = access.series("motor_001", "current_a", start, start + timedelta(minutes=5), "raw")
    assert [p[0] for p in raw.points] == [start + timedelta(minutes=i) for i in range(5)]
    daily = access.series("motor_001", "current_a", PLANT_END - timedelta(days=2), PLANT_END, "1d", "count")
    assert daily.points == [(PLANT_END - timedelta(days=2), 1439.0), (DAY_START, 1440.0)]


def test_delta_of_a_cumulative_counter_adds_up_to_the_increase(access, plant_db):
    start, end = DAY_START + timedelta(hours=3), DAY_START + timedelta(hours=9)
    series = access.series("energy_meter_001", "energy_kwh", start, end, "1h", "delta")
    reading_before = 'SELECT energy_kwh FROM energy_meter_001 WHERE "timestamp" < %s ORDER BY "timestamp" DESC LIMIT 1'
    before = plant_db.execute(reading_before, (start,)).fetchone()[0]
    last = plant_db.execute(reading_before, (end,)).fetchone()[0]
    assert len(series.points) == 6
    assert all(v > 0 for _, v in series.points)
    assert sum(v for _, v in series.points) == pytest.approx(last - before, rel=1e-9)
    power = plant_db.execute(
        'SELECT sum(active_power_kw) / 60 FROM energy_meter_001 WHERE "timestamp" >= %s AND "timestamp" < %s',
        (start, end),
    ).fetchone()[0]
    assert sum(v for _, v in series.points) == pytest.approx(power, rel=1e-4)


def test_stats_match_sql(access, plant_db):
    stats = access.stats("transformer_001", "oil_temp_c", DAY_START, PLANT_END)
    expected = plant_db.execute(
        """SELECT count(*), avg(oil_temp_c), min(oil_temp_c), max(oil_temp_c), stddev_samp(oil_temp_c),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY oil_temp_c)
           FROM transformer_001 WHERE "timestamp" >= %s AND "timestamp" < %s""",
        (DAY_START, PLANT_END),
    ).fetchone()
    assert stats.count == expected[0] == 1440
    assert (stats.mean, stats.min, stats.max, stats.stddev, stats.median) == pytest.approx(expected[1:], rel=1e-6)
    assert stats.p05 < stats.median < stats.p95


def test_alert_filters_match_sql(access, plant_db):
    def ids(where: str, *params) -> list[int]:
        return [
            r[0]
            for r in plant_db.execute(
                f"SELECT a.id FROM alerts a JOIN equipment e USING (equipment_id) WHERE {where} "
                "ORDER BY raised_at DESC, id DESC",
                params,
            )
        ]

    assert [a.id for a in access.alerts()] == ids("true")
    assert [a.id for a in access.alerts(active_only=True)] == ids("cleared_at IS NULL")
    assert [a.id for a in access.alerts(severity=["critical", "high"])] == ids("severity IN ('critical', 'high')")
    assert [a.id for a in access.alerts(equipment_type="pump")] == ids("e.equipment_type = 'pump'")
    some = access.alerts()[0]
    assert [a.id for a in access.alerts(equipment_id=some.equipment_id)] == ids(
        "a.equipment_id = %s", some.equipment_id
    )
    window = (DAY_START, PLANT_END)
    assert [a.id for a in access.alerts(start=window[0], end=window[1])] == ids(
        "raised_at >= %s AND raised_at < %s", *window
    )
    assert len(access.alerts(limit=1)) == 1


def test_fleet_latest_ranks_every_unit(access, plant_db):
    ranked = access.fleet_latest("air_compressor", "discharge_temp_c")
    expected = sorted(
        (
            plant_db.execute(f'SELECT discharge_temp_c FROM "{eq}" ORDER BY "timestamp" DESC LIMIT 1').fetchone()[0]
            for eq in ("air_compressor_001", "air_compressor_002")
        ),
        reverse=True,
    )
    assert [v.value for v in ranked] == pytest.approx(expected)
    assert [v.value for v in access.fleet_latest("air_compressor", "discharge_temp_c", descending=False)] == (
        pytest.approx(expected[::-1])
    )
    assert len(access.fleet_latest("air_compressor", "discharge_temp_c", limit=1)) == 1


# --------------------------------------------------------------------------- anomalies on planted data


@pytest.fixture
def pumps(scratch_database):
    """Four fault-free pumps over four days, and a connection to plant anomalies in them."""
    conninfo = scratch_database("anomaly")
    seed_plant(conninfo=conninfo, plan=SeedPlan(days=4, counts={"pump": 4}, seed=5, end=PLANT_END, fault_rate=0))
    ts = TimeSeriesDataAccess(conninfo, max_size=2)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        running = conn.execute(f"SELECT min(running_status) FROM pump_001 WHERE {recent(60)}").fetchone()[0]
        assert running == 1, "pump_001 leads its group and runs through the last hour"
        yield ts, conn
    ts.close()


def recent(minutes: int) -> str:
    return f"\"timestamp\" > '{(PLANT_END - timedelta(minutes=minutes)).isoformat()}'"


def test_untouched_pump_has_no_anomalies(pumps):
    ts, _ = pumps
    assert ts.detect_anomalies("pump_001") == []


def test_limit_breach_is_flagged_with_its_threshold(pumps):
    ts, conn = pumps
    conn.execute(f"UPDATE pump_001 SET motor_temp_c = 96 WHERE {recent(1)}")
    [found] = ts.detect_anomalies("pump_001")
    assert (found.kind, found.metric, found.value, found.threshold, found.severity) == (
        "limit", "motor_temp_c", 96.0, 85.0, "critical",
    )  # fmt: skip
    assert ts.fleet_abnormal("pump", "motor_temp_c")[0].equipment_id == "pump_001"


def test_deviation_from_own_baseline_is_flagged_by_robust_z(pumps):
    ts, conn = pumps
    conn.execute(f"UPDATE pump_001 SET flow_rate_m3h = flow_rate_m3h * 1.6 WHERE {recent(15)}")
    found = ts.detect_anomalies("pump_001")
    assert [(a.kind, a.metric) for a in found] == [("deviation", "flow_rate_m3h")]
    assert found[0].robust_z > 3.5 and found[0].value > found[0].baseline_median


def test_flat_sensor_is_flagged_as_stuck(pumps):
    ts, conn = pumps
    median = conn.execute("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY suction_pressure_bar) FROM pump_001")
    conn.execute(f"UPDATE pump_001 SET suction_pressure_bar = %s WHERE {recent(15)}", (median.fetchone()[0],))
    assert [(a.kind, a.metric) for a in ts.detect_anomalies("pump_001")] == [("stuck", "suction_pressure_bar")]


def test_anomaly_scan_orders_by_severity(pumps):
    ts, conn = pumps
    conn.execute(f"UPDATE pump_003 SET vibration_mm_s = 9 WHERE {recent(1)}")  # high
    conn.execute(f"UPDATE pump_001 SET motor_temp_c = 99 WHERE {recent(1)}")  # critical
    found = ts.anomaly_scan("pump")
    assert [(a.equipment_id, a.severity) for a in found[:2]] == [("pump_001", "critical"), ("pump_003", "high")]


def test_a_customer_table_is_discovered_by_introspection(pumps):
    ts, conn = pumps
    conn.execute('CREATE TABLE chiller_013 ("timestamp" timestamptz PRIMARY KEY, cop real, note text)')
    conn.execute("INSERT INTO chiller_013 VALUES (now(), 5.5, 'ok')")
    ts.refresh_catalog()
    table = ts.catalog.table("chiller_013")
    assert table.equipment_type == "chiller" and list(table.metrics) == ["cop"]
    assert ts.latest("chiller_013").values == {"cop": 5.5}


# --------------------------------------------------------------------------- errors and injection


def test_unknown_names_raise_typed_errors_with_close_matches(access):
    with pytest.raises(UnknownEquipment) as exc:
        access.latest("chiller_01")
    assert "chiller_001" in exc.value.suggestions and "did you mean" in str(exc.value)
    with pytest.raises(UnknownMetric) as exc:
        access.series("chiller_001", "power_consumption", DAY_START, PLANT_END)
    assert exc.value.suggestions[0] == "power_consumption_kw"
    with pytest.raises(UnknownEquipmentType) as exc:
        access.fleet_latest("compressor", "load_percent")
    assert "air_compressor" in exc.value.suggestions


def test_bad_parameters_raise_invalid_query_naming_the_field(access):
    cases = [
        (lambda: access.series("pump_001", "speed_rpm", PLANT_END, DAY_START), "start"),
        (lambda: access.series("pump_001", "speed_rpm", DAY_START.replace(tzinfo=None), PLANT_END), "start"),
        (lambda: access.series("pump_001", "speed_rpm", DAY_START, PLANT_END, "7m"), "bucket"),
        (lambda: access.series("pump_001", "speed_rpm", DAY_START, PLANT_END, "1h", "median"), "agg"),
        (lambda: access.series("pump_001", "speed_rpm", PLANT_END - timedelta(days=30), PLANT_END, "1m"), "bucket"),
        (lambda: access.alerts(severity="urgent"), "severity"),
        (lambda: access.alerts(limit=0), "limit"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidQuery) as exc:
            call()
        assert exc.value.field == field


INJECTIONS = [
    "chiller_001; DROP TABLE equipment",
    "chiller_001'; DROP TABLE alerts; --",
    'chiller_001"; DROP TABLE chiller_001; --',
    "chïller_001",
    "",
    "CHILLER_001",
    "chiller_001\x00",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_through_every_string_parameter_is_refused(access, plant_db, evil):
    tables_before = plant_db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    calls = [
        lambda: access.latest(evil),
        lambda: access.latest("chiller_001", [evil]),
        lambda: access.series(evil, "cop", DAY_START, PLANT_END),
        lambda: access.series("chiller_001", evil, DAY_START, PLANT_END),
        lambda: access.series("chiller_001", "cop", DAY_START, PLANT_END, evil),
        lambda: access.series("chiller_001", "cop", DAY_START, PLANT_END, "1h", evil),
        lambda: access.stats("chiller_001", evil, DAY_START, PLANT_END),
        lambda: access.detect_anomalies(evil),
        lambda: access.detect_anomalies("chiller_001", [evil]),
        lambda: access.fleet_latest(evil, "cop"),
        lambda: access.fleet_latest("chiller", evil),
        lambda: access.alerts(severity=evil),
        lambda: access.alerts(equipment_id=evil),
        lambda: access.alerts(equipment_type=evil),
        lambda: access.equipment(evil),
        lambda: access.list_equipment(evil),
    ]
    for call in calls:
        with pytest.raises((UnknownEquipment, UnknownMetric, UnknownEquipmentType, InvalidQuery)):
            call()
    assert plant_db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == tables_before
    assert plant_db.execute("SELECT count(*) FROM equipment").fetchone()[0] == 22
    assert plant_db.execute("SELECT count(*) FROM chiller_001").fetchone()[0] == 2880


def test_alert_counts_match_sql(access, plant_db):
    expected = dict(plant_db.execute("SELECT severity, count(*) FROM alerts GROUP BY severity").fetchall())
    counts = access.alert_counts()
    assert counts == {s: expected.get(s, 0) for s in ("critical", "high", "medium", "low")}
    pumps = dict(
        plant_db.execute(
            "SELECT severity, count(*) FROM alerts JOIN equipment USING (equipment_id) "
            "WHERE equipment_type = 'pump' GROUP BY severity"
        ).fetchall()
    )
    assert sum(access.alert_counts(equipment_type="pump").values()) == sum(pumps.values())
    with pytest.raises(InvalidQuery):
        access.alert_counts(severity="urgent")


def test_a_stopped_chiller_is_idle_not_anomalous(pumps, scratch_database):
    """Warm chilled water in a stopped chiller is idle; the same reading while running is a breach."""
    conninfo = scratch_database("idle")
    seed_plant(conninfo=conninfo, plan=SeedPlan(days=2, counts={"chiller": 1}, seed=5, end=PLANT_END, fault_rate=0))
    ts = TimeSeriesDataAccess(conninfo, max_size=1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"UPDATE chiller_001 SET running_status = 0, chw_supply_temp_c = 12 WHERE {recent(1)}")
        assert ts.detect_anomalies("chiller_001", ["chw_supply_temp_c"]) == []
        conn.execute(f"UPDATE chiller_001 SET running_status = 1 WHERE {recent(1)}")
        [found] = ts.detect_anomalies("chiller_001", ["chw_supply_temp_c"])
        assert (found.kind, found.threshold) == ("limit", 10.0)
    ts.close()


def test_counter_increase_matches_the_sum_of_hourly_deltas(access, plant_db):
    start, end = DAY_START + timedelta(hours=2, minutes=17), DAY_START + timedelta(hours=20)
    increase = access.counter_increase("energy_meter_002", "energy_kwh", start, end)
    reading_before = 'SELECT energy_kwh FROM energy_meter_002 WHERE "timestamp" < %s ORDER BY "timestamp" DESC LIMIT 1'
    expected = (
        plant_db.execute(reading_before, (end,)).fetchone()[0]
        - plant_db.execute(reading_before, (start,)).fetchone()[0]
    )
    assert increase == pytest.approx(expected, rel=1e-12) and increase > 0
    first_window = access.counter_increase("energy_meter_002", "energy_kwh", PLANT_END - timedelta(days=5), DAY_START)
    first, last = plant_db.execute(
        'SELECT min(energy_kwh), (SELECT energy_kwh FROM energy_meter_002 WHERE "timestamp" < %s '
        'ORDER BY "timestamp" DESC LIMIT 1) FROM energy_meter_002',
        (DAY_START,),
    ).fetchone()
    assert first_window == pytest.approx(last - first, rel=1e-12)


def test_newest_reading_is_the_end_of_the_data(access):
    assert access.newest_reading() == PLANT_END


# --------------------------------------------------------------------------- weeks, months and the widest windows

LONG_START = PLANT_END - timedelta(days=800)
WINDOW_START = LONG_START + timedelta(days=50, hours=7)  # 11 February 2024, 07:00 UTC: readings before it


@pytest.fixture
def long_history(scratch_database):
    """A chiller and an energy meter over 800 days, a reading every 6 hours, and a connection for SQL checks."""
    conninfo = scratch_database("long")
    plan = SeedPlan(days=800, interval=21600, counts={"chiller": 1, "energy_meter": 1}, seed=3, end=PLANT_END,
                    fault_rate=0)  # fmt: skip
    seed_plant(conninfo=conninfo, plan=plan)
    ts = TimeSeriesDataAccess(conninfo, max_size=2)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        yield ts, conn
    ts.close()


def _truncated(conn, field: str, agg: str, start, end) -> list[tuple]:
    """``agg`` of chiller_001's power per UTC ``field`` (week: from Monday), by SQL written independently."""
    return conn.execute(
        f"""SELECT date_trunc('{field}', "timestamp" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b,
                   {agg}(power_consumption_kw) FROM chiller_001
            WHERE "timestamp" >= %s AND "timestamp" < %s GROUP BY b ORDER BY b""",
        (start, end),
    ).fetchall()


@pytest.mark.parametrize("agg", ["avg", "max", "count", "sum"])
def test_weekly_buckets_start_on_monday_at_midnight_utc_and_match_sql(long_history, agg):
    ts, conn = long_history
    series = ts.series("chiller_001", "power_consumption_kw", WINDOW_START, PLANT_END, "1w", agg)
    expected = _truncated(conn, "week", agg, WINDOW_START, PLANT_END)
    assert len(series.points) == len(expected) > 100
    assert [p[0] for p in series.points] == [e[0] for e in expected]
    assert {(p[0].weekday(), p[0].hour, p[0].minute) for p in series.points} == {(0, 0, 0)}
    assert [p[1] for p in series.points] == pytest.approx([float(e[1]) for e in expected], rel=1e-6)


@pytest.mark.parametrize("agg", ["avg", "min", "count", "sum"])
def test_monthly_buckets_are_utc_calendar_months_and_match_sql(long_history, agg):
    ts, conn = long_history
    series = ts.series("chiller_001", "power_consumption_kw", WINDOW_START, PLANT_END, "1mo", agg)
    expected = _truncated(conn, "month", agg, WINDOW_START, PLANT_END)
    assert len(series.points) == len(expected) == 26  # February 2024 to March 2026
    assert [p[0] for p in series.points] == [e[0] for e in expected]
    assert {(p[0].day, p[0].hour) for p in series.points} == {(1, 0)}
    assert [p[1] for p in series.points] == pytest.approx([float(e[1]) for e in expected], rel=1e-6)
    assert (series.bucket, series.aggregation) == ("1mo", agg)


@pytest.mark.parametrize("bucket", ["1w", "1mo"])
def test_weekly_and_monthly_deltas_of_a_counter_add_up_to_its_increase(long_history, bucket):
    ts, conn = long_history
    series = ts.series("energy_meter_001", "energy_kwh", WINDOW_START, PLANT_END, bucket, "delta")
    reading_before = 'SELECT energy_kwh FROM energy_meter_001 WHERE "timestamp" < %s ORDER BY "timestamp" DESC LIMIT 1'
    before, last = (conn.execute(reading_before, (t,)).fetchone()[0] for t in (WINDOW_START, PLANT_END))
    assert all(v > 0 for _, v in series.points)
    assert sum(v for _, v in series.points) == pytest.approx(last - before, rel=1e-9)
    assert ts.counter_increase("energy_meter_001", "energy_kwh", WINDOW_START, PLANT_END) == pytest.approx(
        last - before, rel=1e-12
    )
    second_edge = series.points[1][0]  # the second bucket's increase: its last reading less the first bucket's
    first_last = conn.execute(reading_before, (second_edge,)).fetchone()[0]
    assert series.points[0][1] == pytest.approx(first_last - before, rel=1e-9)


def test_years_of_hourly_buckets_are_refused_naming_the_bucket(access):
    with pytest.raises(InvalidQuery) as exc:
        access.series("pump_001", "speed_rpm", PLANT_END - timedelta(days=5 * 365), PLANT_END, "1h")
    assert exc.value.field == "bucket" and "wider" in exc.value.message


EARLIEST_DATETIME = datetime.min.replace(tzinfo=UTC)
LATEST_DATETIME = datetime.max.replace(tzinfo=UTC)


def test_the_widest_windows_answer_from_the_data_there_is(access, plant_db):
    """Year 1 to year 9999: every query reads the two days of data, none overflows."""
    span = (EARLIEST_DATETIME, LATEST_DATETIME)
    rows = plant_db.execute("SELECT count(*), max(cop) FROM chiller_001").fetchone()
    assert access.stats("chiller_001", "cop", *span).count == rows[0]
    assert access.window_aggregates(["chiller_001"], "cop", *span)["chiller_001"].max == pytest.approx(rows[1])
    assert len(access.series("chiller_001", "cop", *span, "raw").points) == rows[0]
    assert access.counter_increase("energy_meter_001", "energy_kwh", *span) > 0
    assert access.profile("chiller_001", ["cop"], *span, days=31)["cop"].count == rows[0]
    assert (
        sum(access.alert_counts(start=span[0], end=span[1]).values())
        == plant_db.execute("SELECT count(*) FROM alerts").fetchone()[0]
    )
    centuries = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2999, 1, 1, tzinfo=UTC))
    monthly = access.series("chiller_001", "cop", *centuries, "1mo")
    assert [p[0] for p in monthly.points] == [datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)]


@pytest.mark.parametrize("bucket", ["1d", "1w", "1mo"])
def test_more_buckets_than_a_response_holds_is_a_bad_bucket_never_a_crash(access, bucket):
    with pytest.raises(InvalidQuery) as exc:
        access.series("chiller_001", "cop", EARLIEST_DATETIME, LATEST_DATETIME, bucket)
    assert exc.value.field == "bucket"
