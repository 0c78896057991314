"""Rollups stay exact when rows arrive from elsewhere, when building is killed, and when they change under a reader."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from industrial.plant.seeding import SeedPlan, seed_plant
from industrial.rollups.schema import disk_bytes
from industrial.timeseries.access import TimeSeriesDataAccess
from tests.industrial.rollups.test_rollups import call_command_in, close, dump_rollups, manage_env

END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
PLAN = SeedPlan(days=30, counts={"chiller": 1, "energy_meter": 1}, seed=5, end=END, fault_rate=0.2)
WINDOWS = [(END - timedelta(days=d, hours=h), END + timedelta(hours=3)) for d, h in ((29, 5), (7, 0), (1, 13), (0, 2))]


@pytest.fixture
def month_plant(scratch_database):
    conninfo = scratch_database("rollup_month")
    seed_plant(conninfo=conninfo, plan=PLAN)
    fast, slow = TimeSeriesDataAccess(conninfo), TimeSeriesDataAccess(conninfo, rollups=False)
    yield conninfo, fast, slow
    fast.close()
    slow.close()


def assert_same(fast: TimeSeriesDataAccess, slow: TimeSeriesDataAccess) -> None:
    for start, end in WINDOWS:
        for eq, metric in (("chiller_001", "power_consumption_kw"), ("energy_meter_001", "energy_kwh")):
            got, want = fast.stats(eq, metric, start, end, percentiles=False), slow.stats(eq, metric, start, end)
            for field in ("count", "mean", "min", "max", "stddev", "first", "last"):
                assert close(getattr(got, field), getattr(want, field)), (field, start, got, want)
            for bucket in ("1h", "1d"):
                got, want = (a.series(eq, metric, start, end, bucket, "avg").points for a in (fast, slow))
                assert [g[0] for g in got] == [w[0] for w in want]
                assert all(close(g[1], w[1]) for g, w in zip(got, want, strict=True))


def insert_rows(conninfo: str, table: str, start: datetime, minutes: int, value: float) -> None:
    """Rows written by something other than the seeder (a customer's own ingest)."""
    with psycopg.connect(conninfo) as conn:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'timestamp'",
            (table,),
        )]  # fmt: skip
        names = ", ".join(f'"{c}"' for c in columns)
        conn.execute(
            f"INSERT INTO {table} (\"timestamp\", {names}) SELECT %s + k * interval '1 minute', "
            + ", ".join(f"%s + k * 0.5 + {i}" for i in range(len(columns)))
            + " FROM generate_series(0, %s - 1) AS k",
            [start, *([value] * len(columns)), minutes],
        )


def test_rows_from_elsewhere_are_read_raw_until_the_rollups_catch_up(month_plant):
    conninfo, fast, slow = month_plant
    for table in ("chiller_001", "energy_meter_001"):
        insert_rows(conninfo, table, END + timedelta(minutes=1), 150, 1000.0)  # past the rollups' edge
    assert_same(fast, slow)
    database = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
    out = call_command_in(database, "build_rollups")
    assert "Wrote" in out and "of the raw tables'" in out
    refreshed = dump_rollups(conninfo)
    with psycopg.connect(conninfo) as conn:
        through = dict(conn.execute("SELECT equipment_id, through FROM cc_rollups.state WHERE grain = 'hour'"))
    assert through["chiller_001"] == END + timedelta(minutes=150, microseconds=1)  # the newest row, and no further
    fast._coverage_seen.clear()
    assert_same(fast, slow)
    call_command_in(database, "build_rollups")
    assert dump_rollups(conninfo) == refreshed  # running it again changes nothing


def test_a_build_killed_midway_resumes_to_the_same_rollups(month_plant):
    conninfo, fast, slow = month_plant
    seeded = dump_rollups(conninfo)
    database = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP SCHEMA cc_rollups CASCADE")
        build = subprocess.Popen(
            [sys.executable, "manage.py", "build_rollups", "--chunk-days", "0.5"], env=manage_env(database),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill it once some chunks, not all, are in
            built = conn.execute("SELECT to_regclass('cc_rollups.state')").fetchone()[0]
            if built and conn.execute("SELECT count(*) FROM cc_rollups.state").fetchone()[0] >= 1:
                break
            time.sleep(0.02)
        build.send_signal(signal.SIGKILL)
        build.wait()
        partial = conn.execute("SELECT grain, through FROM cc_rollups.state").fetchall()
    assert partial and all(through < END for _, through in partial)  # stopped midway
    fast._coverage_seen.clear()
    assert_same(fast, slow)  # half-built rollups answer exactly too
    call_command_in(database, "build_rollups")
    rebuilt = dump_rollups(conninfo)
    assert rebuilt.keys() == seeded.keys()
    for table in seeded:
        assert [r[0] for r in rebuilt[table]] == [r[0] for r in seeded[table]]
        for old, new in zip(seeded[table], rebuilt[table], strict=True):
            assert all(close(a, b) if isinstance(a, float) else a == b for a, b in zip(old, new, strict=True))


def test_a_reader_with_a_stale_view_of_the_rollups_still_counts_exactly(month_plant):
    conninfo, fast, slow = month_plant
    assert_same(fast, slow)  # fast now holds the seeder's coverage
    edge = END - timedelta(days=3)
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE cc_rollups.state SET through = %s", (edge,))
        for grain in ("hour", "day"):  # what lies past the new edge is now garbage
            conn.execute(
                f'UPDATE cc_rollups."chiller_001__{grain}" SET power_consumption_kw__sum = 1e9, '
                "power_consumption_kw__max = 1e9, power_consumption_kw__n = 1 WHERE bucket >= %s",
                (edge,),
            )
    assert_same(fast, slow)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP SCHEMA cc_rollups CASCADE")  # gone altogether: raw rows answer
    assert_same(fast, slow)


def test_rollups_take_a_small_share_of_the_raw_tables_disk(month_plant):
    conninfo, *_ = month_plant
    with psycopg.connect(conninfo) as conn:
        raw, rollups = disk_bytes(conn)
    assert 0 < rollups < 0.12 * raw


def test_replacing_a_plant_rebuilds_its_rollups(month_plant):
    conninfo, fast, slow = month_plant
    seed_plant(conninfo=conninfo, plan=SeedPlan(**{**PLAN.__dict__, "seed": 6, "replace": True}))
    fast._coverage_seen.clear()
    assert_same(fast, slow)
