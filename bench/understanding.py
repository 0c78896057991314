"""Understanding, kind by kind: is each question parsed right, and does its answer say the SQL's numbers?

    python bench/understanding.py                # every labelled question, parsed 20 times each
    python bench/understanding.py --repeats 5    # a quicker run
    python bench/understanding.py --questions held_out.jsonl   # score a blind set, once, before tuning on it

The questions are tests/data/understanding_questions.jsonl (kinds: speech,
everyday_words, windows, aggregations, fleet, alert_history, honest), labelled
at one anchor (now = 2026-03-02T00:01Z, plant zone Asia/Singapore).

(a) Seeds a tiny plant of the full shape (363 tables, 0.01 days) into a scratch
database to read the full vocabulary, parses every question ``--repeats``
times and reports per kind the share understood (every labelled field right,
tests/layer2/understanding/labels.py) and the parse time p50/p99.
(b) Seeds the small test plant (2 of each type, 2 days to 2026-03-02T00:00Z,
seed 7, fault rate 0.6: tests/conftest.py's SMALL_PLAN) into another, answers
with the orchestrator over it (plant zone Asia/Singapore) every question that
carries truth numbers, forbids widgets or is refused, and reports per kind the
share numbers-true (every truth number spoken, no widget where none may be).
Both databases are dropped afterwards. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import machine, percentiles, seed_scratch_plant, setup_django

PLANT_END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # tests/conftest.py's PLANT_END


def parse_all(questions: list[dict], vocabulary, zone, repeats: int) -> dict[int, tuple[list[str], list[float]]]:
    """Per question (by index): the fields it gets wrong on the first parse, and every parse's seconds."""
    from tqdm import tqdm

    from layer2.understanding.intent import parse_intent
    from tests.layer2.understanding.labels import NOW, understood

    results = {}
    for i, q in enumerate(tqdm(questions, unit="question", desc="parse", file=sys.stderr)):
        seconds, wrong = [], None
        for _ in range(repeats):
            started = time.perf_counter()
            parsed = parse_intent(transcript=q["transcript"], vocabulary=vocabulary, now=NOW, zone=zone)
            seconds.append(time.perf_counter() - started)
            if wrong is None:
                wrong = understood(q["expect"], parsed)
        results[i] = (wrong, seconds)
    return results


def answer_all(questions: list[dict], conninfo: str, state: Path) -> dict[int, list[str]]:
    """Per checkable question (by index): what its answer over the small plant gets wrong ([] = numbers-true)."""
    import psycopg
    from tqdm import tqdm

    from industrial.timeseries.access import TimeSeriesDataAccess
    from layer2.orchestrator import Orchestrator
    from rl.experiences.buffer import ExperienceBuffer
    from tests.layer2.understanding.labels import answer_misses, needs_answer

    access = TimeSeriesDataAccess(conninfo, max_size=2)
    orchestrator = Orchestrator(access, ExperienceBuffer(state / "experiences.jsonl"))
    checked = [(i, q) for i, q in enumerate(questions) if needs_answer(q)]
    results = {}
    try:
        with psycopg.connect(conninfo, autocommit=True) as db:
            for i, q in tqdm(checked, unit="question", desc="answer", file=sys.stderr):
                try:
                    body = orchestrator.answer(q["transcript"]).to_dict()
                except Exception as error:  # a crash is a wrong answer, and the run goes on
                    results[i] = [f"raised {type(error).__name__}: {error}"]
                    continue
                results[i] = answer_misses(q, body, db)
    finally:
        access.close()
    return results


def pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def figures(questions: list[dict], parsed: dict, answered: dict, kinds: list[str]) -> dict:
    def one(indices: list[int]) -> dict:
        samples = [s for i in indices for s in parsed[i][1]]
        checked = [i for i in indices if i in answered]
        timing = percentiles(samples, 0.5, 0.99)
        return {
            "questions": len(indices),
            "understood_pct": pct(sum(not parsed[i][0] for i in indices), len(indices)),
            "answered": len(checked),
            "numbers_true_pct": pct(sum(not answered[i] for i in checked), len(checked)),
            "parse_p50_ms": timing["p50_ms"],
            "parse_p99_ms": timing["p99_ms"],
        }

    return {
        "kinds": {k: one([i for i, q in enumerate(questions) if q["kind"] == k]) for k in kinds},
        "overall": one(list(range(len(questions)))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20, help="Parses per question for the timings (default 20).")
    parser.add_argument("--zone", default="Asia/Singapore", help="Plant time zone of the labels (default Singapore).")
    parser.add_argument("--misses", action="store_true", help="Print every miss on stderr.")
    parser.add_argument(
        "--questions",
        type=Path,
        default=None,
        help="Another labelled file in the same format (a blind held-out set); default the project's set.",
    )
    args = parser.parse_args()

    setup_django()
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from industrial.database.connection import drop_database, recreate_database
    from industrial.plant.seeding import SeedPlan, seed_plant
    from industrial.plant.spec import EQUIPMENT_TYPES
    from industrial.timeseries.access import TimeSeriesDataAccess
    from layer2.understanding.intent import PlantVocabulary
    from tests.layer2.understanding.labels import KINDS, load_questions

    settings.PLANT_TIME_ZONE = args.zone  # before anything answers
    questions = load_questions(args.questions) if args.questions else load_questions()
    full, small = "plant_bench_understanding_full", "plant_bench_understanding_small"
    state = Path(tempfile.mkdtemp(prefix="cc-bench-understanding-"))
    try:
        seeded = seed_scratch_plant(
            name=full, days=0.01, counts={t.name: None for t in EQUIPMENT_TYPES}, seed=1, end=PLANT_END
        )
        access = TimeSeriesDataAccess(seeded["conninfo"], max_size=1)
        vocabulary = PlantVocabulary.from_catalog(access.catalog)
        access.close()
        parsed = parse_all(questions, vocabulary, ZoneInfo(args.zone), args.repeats)

        small_plan = SeedPlan(
            days=2, counts={t.name: 2 for t in EQUIPMENT_TYPES}, seed=7, end=PLANT_END, fault_rate=0.6
        )
        conninfo = recreate_database(small)
        seed_plant(conninfo=conninfo, plan=small_plan)
        answered = answer_all(questions, conninfo, state)
    finally:
        drop_database(full)
        drop_database(small)

    kinds = [k for k in KINDS if any(q["kind"] == k for q in questions)]
    result = {
        "bench": "understanding",
        "machine": machine(),
        "date": datetime.now(UTC).date().isoformat(),
        "repeats": args.repeats,
        "zone": args.zone,
        **figures(questions, parsed, answered, kinds),
    }
    if args.misses:
        for i, q in enumerate(questions):
            if parsed[i][0] or answered.get(i):
                print(
                    f"{q['kind']}: {q['transcript']!r} parse {parsed[i][0]} answer {answered.get(i)}", file=sys.stderr
                )
    print(f"\n{len(questions)} questions, parsed {args.repeats} times each; answers over the small plant ({args.zone})")
    print(f"  {'kind':<15}{'questions':>10}{'understood':>12}{'answered':>10}{'numbers':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for kind, row in [*result["kinds"].items(), ("overall", result["overall"])]:
        print(
            f"  {kind:<15}{row['questions']:>10}{_show(row['understood_pct']):>12}{row['answered']:>10}"
            f"{_show(row['numbers_true_pct']):>9}{row['parse_p50_ms']:>9.3f}{row['parse_p99_ms']:>9.3f}"
        )
    print(json.dumps(result))


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


if __name__ == "__main__":
    main()
