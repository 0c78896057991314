"""Slow and stalled clients against gunicorn's sync workers and the asyncio workers the project now runs.

    python bench/slow_clients.py                       # 3 workers each, 0/3/12/100 stalled connections
    python bench/slow_clients.py --stalled 0,50 --requests 400

Seeds a small plant (two of every equipment type, one day), starts two servers on it side by side: one with
gunicorn's ``sync`` workers and the WSGI app (as the project ran before), one as configured
(``command_center/gunicorn_conf.py``: the ``asgi`` worker). For each count of stalled clients (connections
that send half a request header and then nothing) it measures /api/health/ from a well-behaved client:
how many of 10 requests answer within 2 s, and their p50. Then it measures orchestrate throughput at
concurrency 8 on both, in interleaved rounds so that machine noise falls on both alike, to show what the
asyncio worker costs. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, machine, percentiles, seed_scratch_plant, setup_django, timed_orchestrates

PLANT = "bench_slow_clients"
SYNC = ("--worker-class", "sync", "command_center.wsgi:application")


def stalled_connections(base_url: str, count: int) -> list[socket.socket]:
    host, port = base_url.removeprefix("http://").split(":")
    held = []
    for _ in range(count):
        conn = socket.create_connection((host, int(port)))
        conn.sendall(b"GET /api/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        held.append(conn)
    return held


def health_under_stall(server, stalled: int, probes: int = 10) -> dict:
    held = stalled_connections(server.base_url, stalled)
    time.sleep(0.3)
    answered, latencies = 0, []
    request = urllib.request.Request(
        server.base_url + "/api/health/", headers={"Authorization": f"Token {server.token}"}
    )
    try:
        for _ in range(probes):
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    answered += response.status == 200
                    latencies.append(time.perf_counter() - started)
            except OSError:
                pass
    finally:
        for conn in held:
            conn.close()
    figures = percentiles(latencies, 0.5) if latencies else {"p50_ms": None}
    return {"stalled": stalled, "answered": answered, "of": probes, **figures}


def orchestrate_round(server, transcripts: list[str], requests: int, concurrency: int) -> tuple[int, float, list]:
    results, wall = timed_orchestrates(server, transcripts, requests, concurrency)
    return sum(s == 200 for s, _ in results), wall, [t for _, t in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers per server (default 3).")
    parser.add_argument("--stalled", default="0,3,12,100", help="Stalled connection counts (default 0,3,12,100).")
    parser.add_argument("--requests", type=int, default=320, help="Orchestrate requests per server (default 320).")
    parser.add_argument("--rounds", type=int, default=4, help="Interleaved rounds they are split into (default 4).")
    parser.add_argument("--concurrency", type=int, default=8, help="Orchestrate clients at once (default 8).")
    args = parser.parse_args()
    setup_django()
    from command_center.local_server import start_local_server
    from industrial.database.connection import drop_database
    from industrial.plant.spec import EQUIPMENT_TYPES

    end = datetime.now(UTC).replace(second=0, microsecond=0)
    seeded = seed_scratch_plant(name=PLANT, days=1, counts={t.name: 2 for t in EQUIPMENT_TYPES}, seed=5, end=end)
    lines = (ROOT / "tests" / "data" / "operator_queries.jsonl").read_text().splitlines()
    transcripts = [json.loads(line)["transcript"] for line in lines]
    servers = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for name, extra in (("sync", SYNC), ("asgi", ())):
                servers[name] = start_local_server(
                    timeseries_url=seeded["conninfo"], state_dir=Path(tmp) / name, workers=args.workers,
                    gunicorn_args=extra,
                )  # fmt: skip
            stalls = {name: [] for name in servers}
            for count in (int(c) for c in args.stalled.split(",")):
                for name, server in servers.items():
                    stalls[name].append(health_under_stall(server, count))
                    print(f"{name}: {stalls[name][-1]}", file=sys.stderr)
            throughput = {name: {"ok": 0, "seconds": 0.0, "latencies": []} for name in servers}
            for _ in range(args.rounds):
                for name, server in servers.items():
                    ok, seconds, latencies = orchestrate_round(
                        server, transcripts, args.requests // args.rounds, args.concurrency
                    )
                    throughput[name]["ok"] += ok
                    throughput[name]["seconds"] += seconds
                    throughput[name]["latencies"] += latencies
        finally:
            for server in servers.values():
                server.stop()
    drop_database(PLANT)
    load = {
        name: {"rps": round(t["ok"] / t["seconds"], 1), **percentiles(t["latencies"], 0.5, 0.95), "ok": t["ok"]}
        for name, t in throughput.items()
    }
    print(f"\n{args.workers} workers each; /api/health/ from a well-behaved client while others stall:")
    print(f"{'stalled':>8} | {'sync answered':>13} {'p50 ms':>8} | {'asgi answered':>13} {'p50 ms':>8}")
    for sync, asgi in zip(stalls["sync"], stalls["asgi"], strict=True):
        print(f"{sync['stalled']:>8} | {sync['answered']:>6} of {sync['of']:<4} {sync['p50_ms'] or '-':>8} | "
              f"{asgi['answered']:>6} of {asgi['of']:<4} {asgi['p50_ms'] or '-':>8}")  # fmt: skip
    print(f"\norchestrate at concurrency {args.concurrency}, {args.rounds} interleaved rounds:")
    for name, figures in load.items():
        print(f"  {name}: {figures['rps']} requests/s, p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms")
    ratio = round(load["asgi"]["rps"] / load["sync"]["rps"], 3)
    print(f"  asgi / sync throughput: {ratio}")
    print(json.dumps({"bench": "slow_clients", "machine": machine(), "date": end.date().isoformat(),
                      "workers": args.workers, "health_under_stall": stalls, "orchestrate": load,
                      "asgi_over_sync_rps": ratio}))  # fmt: skip


if __name__ == "__main__":
    main()
