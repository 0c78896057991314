"""What the benchmarks share: Django set-up, percentiles, a scratch plant database."""

from __future__ import annotations

import json
import os
import platform
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")


def setup_django() -> None:
    import django

    django.setup()


def operator_questions(seed: int) -> list[str]:
    """The labelled operator questions (tests/data/operator_queries.jsonl), in an order fixed by ``seed``."""
    lines = (ROOT / "tests" / "data" / "operator_queries.jsonl").read_text().splitlines()
    transcripts = [json.loads(line)["transcript"] for line in lines]
    random.Random(seed).shuffle(transcripts)
    return transcripts


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"


def call_times(call, repeat: int, *, warmups: int = 1) -> tuple[list[float], object]:
    """Seconds of ``repeat`` calls of ``call`` after ``warmups`` unmeasured ones (the pool, the plans, the page
    cache), and what the first call returned."""
    result = call()
    for _ in range(warmups - 1):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples, result


def percentiles(samples: list[float], *quantiles: float) -> dict[str, float]:
    """Nearest-rank percentiles of ``samples`` (seconds) in milliseconds: ``{"p50_ms": ...}``."""
    ordered = sorted(samples)
    return {
        f"p{round(q * 100)}_ms": round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)
        for q in quantiles
    }


def timed_orchestrates(server, transcripts: list[str], requests: int, concurrency: int):
    """``requests`` questions (cycling through ``transcripts``) from ``concurrency`` clients at once:
    ([(status, seconds)] per request, wall seconds)."""

    def one(i: int) -> tuple[int, float]:
        started = time.perf_counter()
        status, _, _ = server.request(
            "POST", "/api/layer2/orchestrate/", {"transcript": transcripts[i % len(transcripts)]}
        )
        return status, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    return results, time.perf_counter() - started


def seed_scratch_plant(*, name: str, days: float, counts: dict, seed: int, end: datetime) -> dict:
    """Create database ``name`` afresh on the configured server and seed it; returns conninfo and figures."""
    import psycopg
    from tqdm import tqdm

    from industrial.database.connection import recreate_database
    from industrial.plant.seeding import SeedPlan, seed_plant

    conninfo = recreate_database(name)
    plan = SeedPlan(days=days, counts=counts, seed=seed, end=end)
    with tqdm(total=len(plan.equipment()), unit="table", desc=f"seed {name}", file=sys.stderr) as bar:
        report = seed_plant(conninfo=conninfo, plan=plan, on_table=lambda _: bar.update(1))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum would do soon after a bulk load
    return {"conninfo": conninfo, "rows": report.rows, "seconds": round(report.seconds, 2),
            "rows_per_s": round(report.rows_per_second)}  # fmt: skip
