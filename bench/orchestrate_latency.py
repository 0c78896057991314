"""Orchestrate latency and throughput over HTTP, against gunicorn with several workers.

    python bench/orchestrate_latency.py                                  # full plant, 3 workers, c = 1, 4, 8, 16
    python bench/orchestrate_latency.py --days 1 --requests 100 --concurrency 1,8   # a quick run

Seeds the full 363-equipment plant (7 days by default) into a scratch
database, starts gunicorn (rules planner) on a loopback port, then sends the
labelled operator questions (tests/data/operator_queries.jsonl, in a fixed
shuffled order) at each concurrency level and reports p50/p95/p99 latency,
requests per second and errors. Finally it checks that the experience
journal holds exactly one experience per successful request. The last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, machine, percentiles, seed_scratch_plant, setup_django


def questions(seed: int) -> list[str]:
    lines = (ROOT / "tests" / "data" / "operator_queries.jsonl").read_text().splitlines()
    transcripts = [json.loads(line)["transcript"] for line in lines]
    random.Random(seed).shuffle(transcripts)
    return transcripts


def load(server, transcripts: list[str], requests: int, concurrency: int) -> dict:
    def one(i: int) -> tuple[int, float]:
        started = time.perf_counter()
        status, _, _ = server.request(
            "POST", "/api/layer2/orchestrate/", {"transcript": transcripts[i % len(transcripts)]}
        )
        return status, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    latencies = [t for status, t in results if status == 200]
    return {
        "concurrency": concurrency,
        "requests": requests,
        "ok": len(latencies),
        "errors": requests - len(latencies),
        **percentiles(latencies, 0.5, 0.95, 0.99),
        "requests_per_s": round(len(latencies) / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=7, help="History of the seeded plant (default 7 days).")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3).")
    parser.add_argument("--concurrency", default="1,4,8,16", help="Comma-separated client concurrency levels.")
    parser.add_argument("--requests", type=int, default=400, help="Requests per level (default 400).")
    parser.add_argument("--warmup", type=int, default=60, help="Requests before measuring (default 60).")
    parser.add_argument("--seed", type=int, default=42, help="Seed for data and question order.")
    args = parser.parse_args()

    setup_django()
    from command_center.local_server import start_local_server
    from industrial.database.connection import drop_database
    from industrial.plant.spec import EQUIPMENT_TYPES
    from rl.experiences.buffer import ExperienceBuffer

    end = datetime.now(UTC).replace(second=0, microsecond=0)
    name = "plant_bench_orchestrate"
    seeded = seed_scratch_plant(
        name=name, days=args.days, counts={t.name: None for t in EQUIPMENT_TYPES}, seed=args.seed, end=end
    )
    state = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    server = start_local_server(timeseries_url=seeded["conninfo"], state_dir=state, workers=args.workers)
    transcripts = questions(args.seed)
    try:
        load(server, transcripts, args.warmup, 4)
        levels = [load(server, transcripts, args.requests, int(c)) for c in args.concurrency.split(",")]
    finally:
        server.stop()
        drop_database(name)
    recorded = len(ExperienceBuffer(state / "experiences.jsonl"))
    successful = sum(level["ok"] for level in levels) + args.warmup
    figures = {
        "machine": machine(),
        "date": end.date().isoformat(),
        "plant": {"equipment": 363, "days": args.days, "rows": seeded["rows"]},
        "workers": args.workers,
        "planner": "rules",
        "levels": levels,
        "experiences_recorded": recorded,
        "successful_requests": successful,
        "one_experience_per_request": recorded == successful,
    }
    print(f"\n{seeded['rows']:,} rows, {args.workers} gunicorn workers, rules planner")
    for level in levels:
        latency = "  ".join(f"{p} {level[p + '_ms']:7.1f} ms" for p in ("p50", "p95", "p99"))
        print(
            f"  c={level['concurrency']:<3} {latency}  {level['requests_per_s']:6.1f} req/s  errors {level['errors']}"
        )
    print(f"  experiences recorded {recorded} for {successful} successful requests")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
