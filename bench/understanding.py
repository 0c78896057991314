"""Understanding, kind by kind: is each question parsed right, and does its answer say the SQL's numbers?

    python bench/understanding.py                # every labelled question, parsed 20 times each
    python bench/understanding.py --repeats 5    # a quicker run
    python bench/understanding.py --questions held_out.jsonl   # score a blind set, once, before tuning on it
    python bench/understanding.py --conversations held_out_conversations.jsonl --diagnosis held_out_cases.jsonl

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
(c) Conversations (tests/data/conversations.jsonl, or ``--conversations``):
each is answered turn by turn by the orchestrator over the full-shape plant,
each turn read in the context the one before left; reports the share of
follow-up and of first turns understood, and the parse time of follow-ups.
(d) Diagnosis (tests/data/diagnosis_cases.jsonl, or ``--diagnosis``): the
cases' own faulty plant is seeded and each case answered; reports the share
diagnosed (unit, symptom and first cause are the injected fault's) and the
share meeting the issue's bar (names the unit, two or more metrics, related to
a limit, usual level, alert or running state, every number the judge's).
(e) The language-model resolver: how many of all labelled questions and turns
the rules read weakly enough that ``INTENT_RESOLVER=llm`` would ask Claude,
and the added latency of one ask against a loopback stand-in of the
Messages API (the SDK's own cost; Anthropic's service time comes on top and is
not measurable here), with the input size of the catalog-enumerating schema.
Every database is dropped afterwards. The last line is one JSON object.
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


def converse_all(conversations: list[dict], conninfo: str, state: Path) -> dict:
    """Turn-by-turn understanding of labelled conversations over the full-shape plant."""
    import psycopg
    from tqdm import tqdm

    from industrial.timeseries.access import TimeSeriesDataAccess
    from layer2.orchestrator import Orchestrator
    from rl.experiences.buffer import ExperienceBuffer
    from tests.layer2.understanding.conversation_labels import is_ranking, ranking, turn_misses

    class Parsed:
        def __init__(self, intent):
            self.intent, self.unresolved = intent, []

    access = TimeSeriesDataAccess(conninfo, max_size=2)
    orchestrator = Orchestrator(access, ExperienceBuffer(state / "conversations.jsonl"))
    wrong = {"first": 0, "follow_up": 0}
    turns = {"first": 0, "follow_up": 0}
    parse_seconds, misses = [], []
    try:
        with psycopg.connect(conninfo, autocommit=True) as db:
            ids = access.catalog.types()
            for c in tqdm(conversations, unit="conversation", desc="converse", file=sys.stderr):
                context, ranked = None, None
                for i, turn in enumerate(c["turns"]):
                    answer = orchestrator.answer(turn["transcript"], context=context)
                    if context is not None:
                        parse_seconds.append(orchestrator.buffer.get(answer.query_id).timings_ms["parse_ms"] / 1000)
                    context, kind = answer.context, "first" if i == 0 else "follow_up"
                    turns[kind] += 1
                    if bad := turn_misses(turn, Parsed(answer.intent), ranked):
                        wrong[kind] += 1
                        misses.append(f"{c['id']} turn {i} {turn['transcript']!r}: {bad}")
                    if is_ranking(turn):
                        ranked = ranking(turn["expect"], db, ids)
    finally:
        access.close()
    return {
        "conversations": len(conversations),
        "follow_ups": turns["follow_up"],
        "follow_ups_understood_pct": pct(turns["follow_up"] - wrong["follow_up"], turns["follow_up"]),
        "first_turns_understood_pct": pct(turns["first"] - wrong["first"], turns["first"]),
        "follow_up_parse_p50_ms": percentiles(parse_seconds, 0.5)["p50_ms"] if parse_seconds else None,
        "misses": misses,
    }


def diagnose_all(cases: list[dict], conninfo: str, state: Path) -> dict:
    from tqdm import tqdm

    from industrial.timeseries.access import TimeSeriesDataAccess
    from layer2.orchestrator import Orchestrator
    from rl.experiences.buffer import ExperienceBuffer
    from tests.layer2.answering.diagnosis_cases import bar_misses, diagnosed_misses

    access = TimeSeriesDataAccess(conninfo, max_size=2)
    orchestrator = Orchestrator(access, ExperienceBuffer(state / "diagnosis.jsonl"))
    diagnosed = met = 0
    seconds, misses = [], []
    try:
        for case in tqdm(cases, unit="case", desc="diagnose", file=sys.stderr):
            answer = orchestrator.answer(case["transcript"])
            experience = orchestrator.buffer.get(answer.query_id)
            seconds.append(answer.processing_time_ms / 1000)
            wrong = diagnosed_misses(case, answer.to_dict(), experience)
            short = bar_misses(answer.to_dict(), experience, access) if "diagnosis" in experience.data_summary else [
                "no diagnosis"]  # fmt: skip
            diagnosed += not wrong
            met += not short
            if wrong or short:
                misses.append(f"{case['transcript']!r}: {wrong + short}")
    finally:
        access.close()
    return {
        "cases": len(cases),
        "diagnosed_pct": pct(diagnosed, len(cases)),
        "bar_met_pct": pct(met, len(cases)),
        "answer_p50_ms": percentiles(seconds, 0.5)["p50_ms"],
        "misses": misses,
    }


def resolver_figures(questions: list[dict], conversations: list[dict], vocabulary, zone, threshold: float) -> dict:
    """How often the rules would ask the language model, and one ask's cost over loopback."""
    import statistics

    from layer2.understanding.followup import TurnContext, understand
    from layer2.understanding.llm_resolver import LLMResolver, ResolverConfig, intent_schema, needs_help
    from tests.layer2.understanding.labels import NOW
    from tests.rl.judges.messages_stand_in import MessagesStandIn, tool_reply

    asked = total = 0
    for q in questions:
        total += 1
        parsed = understand(transcript=q["transcript"], vocabulary=vocabulary, now=NOW, zone=zone)
        asked += needs_help(parsed, confidence_below=threshold)
    for c in conversations:
        context = None
        for turn in c["turns"]:
            parsed = understand(
                transcript=turn["transcript"], vocabulary=vocabulary, now=NOW, zone=zone, context=context
            )
            total += 1
            asked += needs_help(parsed, confidence_below=threshold)
            context = TurnContext(parsed.intent, parsed.heard)
    reading = {"understood": True, "intent_type": "status", "equipment_type": "pump", "equipment_ids": ["pump_002"],
               "metrics": ["vibration_mm_s"], "aggregation": "latest", "window": None}  # fmt: skip
    seconds = []
    with MessagesStandIn() as api:
        api.script(tool_reply(reading, tool="record_intent"))
        config = ResolverConfig(api_key="sk-bench", base_url=api.base_url, cache_size=1)
        resolver = LLMResolver(config, budget=lambda: True)
        weak = understand(transcript="how noisy is pump 2", vocabulary=vocabulary, now=NOW, zone=zone)
        for i in range(30):
            parsed_i = type(weak)(f"how noisy is pump 2 ({i})", weak.intent)
            res = resolver.resolve(parsed=parsed_i, vocabulary=vocabulary, now=NOW, zone=zone, context=None)
            seconds.append(res.seconds)
        schema_chars = len(json.dumps(intent_schema(vocabulary)))
    return {
        "threshold": threshold,
        "labelled": total,
        "would_ask": asked,
        "would_ask_pct": pct(asked, total),
        "loopback_ask_p50_ms": round(statistics.median(seconds) * 1000, 2),
        "schema_chars": schema_chars,
        "schema_tokens_estimate": schema_chars // 4,
    }


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
    parser.add_argument("--conversations", type=Path, default=None, help="Labelled conversations (default ours).")
    parser.add_argument("--diagnosis", type=Path, default=None, help="Labelled diagnosis cases (default ours).")
    args = parser.parse_args()

    setup_django()
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from industrial.database.connection import drop_database, recreate_database
    from industrial.plant.seeding import SeedPlan, seed_plant
    from industrial.plant.spec import EQUIPMENT_TYPES
    from industrial.timeseries.access import TimeSeriesDataAccess
    from layer2.understanding.intent import PlantVocabulary
    from tests.layer2.answering.diagnosis_cases import load_cases, seed_plan
    from tests.layer2.understanding.conversation_labels import load_conversations
    from tests.layer2.understanding.labels import KINDS, load_questions

    settings.PLANT_TIME_ZONE = args.zone  # before anything answers
    questions = load_questions(args.questions) if args.questions else load_questions()
    conversations = load_conversations(args.conversations) if args.conversations else load_conversations()
    cases = load_cases(args.diagnosis) if args.diagnosis else load_cases()
    full, small, faulty = "plant_bench_understanding_full", "plant_bench_understanding_small", "plant_bench_diagnosis"
    state = Path(tempfile.mkdtemp(prefix="cc-bench-understanding-"))
    try:
        seeded = seed_scratch_plant(
            name=full, days=0.01, counts={t.name: None for t in EQUIPMENT_TYPES}, seed=1, end=PLANT_END
        )
        access = TimeSeriesDataAccess(seeded["conninfo"], max_size=1)
        vocabulary = PlantVocabulary.from_catalog(access.catalog)
        access.close()
        parsed = parse_all(questions, vocabulary, ZoneInfo(args.zone), args.repeats)
        conversed = converse_all(conversations, seeded["conninfo"], state)
        resolver = resolver_figures(questions, conversations, vocabulary, ZoneInfo(args.zone), 0.6)

        small_plan = SeedPlan(
            days=2, counts={t.name: 2 for t in EQUIPMENT_TYPES}, seed=7, end=PLANT_END, fault_rate=0.6
        )
        conninfo = recreate_database(small)
        seed_plant(conninfo=conninfo, plan=small_plan)
        answered = answer_all(questions, conninfo, state)
        faulty_conninfo = recreate_database(faulty)
        seed_plant(conninfo=faulty_conninfo, plan=seed_plan())
        diagnosed = diagnose_all(cases, faulty_conninfo, state)
    finally:
        drop_database(full)
        drop_database(small)
        drop_database(faulty)

    kinds = [k for k in KINDS if any(q["kind"] == k for q in questions)]
    result = {
        "bench": "understanding",
        "machine": machine(),
        "date": datetime.now(UTC).date().isoformat(),
        "repeats": args.repeats,
        "zone": args.zone,
        **figures(questions, parsed, answered, kinds),
        "conversations": {k: v for k, v in conversed.items() if k != "misses"},
        "diagnosis": {k: v for k, v in diagnosed.items() if k != "misses"},
        "resolver": resolver,
    }
    if args.misses:
        for i, q in enumerate(questions):
            if parsed[i][0] or answered.get(i):
                print(
                    f"{q['kind']}: {q['transcript']!r} parse {parsed[i][0]} answer {answered.get(i)}", file=sys.stderr
                )
        for miss in conversed["misses"] + diagnosed["misses"]:
            print(miss, file=sys.stderr)
    print(f"\n{len(questions)} questions, parsed {args.repeats} times each; answers over the small plant ({args.zone})")
    print(f"  {'kind':<15}{'questions':>10}{'understood':>12}{'answered':>10}{'numbers':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for kind, row in [*result["kinds"].items(), ("overall", result["overall"])]:
        print(
            f"  {kind:<15}{row['questions']:>10}{_show(row['understood_pct']):>12}{row['answered']:>10}"
            f"{_show(row['numbers_true_pct']):>9}{row['parse_p50_ms']:>9.3f}{row['parse_p99_ms']:>9.3f}"
        )
    c, d, r = result["conversations"], result["diagnosis"], result["resolver"]
    print(
        f"  conversations: {c['conversations']}, follow-ups understood {_show(c['follow_ups_understood_pct'])} "
        f"of {c['follow_ups']} (first turns {_show(c['first_turns_understood_pct'])}), follow-up parse p50 "
        f"{c['follow_up_parse_p50_ms']} ms"
    )
    print(
        f"  diagnosis: {d['cases']} cases, diagnosed {_show(d['diagnosed_pct'])}, bar met {_show(d['bar_met_pct'])}, "
        f"answer p50 {d['answer_p50_ms']:.1f} ms"
    )
    print(
        f"  resolver: would ask {r['would_ask']} of {r['labelled']} ({_show(r['would_ask_pct'])}); one ask over "
        f"loopback p50 {r['loopback_ask_p50_ms']} ms; schema ~{r['schema_tokens_estimate']} tokens"
    )
    print(json.dumps(result))


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


if __name__ == "__main__":
    main()
