"""What adding and rating an experience costs at full size: the JSON Lines journal against the PostgreSQL store.

    .venv/bin/python bench/experience_store.py                        # 200,000 held, 2000 adds and updates each
    .venv/bin/python bench/experience_store.py --churn 0              # timed right after the fill's ANALYZE
    .venv/bin/python bench/experience_store.py --size 10000 --calls 500 --stores postgres

Each store is filled to ``--size`` experiences (``tests/rl/experiences/buffer_worker.make_experience``'s records,
every field set, ~1.5 KB of JSON; every ``--feedback-every``-th with an operator's thumb already attached), its
capacity set to the same number, so every add also evicts the oldest experience. The fill goes around the
stores' write paths to be quick, writing what they would have written: the journal's ``add`` and ``feedback``
lines straight into ``experiences.jsonl`` (then opened, so its index is built before the clock starts), and for
PostgreSQL one ``COPY`` per table into a scratch database on the configured server (the embedded one, or
``TIMESERIES_DATABASE_URL``), in one transaction, then ``VACUUM ANALYZE`` (dropped at the end).

Then, in process, one thread, as a web worker calls them: ``--churn`` unmeasured adds; ``--calls`` rounds of
``add`` (a new experience) and ``update_feedback`` (an operator's thumb with a fresh ``feedback_id`` on a random
live experience; it returns the folded record), timed apart, after a few unmeasured rounds; then ``--calls``
``get`` of random live experiences, for context. Per-call milliseconds as p50, p99 and mean.

Why churn: PostgreSQL's plans follow the table statistics, and those are only as fresh as the last ANALYZE.
Autovacuum analyses ``cc_experience`` after 50 + 10% of its rows changed; an add at capacity changes two rows
(one in, one out), so at 200,000 that is every ~10,000 adds, and the default 5,000 is a store half way
between two: what a running store is, on average. 0 times the store at its best, straight after the fill.

The target (issue): adding and updating through the PostgreSQL store, p99 at most 5 ms at 200,000 experiences.
PostgreSQL commits each write (the embedded server's defaults: ``fsync`` and ``synchronous_commit`` on, so each
add and update waits for its WAL flush); the journal writes without ``fsync`` (its default). The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import call_times, machine, percentiles, setup_django

TARGET_P99_MS = 5.0
DATABASE = "bench_experience_store"
WARMUP_ROUNDS = 20


def query_id(n: int) -> str:
    return f"{n:032x}"


def experience(n: int):
    from tests.rl.experiences.buffer_worker import make_experience

    return make_experience(query_id(n), seq=n)


def prefilled_feedback(n: int):
    """The thumb the fill attaches to experience ``n`` (every ``--feedback-every``-th)."""
    from rl.experiences.records import Feedback
    from tests.rl.experiences.buffer_worker import CREATED

    return Feedback(
        rating="up" if n % 2 else "down",
        source="operator",
        received_at=CREATED + timedelta(seconds=n, minutes=3),
        feedback_id=f"fill-{n}",
    )


def fresh_feedback():
    from rl.experiences.records import Feedback

    return Feedback(rating="up", source="operator", received_at=datetime.now(UTC), feedback_id=uuid.uuid4().hex)


def _dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def _bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="exp", unit_scale=True, desc=desc, file=sys.stderr, mininterval=0.5)


# -- filling -------------------------------------------------------------------


def fill_journal(path: Path, *, size: int, feedback_every: int, capacity: int):
    """Write ``size`` add lines (and the thumbs) as ``ExperienceBuffer._append`` would, then open the journal."""
    from rl.experiences.buffer import ExperienceBuffer

    with open(path, "wb") as out, _bar(size, "fill journal") as bar:
        lines: list[str] = []
        for n in range(size):
            lines.append(_dumps({"op": "add", "experience": experience(n).to_dict()}))
            if feedback_every and n % feedback_every == 0:
                feedback = prefilled_feedback(n)
                lines.append(_dumps({"op": "feedback", "query_id": query_id(n), "feedback": feedback.to_dict()}))
            if n % 1000 == 999 or n == size - 1:
                out.write(("\n".join(lines) + "\n").encode())
                lines.clear()
                bar.update(n + 1 - bar.n)
    buffer = ExperienceBuffer(path, capacity=capacity)
    started = time.perf_counter()
    held = len(buffer)  # builds the index: what a worker does on its first call
    return buffer, {"held": held, "journal_bytes": path.stat().st_size,
                    "index_s": round(time.perf_counter() - started, 2)}  # fmt: skip


def fill_postgres(url: str, *, size: int, feedback_every: int, capacity: int):
    """COPY ``size`` rows into ``cc_experience`` (and the thumbs into ``cc_feedback``) with the columns
    ``PostgresExperienceStore.add``/``update_feedback`` write, in one transaction; then VACUUM ANALYZE."""
    import psycopg

    from rl.experiences.pg_store import SCHEMA, PostgresExperienceStore
    from rl.experiences.postgres import ensure_schema

    ensure_schema(url, "experiences", SCHEMA)
    with psycopg.connect(url) as conn, _bar(size, "fill postgres") as bar:
        with conn.cursor() as cur:
            feedback_rows = []
            with cur.copy(
                "COPY cc_experience (seq, query_id, created_at, asked_by, added_feedback, added_rich, added_source,"
                " added_reported, added_rephrased, record) FROM STDIN"
            ) as copy:
                for n in range(size):
                    e = experience(n)
                    feedback, signals = e.feedback, e.signals
                    rich = feedback is not None and feedback.is_rich
                    copy.write_row((
                        n + 1, e.query_id, e.created_at, e.asked_by, feedback is not None, rich,
                        feedback.source if rich else None,
                        signals is not None and signals.reported_at is not None,
                        signals is not None and signals.rephrased,
                        _dumps(e.to_dict()),
                    ))  # fmt: skip
                    if feedback_every and n % feedback_every == 0:
                        f = prefilled_feedback(n)
                        feedback_rows.append((f.feedback_id, e.query_id, f.is_rich, f.source, _dumps(f.to_dict())))
                    if n % 1000 == 999:
                        bar.update(1000)
                bar.update(size % 1000)
            with cur.copy("COPY cc_feedback (feedback_id, query_id, rich, source, record) FROM STDIN") as copy:
                for row in feedback_rows:
                    copy.write_row(row)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cc_experience, cc_feedback, cc_signals")
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'wal_sync_method')"
        ).fetchall())  # fmt: skip
        stored = conn.execute(
            "SELECT sum(pg_total_relation_size(t)) FROM unnest(%s::regclass[]) t",
            (["cc_experience", "cc_feedback", "cc_signals"],),
        ).fetchone()[0]
    store = PostgresExperienceStore(url, capacity=capacity)
    return store, {"held": len(store), "stored_bytes": int(stored), "server": settings}


# -- timing --------------------------------------------------------------------


def _figures(samples: list[float]) -> dict[str, float]:
    return {**percentiles(samples, 0.5, 0.99), "mean_ms": round(statistics.fmean(samples) * 1000, 3)}


def measure(store, *, size: int, calls: int, seed: int, churn: int, name: str) -> dict:
    """``churn`` unmeasured adds, rounds of add + update_feedback (timed apart), then gets; experiences
    ``0 .. size-1`` are held at the start."""
    rng = random.Random(seed)
    newest = size - 1  # the store holds ``newest - size + 1 .. newest`` (capacity ``size``)
    if churn:
        with _bar(churn, f"churn {name}") as bar:
            for _ in range(churn):
                newest += 1
                store.add(experience(newest))
                bar.update(1)

    def live() -> str:
        return query_id(rng.randint(newest - size + 2, newest))  # not the oldest: the next add evicts it

    adds, updates = [], []
    for round_ in range(WARMUP_ROUNDS + calls):
        newest += 1
        fresh = experience(newest)
        target, feedback = live(), fresh_feedback()
        started = time.perf_counter()
        store.add(fresh)
        added = time.perf_counter()
        updated = store.update_feedback(target, feedback)
        done = time.perf_counter()
        if round_ >= WARMUP_ROUNDS:
            adds.append(added - started)
            updates.append(done - added)
        assert updated.feedback is not None and updated.feedback.received_at == feedback.received_at
    gets, _ = call_times(lambda: store.get(live()), calls, warmups=WARMUP_ROUNDS)
    held = len(store)
    assert held == size, f"expected {size} held, found {held}"
    oldest = query_id(newest - size)
    assert oldest not in store, "the oldest experience was not evicted"
    return {"add": _figures(adds), "update": _figures(updates), "get": _figures(gets), "held_after": held}


def _run_args(args) -> dict:
    return {"size": args.size, "calls": args.calls, "seed": args.seed, "churn": args.churn}


def run_journal(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="cc-experience-bench-") as folder:
        started = time.perf_counter()
        store, fill = fill_journal(
            Path(folder) / "experiences.jsonl", size=args.size, feedback_every=args.feedback_every, capacity=args.size
        )
        fill["fill_s"] = round(time.perf_counter() - started, 1)
        print(f"journal: {fill}", file=sys.stderr)
        return {"fill": fill, **measure(store, name="journal", **_run_args(args))}


def run_postgres(args) -> dict:
    from industrial.database.connection import drop_database, recreate_database
    from rl.experiences.postgres import close_pools

    url = recreate_database(DATABASE)
    try:
        started = time.perf_counter()
        store, fill = fill_postgres(url, size=args.size, feedback_every=args.feedback_every, capacity=args.size)
        fill["fill_s"] = round(time.perf_counter() - started, 1)
        print(f"postgres: {fill}", file=sys.stderr)
        return {"fill": fill, **measure(store, name="postgres", **_run_args(args))}
    finally:
        close_pools()
        drop_database(DATABASE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--size",
        type=int,
        default=200_000,
        help="Experiences held before timing, and each store's capacity (default 200000).",
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=2000,
        help="Timed adds, timed updates and timed gets, each, per store (default 2000).",
    )
    parser.add_argument(
        "--stores",
        default="journal,postgres",
        help="Comma-separated stores to measure: journal, postgres (default both).",
    )
    parser.add_argument(
        "--feedback-every",
        type=int,
        default=5,
        help="Every N-th pre-filled experience already has an operator's thumb (default 5; 0: none).",
    )
    parser.add_argument(
        "--churn",
        type=int,
        default=5000,
        help="Unmeasured adds (each evicting one) between the fill and the timing: a store that has taken that "
        "many since its statistics were last gathered (default 5000; 0: timed just after the fill's ANALYZE).",
    )
    parser.add_argument("--seed", type=int, default=0, help="Which live experiences are rated and read (default 0).")
    args = parser.parse_args()
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = sorted(set(stores) - {"journal", "postgres"})
    if unknown or not stores:
        parser.error(f"--stores: unknown {', '.join(unknown) or '(none given)'}; choose from journal, postgres")
    if args.size < 2 or args.calls < 1 or args.churn < 0:
        parser.error("--size must be at least 2, --calls at least 1 and --churn at least 0")

    setup_django()
    runners = {"journal": run_journal, "postgres": run_postgres}
    figures: dict[str, object] = {
        "machine": machine(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": args.size, "calls": args.calls, "feedback_every": args.feedback_every, "churn": args.churn,
    }  # fmt: skip
    for name in stores:
        figures[name] = runners[name](args)

    print(
        f"{args.size:,} experiences held (capacity {args.size:,}), {args.churn} untimed adds, "
        f"{args.calls} timed calls each, {machine()}"
    )
    for name in stores:
        result = figures[name]
        print(f"{name:>9}: filled in {result['fill']['fill_s']} s")
        for op in ("add", "update", "get"):
            f = result[op]
            print(f"{'':>11}{op:<7} p50 {f['p50_ms']:>7.3f}  p99 {f['p99_ms']:>7.3f}  mean {f['mean_ms']:>7.3f} ms")
    if "postgres" in figures:
        pg = figures["postgres"]
        within = {op: pg[op]["p99_ms"] <= TARGET_P99_MS for op in ("add", "update")}
        figures["postgres_p99_within_target"] = {**within, "target_ms": TARGET_P99_MS}
        verdict = ", ".join(f"{op} {'met' if ok else 'MISSED'}" for op, ok in within.items())
        print(f"target: PostgreSQL add and update p99 <= {TARGET_P99_MS} ms: {verdict}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
