"""Latency of the time-series access layer, and seeding throughput.

    python bench/timeseries_latency.py                   # 363 equipment, 30 days (~15.7 M rows), and a 7-day twin
    python bench/timeseries_latency.py --days 2 --count 2 --compare-days 1 --calls 50   # a quick smoke run

Seeds its own databases (``plant_bench_<days>d`` on the configured server,
embedded by default), then times each query type from Python through
``TimeSeriesDataAccess`` and prints p50/p95 in milliseconds. The 7-day twin
shows whether latest and 24 h latencies grow with history (they should
not: both are index range scans). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from common import call_times, machine, percentiles, seed_scratch_plant, setup_django


def timed(call: Callable[[], object], calls: int) -> dict[str, float]:
    samples, _ = call_times(call, calls, warmups=min(20, calls))  # the pool, the plan cache, the OS page cache
    return {**percentiles(samples, 0.5, 0.95), "calls": calls, "mean_ms": round(statistics.fmean(samples) * 1000, 3)}


def measure(conninfo: str, calls: int, rng: random.Random) -> dict[str, dict]:
    from industrial.timeseries.access import TimeSeriesDataAccess

    access = TimeSeriesDataAccess(conninfo, max_size=2)
    types = access.catalog.types()
    every = [eq for ids in types.values() for eq in ids]
    first_metric = {eq: next(iter(access.catalog.equipment[eq].metrics)) for eq in every}
    end = max(access.latest(ids[0]).timestamp for ids in types.values())
    fleet_type = "air_compressor" if "air_compressor" in types else next(iter(types))

    def any_eq() -> str:
        return rng.choice(every)

    def range_call(window: timedelta, bucket: str) -> Callable[[], object]:
        def call():
            eq = any_eq()
            return access.series(eq, first_metric[eq], end - window, end, bucket, "avg")

        return call

    results = {
        "latest": timed(lambda: access.latest(any_eq()), calls),
        "range_24h_hourly": timed(range_call(timedelta(hours=24), "1h"), calls),
        "range_30d_daily": timed(range_call(timedelta(days=30), "1d"), calls),
        "fleet_scan": timed(lambda: access.fleet_latest(fleet_type, first_metric[types[fleet_type][0]]), calls),
        "anomaly_scan": timed(lambda: access.anomaly_scan(fleet_type), calls),
        "active_alerts": timed(lambda: access.alerts(active_only=True), calls),
    }
    results["fleet_scan"]["equipment"] = len(types[fleet_type])
    results["anomaly_scan"]["equipment"] = len(types[fleet_type])
    access.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=30, help="History of the main plant (default 30).")
    parser.add_argument("--compare-days", type=float, default=7, help="History of the twin plant (default 7; 0 skips).")
    parser.add_argument("--count", type=int, help="Equipment per type (default: the contract's 363 in all).")
    parser.add_argument("--calls", type=int, default=200, help="Timed calls per query type (default 200).")
    parser.add_argument("--seed", type=int, default=42, help="Generator seed (default 42).")
    parser.add_argument("--keep", action="store_true", help="Keep the bench databases afterwards.")
    args = parser.parse_args()

    setup_django()
    from industrial.plant.spec import EQUIPMENT_TYPES

    counts = {t.name: args.count for t in EQUIPMENT_TYPES}
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    rng = random.Random(args.seed)
    figures: dict[str, object] = {
        "machine": machine(),
        "date": end.date().isoformat(),
        "calls": args.calls,
    }
    plants = [args.days] + ([args.compare_days] if args.compare_days else [])
    for days in plants:
        name = f"plant_bench_{days:g}d".replace(".", "_")
        seeded = seed_scratch_plant(name=name, days=days, counts=counts, seed=args.seed, end=end)
        results = measure(seeded["conninfo"], args.calls, rng)
        figures[f"{days:g}d"] = {
            "rows": seeded["rows"],
            "seed_seconds": seeded["seconds"],
            "seed_rows_per_s": seeded["rows_per_s"],
            **results,
        }
        print(
            f"\n{days:g}-day plant: {seeded['rows']:,} rows seeded in {seeded['seconds']} s "
            f"({seeded['rows_per_s']:,} rows/s)"
        )
        for query, r in results.items():
            print(f"  {query:18s} p50 {r['p50_ms']:8.3f} ms   p95 {r['p95_ms']:8.3f} ms   ({r['calls']} calls)")
        if not args.keep:
            from industrial.database.connection import drop_database

            drop_database(name)
    if args.compare_days:
        long, short = figures[f"{args.days:g}d"], figures[f"{args.compare_days:g}d"]
        figures["growth"] = {
            q: round(long[q]["p50_ms"] / short[q]["p50_ms"], 2) for q in ("latest", "range_24h_hourly")
        }
        print(f"\np50 growth {args.compare_days:g}d -> {args.days:g}d: {figures['growth']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
