"""What a fresh web worker pays for its first ``GET /api/layer2/rl-status/``: time and memory.

    python bench/rl_status_first_request.py              # 3 fresh servers, 1 worker each
    python bench/rl_status_first_request.py --runs 5

Seeds a small scratch plant, then for each run starts gunicorn with one sync
worker on a fresh state folder (Tier 1 off, rules planner), sends the first
``rl-status`` request, then a second, and reads the worker's resident memory
(``/proc/<pid>/status``) before the first request and after it. The worker
is the one that answered (``X-Served-By``). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import machine, seed_scratch_plant, setup_django


def rss_mib(pid: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def one_run(conninfo: str, state_dir: Path) -> dict:
    from command_center.local_server import start_local_server

    server = start_local_server(timeseries_url=conninfo, state_dir=state_dir, workers=1)
    try:
        _, _, worker = server.request("GET", "/api/health/")
        before = rss_mib(worker)
        started = time.perf_counter()
        status, _, served_by = server.request("GET", "/api/layer2/rl-status/")
        first_ms = (time.perf_counter() - started) * 1000
        assert status == 200 and served_by == worker, (status, served_by, worker)
        after = rss_mib(worker)
        started = time.perf_counter()
        server.request("GET", "/api/layer2/rl-status/")
        second_ms = (time.perf_counter() - started) * 1000
    finally:
        server.stop()
    return {
        "first_ms": round(first_ms, 1),
        "second_ms": round(second_ms, 1),
        "rss_growth_mib": round(after - before, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="Fresh servers to measure (default 3).")
    args = parser.parse_args()
    setup_django()
    from industrial.database.connection import drop_database
    from industrial.plant.spec import EQUIPMENT_TYPES

    name = "bench_rl_status"
    end = datetime(2026, 3, 2, tzinfo=UTC)
    plant = seed_scratch_plant(name=name, days=0.1, counts={t.name: 1 for t in EQUIPMENT_TYPES}, seed=1, end=end)
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.runs):
                runs.append(one_run(plant["conninfo"], Path(tmp) / f"state-{i}"))
                print(f"run {i + 1}: {runs[-1]}", file=sys.stderr, flush=True)
    finally:
        drop_database(name)
    figures = {
        "machine": machine(),
        "date": datetime.now(UTC).date().isoformat(),
        "runs": runs,
        **{f"median_{k}": statistics.median(r[k] for r in runs) for k in ("first_ms", "second_ms", "rss_growth_mib")},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
