"""Years of history: what the rollups buy, on disk and in milliseconds, against raw rows.

    python bench/scale.py                  # 48 tables x 3 years + a 112-meter fleet's year: ~127 M rows, ~12 GB
    python bench/scale.py --tables 4 --days 60 --fleet-meters 6 --fleet-days 30 --database plant_scale_small --drop
    python bench/scale.py --tables 363 --days 1096 --fleet-meters 0 --database plant_scale_full
                                           # the full plant, 3 years: ~572 M rows, ~55 GB (wants ~63 + 10 GB free)

Seeds database ``--database`` (kept unless ``--drop``): ``--tables`` equipment
tables spread over the 11 types in proportion (always chiller 1 and two
energy meters or more) with ``--days`` of minute rows up to the fixed
``--end``, then ``--fleet-meters`` energy meters with ``--fleet-days``. A
rerun resumes: every table is found complete and nothing is written. It
refuses to seed if the estimate (~110 bytes a row, rollups included) would
leave under 10 GB free. Then it measures raw tables against rollups on disk,
and times each query (warmed once; p50 and p95) through two
``TimeSeriesDataAccess`` on the database, ``rollups=True`` and ``False``:
the latest reading, chiller 1 power in buckets over 24 h, 30 days, 1 and 3
years, its statistics over 30 days, 1 and 3 years, and the fleet's year
(``window_aggregates``, ``counter_increases``). Rollup and raw answers must
agree (counts equal, means within 1e-9 relative) or it exits 1. Last, spoken
questions through the orchestrator with ``TIMESERIES_ROLLUPS`` on and off, the
3-year average said checked against SQL over the raw rows. Progress goes to
stderr; the figures, then one JSON line, to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import call_times, percentiles, setup_django

BYTES_PER_ROW = 110  # a minute row of the widest tables with its primary key, and its share of the rollups
MIN_FREE = 10 * 10**9
EQ, METRIC = "chiller_001", "power_consumption_kw"
YEAR, YEARS_3 = timedelta(days=365), timedelta(days=1096)  # one and three calendar years before 2026-03-02
PLANT_END = datetime(2026, 3, 2, tzinfo=UTC)
SLOW = ("window", "fleet")  # the kinds of case timed only --raw-repeat times on raw rows


def table_counts(tables: int) -> dict[str, int]:
    """``tables`` spread over the types in proportion to the contract's counts: chiller 1 and two meters first,
    then one at a time to the type furthest below its share."""
    from industrial.plant.spec import EQUIPMENT_TYPES

    total = sum(t.count for t in EQUIPMENT_TYPES)
    counts = {t.name: 0 for t in EQUIPMENT_TYPES} | {"chiller": 1, "energy_meter": 2}
    while sum(counts.values()) < tables:
        open_types = [t for t in EQUIPMENT_TYPES if counts[t.name] < t.count]
        best = max(open_types, key=lambda t: t.count * tables / total - counts[t.name])
        counts[best.name] += 1
    return {name: n for name, n in counts.items() if n}


def seed_plans(args, counts: dict[str, int]) -> tuple[list, int]:
    """The plans, the main plant first (a meter seeded by the fleet's plan first would get only its days), and
    the rows they hold."""
    from industrial.plant.seeding import SeedPlan

    common = {"seed": args.seed, "end": args.end, "time_zone": args.zone}
    plans = [SeedPlan(days=args.days, counts=counts, **common)]
    rows = plans[0].expected_rows()
    extra = args.fleet_meters - counts["energy_meter"]
    if extra > 0:
        plans.append(SeedPlan(days=args.fleet_days, counts={"energy_meter": args.fleet_meters}, **common))
        rows += plans[1].expected_rows() * extra // args.fleet_meters
    return plans, rows


def open_database(name: str) -> str:
    """The conninfo of database ``name``, created if absent (never dropped here: a rerun reuses it)."""
    import psycopg
    from psycopg import sql

    from industrial.database.connection import timeseries_conninfo

    with psycopg.connect(timeseries_conninfo("postgres"), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return timeseries_conninfo(name)


def check_disk(conninfo: str, rows: int) -> dict:
    """Exit with a message if writing what the database lacks would leave under ``MIN_FREE`` on its disk."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        stored = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        try:
            data_dir = conn.execute("SHOW data_directory").fetchone()[0]
        except psycopg.Error:  # not allowed to read it
            data_dir = "/"
    data_dir = data_dir if Path(data_dir).exists() else "/"  # a remote server: this disk is only a guess
    needed, free = max(0, rows * BYTES_PER_ROW - stored), shutil.disk_usage(data_dir).free
    if free - needed < MIN_FREE:
        sys.exit(
            f"refusing to seed: {rows:,} rows need ~{needed / 1e9:.1f} GB more on {data_dir}, which has "
            f"{free / 1e9:.1f} GB free, and {MIN_FREE / 1e9:.0f} GB must stay free"
        )
    return {"rows_planned": rows, "needed_gb": round(needed / 1e9, 1), "free_gb": round(free / 1e9, 1)}


def seed(conninfo: str, plans: list) -> dict:
    """Seed or resume every plan. Rows and seconds count the tables written (each table's time runs from the end
    of the one before), not those found complete."""
    import psycopg
    from tqdm import tqdm

    from industrial.plant.seeding import seed_plant

    written = {"tables": 0, "rows": 0, "seconds": 0.0}
    for plan in plans:
        with tqdm(total=len(plan.equipment()), unit="table", desc=f"seed {plan.days:g} d", file=sys.stderr) as bar:
            last = time.perf_counter()

            def on_table(result) -> None:
                nonlocal last
                now = time.perf_counter()
                if result.rows:
                    written["tables"] += 1
                    written["rows"] += result.rows
                    written["seconds"] += now - last
                last = now
                bar.update(1)

            seed_plant(conninfo=conninfo, plan=plan, on_table=on_table)
    started = time.perf_counter()
    if written["rows"]:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # what autovacuum would do soon after a bulk load
    rate = written["rows"] / written["seconds"] if written["seconds"] else 0
    vacuum = round(time.perf_counter() - started, 1)
    return {**written, "seconds": round(written["seconds"], 1), "rows_per_s": round(rate), "vacuum_seconds": vacuum}


def measure_disk(conninfo: str) -> dict:
    import psycopg

    from industrial.rollups.schema import disk_bytes

    with psycopg.connect(conninfo, autocommit=True) as conn:
        raw, rollups = disk_bytes(conn)
        rows = conn.execute(
            "SELECT coalesce(sum(reltuples), 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname NOT IN ('equipment', 'alerts')"
        ).fetchone()[0]
    share = 100 * rollups / raw if raw else 0.0
    return {"rows_estimate": int(rows), "raw_gb": round(raw / 1e9, 3), "rollup_gb": round(rollups / 1e9, 3),
            "rollup_share_pct": round(share, 2), "share_target_met": share <= 12}  # fmt: skip


def timed(call, repeat: int) -> tuple[dict, object]:
    """p50 and p95 of ``repeat`` calls after one to warm (the pool, the plan, the page cache); and its result."""
    samples, result = call_times(call, repeat)
    return {**percentiles(samples, 0.5, 0.95), "repeat": repeat}, result


def same(a, b) -> bool:
    """Rollup and raw answers agree: equal counts, timestamps and keys; floats within 1e-9 relative."""
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__dataclass_fields__"):  # Reading, Series, Stats, WindowAggregate
        keep = ("timestamp", "values", "points", "count", "mean", "min", "max")
        return same(*({f: getattr(x, f) for f in keep if hasattr(x, f)} for x in (a, b)))
    return a == b


def query_cases(end: datetime, fleet: list[str], fleet_window: timedelta) -> list[tuple[str, str, object]]:
    """(name, target kind, call(access)) for each timed query, every window ending at ``end``."""

    def series(window: timedelta, bucket: str):
        return lambda a: a.series(EQ, METRIC, end - window, end, bucket, "avg")

    def stats(window: timedelta):
        return lambda a: a.stats(EQ, METRIC, end - window, end, percentiles=False)

    def over_fleet(method: str, metric: str):
        return lambda a: getattr(a, method)(fleet, metric, end - fleet_window, end)

    cases = [
        ("latest", "latest", lambda a: a.latest(EQ)),
        ("series 24 h hourly", "", series(timedelta(hours=24), "1h")),
        ("series 30 d daily", "", series(timedelta(days=30), "1d")),
        ("series 1 y daily", "window", series(YEAR, "1d")),
        ("series 3 y monthly", "window", series(YEARS_3, "1mo")),
        ("stats 30 d", "", stats(timedelta(days=30))),
        ("stats 1 y", "window", stats(YEAR)),
        ("stats 3 y", "window", stats(YEARS_3)),
    ]
    if fleet:
        span = f"{len(fleet)} meters {fleet_window.days} d"
        cases += [
            (f"fleet window_aggregates {span}", "fleet", over_fleet("window_aggregates", "active_power_kw")),
            (f"fleet counter_increases {span}", "fleet", over_fleet("counter_increases", "energy_kwh")),
        ]
    return cases


def time_queries(conninfo: str, args, fleet: list[str]) -> tuple[datetime, list[dict]]:
    from tqdm import tqdm

    from industrial.plant.spec import READING_INTERVAL
    from industrial.timeseries.access import TimeSeriesDataAccess

    fast = TimeSeriesDataAccess(conninfo, max_size=2, time_zone=args.zone, rollups=True)
    raw = TimeSeriesDataAccess(conninfo, max_size=2, time_zone=args.zone, rollups=False)
    end = fast.newest_reading() + READING_INTERVAL  # as the orchestrator's "now"
    cases = query_cases(end, fleet, timedelta(days=min(365, args.fleet_days)))
    results = []
    try:
        for name, kind, call in tqdm(cases, unit="case", desc="queries", file=sys.stderr):
            on, answer = timed(lambda c=call: c(fast), args.repeat)
            off, truth = timed(lambda c=call: c(raw), args.raw_repeat if kind in SLOW else args.repeat)
            p50, speedup = on["p50_ms"], round(off["p50_ms"] / max(on["p50_ms"], 1e-3), 1)
            met = {"latest": p50 <= 0.3, "window": p50 <= 5 and speedup >= 20, "fleet": p50 <= 100}.get(kind)
            results.append({"case": name, "kind": kind, "rollups": on, "raw": off, "speedup": speedup,
                            "target_met": met, "agree": same(answer, truth)})  # fmt: skip
    finally:
        fast.close()
        raw.close()
    return end, results


def questions(counts: dict[str, int], fleet: bool) -> list[str]:
    found = ["average chiller 1 power over the last 3 years", "chiller 1 power trend over the last year"]
    if counts.get("chiller", 0) >= 2:
        found.append("compare chiller 1 and chiller 2 power over the last 90 days")
    if fleet:
        found.append("total energy used by all energy meters over the last year")
    return found


def time_orchestrator(args, conninfo: str, asked: list[str]) -> dict:
    """p50 of each question with rollups on, then off, the configured way: settings flipped, caches cleared.
    The first question's spoken number is checked against SQL over the raw rows of the window it read."""
    import psycopg
    from django.conf import settings

    from industrial.database.connection import timeseries_conninfo
    from industrial.timeseries.access import get_timeseries_access
    from layer2.services import get_orchestrator
    from rl.experiences.buffer import get_experience_buffer

    if settings.TIMESERIES_DATABASE_URL:  # an external server: the name alone does not redirect it
        settings.TIMESERIES_DATABASE_URL = timeseries_conninfo(args.database)
    settings.TIMESERIES_DATABASE_NAME, settings.PLANT_TIME_ZONE = args.database, args.zone
    settings.EXPERIENCE_BUFFER_PATH = Path(tempfile.mkdtemp(prefix="cc-bench-scale-")) / "experiences.jsonl"
    get_experience_buffer.cache_clear()
    found: dict[str, dict] = {q: {} for q in asked}
    for side, rollups in (("rollups", True), ("raw", False)):
        settings.TIMESERIES_ROLLUPS = rollups
        get_timeseries_access.cache_clear()
        get_orchestrator.cache_clear()
        for q in asked:
            figures, answer = timed(lambda q=q: get_orchestrator().answer(q), args.ask_repeat)
            found[q][side] = {**figures, "voice": answer.voice_response}
            if q == asked[0]:
                window = answer.intent.time_range
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    mean = conn.execute(
                        f'SELECT avg({METRIC}) FROM {EQ} WHERE "timestamp" >= %s AND "timestamp" < %s',
                        (window.start, window.end),
                    ).fetchone()[0]
                spoken = f"{mean:.1f}" in answer.voice_response.replace(",", "")
                found[q][side] |= {"sql_mean": f"{mean:.1f}", "number_matches": spoken}
        get_timeseries_access().close()
    get_timeseries_access.cache_clear()
    get_orchestrator.cache_clear()
    for both in found.values():
        both["speedup"] = round(both["raw"]["p50_ms"] / both["rollups"]["p50_ms"], 1)
        both["same_voice"] = both["raw"]["voice"] == both["rollups"]["voice"]
    return found


def report(figures: dict) -> None:
    plant, s, d = figures["plant"], figures["seeding"], figures["disk"]
    lines = [
        f"\n{plant['tables']} tables x {plant['days']:g} d + {plant['fleet_meters']} fleet meters x "
        f"{plant['fleet_days']:g} d ({d['rows_estimate']:,} rows), windows ending {figures['end']}",
        f"  seeded {s['rows']:,} rows in {s['tables']} tables: {s['seconds']} s, {s['rows_per_s']:,} rows/s "
        f"(then VACUUM ANALYZE {s['vacuum_seconds']} s)",
        f"  disk: raw {d['raw_gb']} GB, rollups {d['rollup_gb']} GB = {d['rollup_share_pct']} % of raw "
        f"(target <= 12 %: {'met' if d['share_target_met'] else 'MISSED'})",
        f"\n  {'query (ms)':<38}{'rollup p50':>11}{'p95':>9}{'raw p50':>11}{'p95':>10}{'x':>8}  agree  target",
    ]
    for r in figures["queries"]:
        on, off, met = r["rollups"], r["raw"], {None: "", True: "met", False: "MISSED"}[r["target_met"]]
        lines.append(
            f"  {r['case']:<38}{on['p50_ms']:>11.3f}{on['p95_ms']:>9.3f}{off['p50_ms']:>11.2f}{off['p95_ms']:>10.2f}"
            f"{r['speedup']:>8.1f}  {'yes' if r['agree'] else 'NO':<5}  {met}"
        )
    lines.append("  (targets on p50: latest <= 0.3 ms; 1 y and 3 y windows <= 5 ms and >= 20x; fleet <= 100 ms)")
    for q, both in figures["orchestrator"].items():
        on, off = both["rollups"], both["raw"]
        lines.append(
            f"\n  ask {q!r}: p50 {on['p50_ms']:.1f} ms with rollups, {off['p50_ms']:.1f} ms without "
            f"({both['speedup']}x; the same voice both ways: {both['same_voice']})\n    says: {on['voice']}"
        )
        if "sql_mean" in on:
            lines.append(
                f"    SQL avg over the raw rows {on['sql_mean']}: said with rollups {on['number_matches']}, "
                f"without {off['number_matches']}"
            )
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--database", default="plant_scale", help="Database to seed or reuse (default plant_scale).")
    add("--tables", type=int, default=48, help="Equipment tables over the 11 types, 3..363 (default 48).")
    add("--days", type=float, default=1096, help="History of each table in days (default 1096: 3 years).")
    add("--fleet-meters", type=int, default=112, help="Energy meters in the fleet, 0..112 (default 112; 0: none).")
    add("--fleet-days", type=float, default=366, help="History of the fleet's meters (default 366).")
    add("--end", type=lambda text: datetime.fromisoformat(text).astimezone(UTC), default=PLANT_END,
        help="The newest row's time, fixed so that reruns are no-ops (default 2026-03-02T00:00Z).")  # fmt: skip
    add("--zone", default="UTC", help="Plant time zone, whose days the daily rollups are (default UTC).")
    add("--seed", type=int, default=42, help="Generator seed (default 42).")
    add("--repeat", type=int, default=20, help="Timed runs of each query (default 20).")
    add("--raw-repeat", type=int, default=5, help="Timed runs of the 1 y, 3 y and fleet cases on raw rows (default 5).")
    add("--ask-repeat", type=int, default=3, help="Timed runs of each orchestrator question (default 3).")
    add("--drop", action="store_true", help="Drop the database at the end (default: keep it for the next run).")
    args = parser.parse_args()
    if not 3 <= args.tables <= 363 or not 0 <= args.fleet_meters <= 112:
        parser.error("--tables must be 3..363 and --fleet-meters 0..112")

    setup_django()
    from industrial.database.connection import drop_database

    counts = table_counts(args.tables)
    fleet = [f"energy_meter_{n:03d}" for n in range(1, args.fleet_meters + 1)]
    conninfo = open_database(args.database)
    plans, rows = seed_plans(args, counts)
    try:
        planned = check_disk(conninfo, rows)
        seeded = seed(conninfo, plans)
        disk = measure_disk(conninfo)
        end, queries = time_queries(conninfo, args, fleet)
        asked = time_orchestrator(args, conninfo, questions(counts, bool(fleet)))
    finally:
        if args.drop:
            drop_database(args.database)
    figures = {
        "bench": "scale",
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version()},
        "date": datetime.now(UTC).date().isoformat(),
        "database": args.database,
        "plant": {"tables": args.tables, "counts": counts, "days": args.days, "fleet_meters": args.fleet_meters,
                  "fleet_days": args.fleet_days, "zone": args.zone, "end": args.end.isoformat(), **planned},
        "end": end.isoformat(),
        "seeding": seeded,
        "disk": disk,
        "queries": queries,
        "orchestrator": asked,
    }  # fmt: skip
    report(figures)
    print(json.dumps(figures, default=str))
    disagree = [r["case"] for r in queries if not r["agree"]]
    if disagree:
        sys.exit(f"rollup and raw answers differ: {', '.join(disagree)}")


if __name__ == "__main__":
    main()
