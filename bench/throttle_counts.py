"""What a throttle's check-and-count costs a request: the SQLite store against the PostgreSQL one.

    .venv/bin/python bench/throttle_counts.py                 # 2000 bumps on each store
    .venv/bin/python bench/throttle_counts.py --calls 5000 --clients 100

In process, one thread, as a web worker calls it: ``bump_if`` with the sliding-window throttle's shape (two
slots read, the current one bumped), cycling through ``--clients`` addresses. SQLite is a file in a
temporary folder (one host's store); PostgreSQL is a scratch database on the configured server (the
embedded one, or ``TIMESERIES_DATABASE_URL``), what several hosts share, reached here over its local
socket or the URL's network, so a remote server adds its round trips (five a bump). Per-call
milliseconds as median and p99; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import call_times, machine, percentiles, setup_django


def measure(store, *, calls: int, clients: int) -> dict[str, float]:
    calls_made = iter(range(10**9))

    def bump() -> bool:
        window = int(time.time() / 60)
        key = f"throttle_anon_203.0.113.{next(calls_made) % clients}"
        slots = [f"{key}:{window - 1}", f"{key}:{window}"]
        return store.bump_if(slots[1], read=slots, allowed=lambda c: sum(c) < 10**9, expires=(window + 2) * 60)

    samples, _ = call_times(bump, calls, warmups=50)
    return {**percentiles(samples, 0.5, 0.99), "mean_ms": round(statistics.fmean(samples) * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="Timed bump_if calls per store (default 2000).")
    parser.add_argument("--clients", type=int, default=20, help="Client addresses to cycle through (default 20).")
    args = parser.parse_args()

    setup_django()
    from command_center.throttle_counts import PostgresThrottleCounts, ThrottleCounts
    from industrial.database.connection import drop_database, recreate_database

    figures: dict[str, object] = {"machine": machine(), "calls": args.calls, "clients": args.clients}
    with tempfile.TemporaryDirectory() as folder:
        figures["sqlite"] = measure(ThrottleCounts(Path(folder) / "throttle.sqlite3"), **vars(args))
    conninfo = recreate_database("bench_throttle_counts")
    try:
        figures["postgresql"] = measure(PostgresThrottleCounts(conninfo), **vars(args))
    finally:
        drop_database("bench_throttle_counts")
    for store in ("sqlite", "postgresql"):
        print(f"{store:>10}: " + ", ".join(f"{k} {v}" for k, v in figures[store].items()))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
