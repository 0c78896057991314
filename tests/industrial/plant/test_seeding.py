"""Seeding a real PostgreSQL: the contract's shape, COPY fidelity, resume, replace and follow."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from django.core.management import CommandError, call_command

from industrial.plant.generator import generate_block
from industrial.plant.seeding import SeedPlan, follow, seed_plant
from industrial.plant.spec import DOUBLE_COLUMNS, EQUIPMENT_TYPES, TYPES_BY_NAME
from tests.conftest import PLANT_END, SMALL_PLAN, TEST_DATABASE

SMALL_TYPES = {"chiller": 1, "energy_meter": 1, "diesel_generator": 1, "pump": 2}


def rows(conninfo: str, table: str) -> np.ndarray:
    with psycopg.connect(conninfo) as conn:
        data = conn.execute(f'SELECT * FROM "{table}" ORDER BY "timestamp"').fetchall()
    return np.array([[ts.timestamp(), *values] for ts, *values in data], dtype=np.float64)


def table_counts(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            )
        ]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def test_tables_follow_the_contract(plant_db):
    expected = {eq.equipment_id(n) for eq in EQUIPMENT_TYPES for n in (1, 2)}
    columns = plant_db.execute(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"""
    ).fetchall()
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in columns:
        by_table.setdefault(table, []).append((column, data_type))
    assert set(by_table) == expected | {"equipment", "alerts"}
    for eq_id in expected:
        eq = TYPES_BY_NAME[eq_id.rsplit("_", 1)[0]]
        assert by_table[eq_id] == [("timestamp", "timestamp with time zone")] + [
            (m, "double precision" if m in DOUBLE_COLUMNS else "real") for m in eq.metrics
        ]
        pk = plant_db.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (f'"{eq_id}"',),
        ).fetchall()
        assert pk == [("timestamp",)]
    assert [c for c, _ in by_table["alerts"]] == [
        "id", "equipment_id", "severity", "metric", "value", "threshold", "message",
        "raised_at", "cleared_at", "acknowledged",
    ]  # fmt: skip


def test_every_table_has_one_row_per_minute(plant_db):
    for eq in EQUIPMENT_TYPES:
        count, first, last, distinct = plant_db.execute(
            f'SELECT count(*), min("timestamp"), max("timestamp"), count(DISTINCT "timestamp") FROM "{eq.name}_001"'
        ).fetchone()
        assert count == distinct == 2 * 1440
        assert last == PLANT_END and first == PLANT_END - timedelta(days=2) + timedelta(minutes=1)


def test_equipment_and_alert_rows(plant_db):
    equipment = plant_db.execute(
        "SELECT equipment_id, equipment_type, display_name, criticality FROM equipment"
    ).fetchall()
    assert len(equipment) == 22
    assert ("ahu_002", "ahu", "AHU 2", "low") in equipment
    alerts = plant_db.execute("SELECT equipment_id, severity, raised_at, cleared_at FROM alerts").fetchall()
    assert len(alerts) >= 5
    assert all(cleared is None or cleared > raised for _, _, raised, cleared in alerts)


def test_copy_stores_exactly_what_the_generator_produced(plant_conninfo):
    eq = TYPES_BY_NAME["energy_meter"]
    start = int((PLANT_END - timedelta(days=2)).timestamp())
    block = generate_block(eq, 2, seed=SMALL_PLAN.seed, start=start, end=int(PLANT_END.timestamp()), fault_rate=0.6)
    stored = rows(plant_conninfo, "energy_meter_002")
    np.testing.assert_array_equal(stored[:, 0], block.timestamps)
    for i, metric in enumerate(eq.metrics, start=1):
        # `real` columns print their shortest exact text, which parses back to the same float32.
        dtype = np.float64 if metric in DOUBLE_COLUMNS else np.float32
        np.testing.assert_array_equal(stored[:, i].astype(dtype), block.columns[metric].astype(dtype), err_msg=metric)


def test_same_seed_gives_identical_databases(scratch_database):
    plan = replace(SMALL_PLAN, counts=SMALL_TYPES, days=0.5)
    a, b = scratch_database("det_a"), scratch_database("det_b")
    seed_plant(conninfo=a, plan=plan)
    seed_plant(conninfo=b, plan=plan)
    for eq_id in ("chiller_001", "pump_002", "energy_meter_001"):
        np.testing.assert_array_equal(rows(a, eq_id), rows(b, eq_id))
    other = scratch_database("det_c")
    seed_plant(conninfo=other, plan=replace(plan, seed=plan.seed + 1))
    assert not np.array_equal(rows(a, "chiller_001"), rows(other, "chiller_001"))


def test_rerun_writes_nothing_and_resume_appends_only_new_rows(scratch_database):
    plan = replace(SMALL_PLAN, counts=SMALL_TYPES, days=1)
    resumed, one_shot = scratch_database("resume"), scratch_database("oneshot")
    first = seed_plant(conninfo=resumed, plan=plan)
    assert first.rows == 5 * 1440 and first.created == 5
    again = seed_plant(conninfo=resumed, plan=plan)
    assert again.rows == 0 and again.created == 0
    later = replace(plan, end=PLANT_END + timedelta(hours=2))
    topped = seed_plant(conninfo=resumed, plan=later)
    assert topped.rows == 5 * 120
    assert table_counts(resumed)["pump_001"] == 1440 + 120
    # Resumed data equals data seeded in one go over the same span (float32 state rounding aside).
    seed_plant(conninfo=one_shot, plan=replace(later, days=1 + 2 / 24))
    for eq_id in ("chiller_001", "pump_002", "energy_meter_001", "diesel_generator_001"):
        np.testing.assert_allclose(rows(resumed, eq_id), rows(one_shot, eq_id), rtol=1e-6)
    with psycopg.connect(resumed) as r, psycopg.connect(one_shot) as o:
        query = "SELECT equipment_id, metric, raised_at, cleared_at, severity FROM alerts ORDER BY 1, 2, 3"
        assert r.execute(query).fetchall() == o.execute(query).fetchall()


def test_replace_rebuilds_instead_of_appending(scratch_database):
    conninfo = scratch_database("replace")
    plan = replace(SMALL_PLAN, counts={"motor": 2}, days=0.25)
    seed_plant(conninfo=conninfo, plan=plan)
    report = seed_plant(conninfo=conninfo, plan=replace(plan, replace=True))
    assert report.created == 2 and report.rows == 2 * 360
    assert table_counts(conninfo)["motor_001"] == 360


def test_follow_keeps_latest_current(scratch_database):
    conninfo = scratch_database("follow")
    plan = SeedPlan(days=0.05, counts={"ups": 1}, seed=1)
    passes = []
    reports = follow(conninfo=conninfo, plan=plan, should_stop=lambda: len(passes) >= 2, sleep=lambda _: None)
    for report in reports:
        passes.append(report)
    assert passes[0].rows == 72
    with psycopg.connect(conninfo) as conn:
        latest = conn.execute('SELECT max("timestamp") FROM ups_001').fetchone()[0]
    assert datetime.now(UTC) - latest < timedelta(minutes=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"days": 0}, "days"),
        ({"interval": 7}, "interval"),
        ({"counts": {"robot": 1}}, "unknown equipment types"),
        ({"counts": {"chiller": 13}}, "chiller count"),
        ({"fault_rate": 2}, "fault_rate"),
    ],
)
def test_plan_validation_names_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SeedPlan(**kwargs)


def test_seed_plant_command(scratch_database, use_timeseries_database):
    scratch_database("command")
    use_timeseries_database(f"{TEST_DATABASE}_command")
    out = _call("--types", "boiler=1,ups=1", "--days", "0.5", "--end", "2026-03-02T00:00:00", "--seed", "3")
    assert "Wrote 1,440 rows" in out and "2 tables (2 new)" in out
    assert "Wrote 0 rows" in _call("--types", "boiler=1,ups=1", "--days", "0.5", "--end", "2026-03-02T00:00:00")
    with pytest.raises(CommandError, match="unknown equipment type 'robot'"):
        _call("--types", "robot")
    with pytest.raises(CommandError, match="interval"):
        _call("--types", "ups=1", "--interval", "7")
    with pytest.raises(CommandError, match="--end"):
        _call("--types", "ups=1", "--end", "yesterday")


def _call(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("seed_plant", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_concurrent_seeders_never_duplicate_rows(scratch_database):
    """A follower and a second seeder writing the same tables at once: each row lands exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    conninfo = scratch_database("concurrent")
    plan = replace(SMALL_PLAN, counts={"pump": 3, "ups": 2}, days=1)
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda _: seed_plant(conninfo=conninfo, plan=plan), range(4)))
    assert sum(r.rows for r in reports) == 5 * 1440
    assert sum(r.created for r in reports) == 5
    assert all(count == 1440 for name, count in table_counts(conninfo).items() if name not in ("equipment", "alerts"))


def test_long_histories_stream_in_chunks_identical_to_one_block(scratch_database):
    """Past CHUNK_DAYS a table is generated a month at a time; the rows equal one big block."""
    from industrial.plant.seeding import CHUNK_DAYS

    conninfo = scratch_database("chunks")
    days = CHUNK_DAYS * 2 + 5
    plan = SeedPlan(days=days, counts={"energy_meter": 1}, interval=3600, seed=4, end=PLANT_END, fault_rate=0.3)
    report = seed_plant(conninfo=conninfo, plan=plan)
    end = int(PLANT_END.timestamp())
    block = generate_block(
        TYPES_BY_NAME["energy_meter"], 1, seed=4, start=end - days * 86400, end=end, interval=3600, fault_rate=0.3
    )
    assert report.rows == len(block) == days * 24
    stored = rows(conninfo, "energy_meter_001")
    np.testing.assert_array_equal(stored[:, 0], block.timestamps)
    np.testing.assert_allclose(stored[:, 2], block.columns["energy_kwh"], rtol=1e-12)  # carried, not restarted
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == len(block.alerts) > 0
