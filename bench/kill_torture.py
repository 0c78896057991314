"""Kill gunicorn with SIGKILL under load, again and again: nothing it acknowledged may be lost.

    python bench/kill_torture.py                                  # 20 kills, 6 clients, 3 workers
    python bench/kill_torture.py --kills 50 --clients 8 --seed 3
    python bench/kill_torture.py --timeseries-url postgresql://... --state-dir /tmp/kt   # your plant, kept state

Seeds a small scratch plant (two of every equipment type, a few hours) unless
given one, starts gunicorn on a state folder (a temporary one unless given),
and runs client threads that ask questions and rate their own earlier answers.
After a random spell of load it kills the master and all its workers at once
(SIGKILL to the process group), waits until none is left, restarts on the same
state folder, and repeats. Then it checks what is on disk: every orchestrate
that returned 200 is in the journal exactly once, every feedback that returned
200 is the answer's rating there and has its WidgetRating row, and every
journal line parses. The work is ``tests/rl/experiences/server_kills.py``
(the suite runs it too: tests/rl/experiences/test_kill_durability.py).
A progress line per kill goes to stderr; the last line is one JSON object.
Exit status 1 if anything acknowledged was lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from common import machine, seed_scratch_plant, setup_django

PLANT = "bench_kill_torture"
HEADLINE = ("kills", "orchestrate_acked", "feedback_acked", "lost_orchestrate", "lost_feedback", "duplicates",
            "unparseable_lines", "connection_errors", "seconds")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="How many times to SIGKILL the server (default 20).")
    parser.add_argument("--clients", type=int, default=6, help="Concurrent client threads (default 6).")
    parser.add_argument("--workers", type=int, default=3, help="Gunicorn workers per start (default 3).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the kill delays and the clients' choices.")
    parser.add_argument("--min-load", type=float, default=0.2, help="Shortest load before a kill, s (default 0.2).")
    parser.add_argument("--max-load", type=float, default=2.0, help="Longest load before a kill, s (default 2.0).")
    parser.add_argument(
        "--state-dir", type=Path, help="State folder to serve from and keep (default: a temporary one, removed)."
    )
    parser.add_argument(
        "--timeseries-url", help="An existing plant database to serve (default: seed a scratch one, dropped after)."
    )
    args = parser.parse_args()
    if args.kills < 1 or args.clients < 1 or args.workers < 1 or not 0 <= args.min_load <= args.max_load:
        parser.error("--kills, --clients and --workers must be at least 1, and 0 <= --min-load <= --max-load")
    setup_django()
    from industrial.database.connection import drop_database
    from industrial.plant.spec import EQUIPMENT_TYPES
    from tests.rl.experiences.server_kills import kill_torture

    url = args.timeseries_url
    if url is None:
        counts = {t.name: 2 for t in EQUIPMENT_TYPES}
        url = seed_scratch_plant(name=PLANT, days=0.25, counts=counts, seed=1, end=datetime(2026, 3, 2, tzinfo=UTC))[
            "conninfo"
        ]
    try:
        with tempfile.TemporaryDirectory(prefix="kill-torture-") as tmp:
            report = kill_torture(
                timeseries_url=url,
                state_dir=args.state_dir or Path(tmp),
                kills=args.kills,
                clients=args.clients,
                workers=args.workers,
                seed=args.seed,
                load_seconds=(args.min_load, args.max_load),
                progress=lambda line: print(line, file=sys.stderr, flush=True),
            )
    finally:
        if args.timeseries_url is None:
            drop_database(PLANT)
    details = report.as_dict()
    print(json.dumps(details, indent=1), file=sys.stderr)
    headline = {k: details[k] for k in HEADLINE}
    print(json.dumps({**headline, "clients": args.clients, "workers": args.workers, "seed": args.seed,
                      "machine": machine(), "date": datetime.now(UTC).date().isoformat()}))  # fmt: skip
    if report.lost_orchestrate or report.lost_feedback or report.duplicates or report.unparseable_lines:
        sys.exit(1)


if __name__ == "__main__":
    main()
