"""Rollups answer exactly what raw rows answer, however the window, the bucket or the clock falls.

Each zone's plant straddles a clock change or sits at a half-hour offset:
New York springs forward on 8 March 2026 at 02:00, Havana at midnight (the
day starts at 01:00), Lord Howe Island moves its clocks by half an hour (5
April), Kolkata is 5:30 ahead of UTC all year. The plant is seeded, then
topped up twice (the seeder merges the open bucket), and every figure is
compared with the same access layer reading raw rows only.
"""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from industrial.plant.seeding import SeedPlan, seed_plant
from industrial.timeseries.access import TimeSeriesDataAccess

ZONES = {
    "America/New_York": datetime(2026, 3, 14, 7, 13, tzinfo=UTC),
    "America/Havana": datetime(2026, 3, 14, 7, 13, tzinfo=UTC),
    "Australia/Lord_Howe": datetime(2026, 4, 10, 19, 47, tzinfo=UTC),
    "Asia/Kolkata": datetime(2026, 3, 14, 7, 13, tzinfo=UTC),
}
COUNTS = {"chiller": 1, "energy_meter": 1, "pump": 1}
DAYS = 12
METRICS = [("chiller_001", "power_consumption_kw"), ("chiller_001", "running_status"),
           ("energy_meter_001", "energy_kwh"), ("pump_001", "vibration_mm_s")]  # fmt: skip
BUCKETS = ["1h", "6h", "12h", "1d", "1w", "1mo"]
AGGREGATIONS = ["avg", "min", "max", "sum", "count", "first", "last", "delta"]


def plan_for(zone: str, end: datetime) -> SeedPlan:
    return SeedPlan(days=DAYS, counts=COUNTS, seed=11, end=end, fault_rate=0.3, time_zone=zone)


@pytest.fixture(scope="module", params=list(ZONES))
def zoned_plant(request, django_db_blocker):
    """(zone, conninfo, first reading, end): a plant seeded across the zone's clock change, topped up twice."""
    from industrial.database.connection import drop_database, recreate_database
    from tests.conftest import TEST_DATABASE

    zone, end = request.param, ZONES[request.param]
    name = f"{TEST_DATABASE}_rollups_{zone.split('/')[1].lower()}"
    with django_db_blocker.unblock():
        conninfo = recreate_database(name)
        for extra in (timedelta(0), timedelta(minutes=37), timedelta(hours=5, minutes=2)):
            seed_plant(conninfo=conninfo, plan=plan_for(zone, end + extra))
    yield zone, conninfo, end - timedelta(days=DAYS), end + timedelta(hours=5, minutes=3)
    drop_database(name)


@pytest.fixture(scope="module")
def both(zoned_plant):
    """The access layer twice over one plant: from rollups, and from raw rows only."""
    zone, conninfo, *_ = zoned_plant
    fast = TimeSeriesDataAccess(conninfo, time_zone=zone)
    slow = TimeSeriesDataAccess(conninfo, time_zone=zone, rollups=False)
    yield fast, slow
    fast.close()
    slow.close()


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def random_windows(rng: random.Random, first: datetime, end: datetime, n: int):
    span = (end - first).total_seconds()
    for _ in range(n):
        a, b = sorted(first + timedelta(seconds=rng.uniform(-3600, span + 3600)) for _ in range(2))
        yield a, b + timedelta(seconds=rng.choice([1, 60, 3600, 86400]))


def test_series_from_rollups_equal_series_from_raw_rows(zoned_plant, both):
    zone, _, first, end = zoned_plant
    fast, slow = both
    rng = random.Random(zone)
    used = 0
    for start, stop in random_windows(rng, first, end, 70):
        eq, metric = rng.choice(METRICS)
        bucket, aggregation = rng.choice(BUCKETS), rng.choice(AGGREGATIONS)
        got, want = (a.series(eq, metric, start, stop, bucket, aggregation) for a in (fast, slow))
        assert [p[0] for p in got.points] == [p[0] for p in want.points], (start, stop, bucket)
        assert all(close(g[1], w[1]) for g, w in zip(got.points, want.points, strict=True)), (
            start, stop, bucket, aggregation, got.points, want.points,
        )  # fmt: skip
        used += fast._plan([eq], start, stop, bucket=bucket, time_zone=zone).uses_rollups
    assert used > 35  # most windows were answered from rollups, not by falling back


def test_window_statistics_from_rollups_equal_raw_rows(zoned_plant, both):
    zone, _, first, end = zoned_plant
    fast, slow = both
    rng = random.Random(zone + "stats")
    for start, stop in random_windows(rng, first, end, 50):
        eq, metric = rng.choice(METRICS)
        got, want = fast.stats(eq, metric, start, stop, percentiles=False), slow.stats(eq, metric, start, stop)
        for field in ("count", "mean", "min", "max", "stddev", "first", "last"):
            assert close(getattr(got, field), getattr(want, field)), (field, start, stop, got, want)
        ids = ["chiller_001", "pump_001"]
        got, want = (
            fast.window_aggregates(ids, "power_consumption_kw", start, stop),
            slow.window_aggregates(ids, "power_consumption_kw", start, stop),
        )
        assert got.keys() == want.keys()
        for eq in ids:
            assert all(close(getattr(got[eq], f), getattr(want[eq], f)) for f in ("count", "mean", "min", "max"))
    assert fast.window_aggregates([], "power_consumption_kw", first, end) == {}  # no fleet, no statement


def test_a_windows_usual_level_from_rollups_equals_raw_rows(zoned_plant, both):
    """``profile``: the window beside the same clock hours of the days before (what a diagnosis compares)."""
    zone, _, first, end = zoned_plant
    fast, slow = both
    rng = random.Random(zone + "profile")
    for start, stop in random_windows(rng, first + timedelta(days=3), end, 15):
        metrics = ["power_consumption_kw", "chw_supply_temp_c", "running_status"]
        days = rng.choice([1, 3, 7])
        got, want = (a.profile("chiller_001", metrics, start, stop, days=days) for a in (fast, slow))
        assert got.keys() == want.keys()
        for metric in metrics:
            for field in ("count", "mean", "min", "max", "last", "usual", "usual_spread", "usual_days"):
                assert close(getattr(got[metric], field), getattr(want[metric], field)), (field, got, want)


def test_daily_buckets_are_the_plants_local_days(zoned_plant, both):
    zone, conninfo, first, end = zoned_plant
    fast, _ = both
    series = fast.series("chiller_001", "power_consumption_kw", first, end, "1d", "avg")
    with psycopg.connect(conninfo) as conn:
        expected = conn.execute(
            "SELECT date_trunc('day', \"timestamp\", %s) AS d, avg(power_consumption_kw) FROM chiller_001 "
            'WHERE "timestamp" >= %s AND "timestamp" < %s GROUP BY d ORDER BY d',
            (zone, first, end),
        ).fetchall()
    assert [p[0] for p in series.points] == [d for d, _ in expected]
    assert [p[1] for p in series.points] == pytest.approx([v for _, v in expected], rel=1e-9)
    days = [p[0] for p in series.points]
    lengths = {b - a for a, b in itertools.pairwise(days)}
    if zone != "Asia/Kolkata":
        assert len(lengths) > 1  # the day of the clock change is not 24 hours long


def test_seeded_rollups_equal_rollups_built_from_raw_rows(zoned_plant):
    """The seeder's numpy buckets and ``build_rollups``' SQL buckets agree, the local day edges included."""
    zone, conninfo, *_ = zoned_plant
    before = dump_rollups(conninfo)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP SCHEMA cc_rollups CASCADE")
    database = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
    call_command_in(database, "build_rollups", "--time-zone", zone, "--chunk-days", "2")
    after = dump_rollups(conninfo)
    assert before.keys() == after.keys()
    for table in before:
        assert len(before[table]) == len(after[table]), table
        for old, new in zip(before[table], after[table], strict=True):
            assert old[0] == new[0]
            assert all(close(a, b) if isinstance(a, float) else a == b for a, b in zip(old, new, strict=True))


def dump_rollups(conninfo: str) -> dict[str, list[tuple]]:
    with psycopg.connect(conninfo) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'cc_rollups' AND tablename <> 'state' ORDER BY 1"
        )]  # fmt: skip
        return {t: conn.execute(f'SELECT * FROM cc_rollups."{t}" ORDER BY bucket').fetchall() for t in tables}


def manage_env(database: str) -> dict[str, str]:
    """The environment in which ``manage.py`` works on ``database`` (embedded server or an external one)."""
    import os

    from django.conf import settings

    env = {**os.environ, "TIMESERIES_DATABASE_NAME": database}
    if settings.TIMESERIES_DATABASE_URL:
        from industrial.database.connection import timeseries_conninfo

        env["TIMESERIES_DATABASE_URL"] = timeseries_conninfo(database)
    return env


def call_command_in(database: str, *args: str) -> str:
    """Run a management command against ``database`` (a real ``manage.py`` process, as an operator would)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "manage.py", *args], env=manage_env(database), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
