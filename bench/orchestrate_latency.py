"""Orchestrate latency and throughput over HTTP, against gunicorn with several workers.

    python bench/orchestrate_latency.py                                  # full plant, 3 workers, c = 1, 4, 8, 16
    python bench/orchestrate_latency.py --days 1 --requests 100 --concurrency 1,8   # a quick run

Seeds the full 363-equipment plant (7 days by default) into a scratch
database, starts gunicorn (rules planner) on a loopback port, then sends the
labelled operator questions (tests/data/operator_queries.jsonl, in a fixed
shuffled order) at each concurrency level and reports p50/p95/p99 latency,
requests per second and errors. Then, one request at a time and interleaved,
the same questions standalone and as turns of a conversation (each sends the
conversation id back, so the server reads and writes the conversation), and
the labelled follow-ups of tests/data/conversations.jsonl in their
conversations: the p50 difference is the cost of a conversation (target:
within 2 ms). Finally it checks that the experience journal holds exactly one
experience per successful request. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, machine, operator_questions, percentiles, seed_scratch_plant, setup_django, timed_orchestrates


def load(server, transcripts: list[str], requests: int, concurrency: int) -> dict:
    results, wall = timed_orchestrates(server, transcripts, requests, concurrency)
    latencies = [t for status, t in results if status == 200]
    return {
        "concurrency": concurrency,
        "requests": requests,
        "ok": len(latencies),
        "errors": requests - len(latencies),
        **percentiles(latencies, 0.5, 0.95, 0.99),
        "requests_per_s": round(len(latencies) / wall, 1),
    }


def conversation_cost(server, transcripts: list[str], requests: int) -> dict:
    """p50 of the same questions asked standalone and inside a conversation, interleaved, one at a time;
    then the labelled follow-ups in their conversations."""
    ok = 0

    def ask(body: dict) -> tuple[dict, float]:
        nonlocal ok
        started = time.perf_counter()
        status, answer, _ = server.request("POST", "/api/layer2/orchestrate/", body)
        ok += status == 200
        return (answer if status == 200 else {}), time.perf_counter() - started

    conversation = ask({"transcript": transcripts[0]})[0]["conversation_id"]
    alone, inside, follow_ups = [], [], []
    for i in range(requests):
        q = transcripts[i % len(transcripts)]
        alone.append(ask({"transcript": q})[1])
        inside.append(ask({"transcript": q, "conversation_id": conversation})[1])
    for line in (ROOT / "tests" / "data" / "conversations.jsonl").read_text().splitlines():
        turns = json.loads(line)["turns"]
        first = ask({"transcript": turns[0]["transcript"]})[0]
        for turn in turns[1:]:
            follow_ups.append(ask({"transcript": turn["transcript"], "conversation_id": first["conversation_id"]})[1])
    standalone, conversational = percentiles(alone, 0.5)["p50_ms"], percentiles(inside, 0.5)["p50_ms"]
    return {
        "requests": len(alone),
        "standalone_p50_ms": standalone,
        "in_conversation_p50_ms": conversational,
        "difference_p50_ms": round(conversational - standalone, 2),
        "labelled_follow_ups": len(follow_ups),
        "follow_up_p50_ms": percentiles(follow_ups, 0.5)["p50_ms"],
        "ok_requests": ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=7, help="History of the seeded plant (default 7 days).")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3).")
    parser.add_argument(
        "--sync-workers",
        action="store_true",
        help="gunicorn's sync workers and the WSGI app instead of the configured asyncio ones (for comparison).",
    )
    parser.add_argument("--concurrency", default="1,4,8,16", help="Comma-separated client concurrency levels.")
    parser.add_argument("--requests", type=int, default=400, help="Requests per level (default 400).")
    parser.add_argument("--warmup", type=int, default=60, help="Requests before measuring (default 60).")
    parser.add_argument("--seed", type=int, default=42, help="Seed for data and question order.")
    parser.add_argument(
        "--conversation-requests", type=int, default=200, help="Questions asked both ways for the conversation cost."
    )
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
    sync = ("--worker-class", "sync", "command_center.wsgi:application") if args.sync_workers else ()
    server = start_local_server(
        timeseries_url=seeded["conninfo"], state_dir=state, workers=args.workers, gunicorn_args=sync
    )
    transcripts = operator_questions(args.seed)
    try:
        load(server, transcripts, args.warmup, 4)
        levels = [load(server, transcripts, args.requests, int(c)) for c in args.concurrency.split(",")]
        conversations = conversation_cost(server, transcripts, args.conversation_requests)
    finally:
        server.stop()
        drop_database(name)
    recorded = len(ExperienceBuffer(state / "experiences.jsonl"))
    successful = sum(level["ok"] for level in levels) + args.warmup
    successful += conversations["ok_requests"]
    figures = {
        "machine": machine(),
        "date": end.date().isoformat(),
        "plant": {"equipment": 363, "days": args.days, "rows": seeded["rows"]},
        "workers": args.workers,
        "planner": "rules",
        "levels": levels,
        "conversation": conversations,
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
    c = conversations
    print(
        f"  one at a time: standalone p50 {c['standalone_p50_ms']:.1f} ms, in a conversation p50 "
        f"{c['in_conversation_p50_ms']:.1f} ms (difference {c['difference_p50_ms']:+.2f} ms); "
        f"{c['labelled_follow_ups']} labelled follow-ups p50 {c['follow_up_p50_ms']:.1f} ms"
    )
    print(f"  experiences recorded {recorded} for {successful} successful requests")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
