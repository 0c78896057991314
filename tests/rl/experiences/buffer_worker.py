"""Processes that share one experience store, for tests/rl/experiences/test_buffer.py.

    python -m tests.rl.experiences.buffer_worker PATH PREFIX --compact-every 40
    python -m tests.rl.experiences.buffer_worker PATH PREFIX --die-after-bytes 500

runs a writer that adds ``PREFIX-0``, ``PREFIX-1``, ... to the journal at PATH until it is killed,
printing each query id (flushed) only after ``add()`` returned: what it printed is acknowledged.
With ``--die-after-bytes`` it dies mid-write once the journal has grown by that many bytes (the
file size limit cuts its write short and SIGXFSZ ends it), leaving a torn last line.
The multiprocessing workers and the record builders live here too, so that spawned children
import them without importing the test module (and pytest with it). A worker is given its store's
``location`` (a journal's path or the shared store's postgresql:// URL) and opens it itself
(:func:`open_store`): a spawned child shares no file handle, lock or connection pool with its parent.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import signal
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rl.experiences.buffer import ExperienceBuffer, ExperienceNotFound
from rl.experiences.pg_store import PostgresExperienceStore
from rl.experiences.postgres import is_postgres_url
from rl.experiences.records import (
    CandidateRecord,
    Experience,
    Feedback,
    ImplicitSignals,
    RankingDraw,
    WidgetChoice,
    WidgetFeedback,
    WidgetSignals,
)

CREATED = datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=UTC)
VISIBLE_TIMEOUT_S = 30.0


def make_experience(
    query_id: str,
    *,
    seq: int = 0,
    transcript_pad: int = 0,
    feedback: Feedback | None = None,
    signals: ImplicitSignals | None = None,
):
    """An experience with every field set (``feedback`` and ``signals`` as given), distinct per ``seq``, its
    transcript padded to make long lines."""
    return Experience(
        query_id=query_id,
        transcript=f"what is the temperature of pump {seq} in °C? 🌡" + " and then?" * (transcript_pad // 10),
        intent={
            "type": "query",
            "domains": ["industrial"],
            "entities": {"equipment": [f"pump-{seq}"], "metric": "temperature"},
            "time_range": {"hours": 24},
            "confidence": 0.1 + 0.2,  # not exactly representable: the float must survive JSON as is
        },
        widgets=[
            WidgetChoice("trend", "large", f"Pump {seq} temperature", [f"pump-{seq}"], "temperature", 0.7, 1.25),
            WidgetChoice("kpi", "small", "Fleet status", [], None, 0.3, -0.5),
        ],
        candidates=[
            CandidateRecord("trend", "large", "temperature", 0.9),
            CandidateRecord("kpi", "small", None, 0.4),
            CandidateRecord("table", "medium", "vibration", 1e-9),
        ],
        voice_response=f"Pump {seq} runs at 71.5 °C, within limits.",
        processing_time_ms=123.456,
        timings_ms={"intent": 1.5, "plan": 20.25, "rank": 0.125, "data": 101.581},
        data_summary={"rows": seq, "equipment": [f"pump-{seq}"], "nested": {"ok": True, "missing": None}},
        planner="llm",
        ranker="tier1",
        created_at=CREATED + timedelta(seconds=seq),
        feedback=feedback,
        user_role="engineer",
        conversation_id=f"{seq:032x}",
        turn=seq + 1,
        resolver="llm",
        asked_by=7,
        signals=signals,
        ranking=RankingDraw(2**53 - 1, seq, 0.1 + 0.05, 3, [0.6000000238418579, -1e-9, 0.1 + 0.2], [0, 1, 2]),
    )


def console_report(*, seq: int = 0, trend_ms: float = 5300.5, kpi_ms: float = 1200.0) -> ImplicitSignals:
    """A console's report on ``make_experience``'s two widgets (a trend, then a KPI), every field set."""
    return ImplicitSignals(
        widgets=[WidgetSignals(0, "trend", trend_ms, 1, 4), WidgetSignals(1, "kpi", kpi_ms, 0, 1)],
        next_question_after_ms=12000.25,
        rephrased=False,
        reported_at=CREATED + timedelta(minutes=2, seconds=seq),
    )


def rich_feedback(rating: str, *, seq: int = 0, source: str = "judge:claude") -> Feedback:
    """A judge's evaluation with every field set, per-widget feedback included."""
    return Feedback(
        rating=rating,
        evaluation_confidence=0.85,
        evaluation_reasoning=f"The trend answers the question ({seq}); the KPI is filler.",
        query_understanding="temperature of one pump over the last day",
        per_widget_feedback=[
            WidgetFeedback(0, "trend", 0.9, True, [], ["right metric", "right window"]),
            WidgetFeedback(1, "kpi", 0.2, False, ["not asked for"], [], "larger"),
            WidgetFeedback(2, "table", None, None),
        ],
        missing_widgets=["alerts"],
        suggested_improvements=["show the alarm limits on the trend"],
        source=source,
        received_at=CREATED + timedelta(hours=1, seconds=seq),
        feedback_id=f"{source}-{seq}-{rating}",
    )


def feedback_for(query_id: str) -> Feedback:
    """The one feedback the concurrency tests write for ``query_id``: every fifth is a rich evaluation."""
    seq = int(query_id.rsplit("-", 1)[1])
    rating = "up" if seq % 2 == 0 else "down"
    if seq % 5 == 0:
        return rich_feedback(rating, seq=seq)
    return Feedback(rating=rating, source=f"operator:{query_id}", received_at=CREATED + timedelta(minutes=seq))


def open_store(location: str | Path, *, capacity: int = 200_000, compact_factor: float = 1e9):
    """The store at ``location``: the shared PostgreSQL store for a postgresql:// URL, else the journal at that
    path (compacting itself at ``compact_factor``; 1e9: never)."""
    if is_postgres_url(str(location)):
        return PostgresExperienceStore(str(location), capacity=capacity)
    return ExperienceBuffer(location, capacity=capacity, compact_factor=compact_factor)


def update_when_visible(buffer, query_id: str, feedback: Feedback) -> Experience:
    """``update_feedback``, retried until another process's add of ``query_id`` is visible here."""
    deadline = time.monotonic() + VISIBLE_TIMEOUT_S
    while True:
        try:
            return buffer.update_feedback(query_id, feedback)
        except ExperienceNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)


def add_then_rate_peer(location: str, worker: int, workers: int, count: int, barrier, results) -> None:
    """Add ``count`` experiences, then (once every worker has added) rate every one the next worker added.

    Reports this process's own view at the end, after every worker has rated: the store it kept
    open throughout must have caught up with all the adds and updates of the others.
    """
    try:
        buffer = open_store(location)
        for i in range(count):
            buffer.add(make_experience(f"w{worker}-{i}", seq=i))
        barrier.wait()
        peer = (worker + 1) % workers
        for i in range(count):
            query_id = f"w{peer}-{i}"
            updated = update_when_visible(buffer, query_id, feedback_for(query_id))
            assert updated.feedback == feedback_for(query_id), query_id
        barrier.wait()
        wrong = [e.query_id for e in buffer.iter_all() if e.feedback != feedback_for(e.query_id)]
        results.put((worker, "ok", {"size": len(buffer), "wrong": wrong}))
    except BaseException:
        barrier.abort()
        results.put((worker, "error", traceback.format_exc()))


class _CompactionCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "compacted" in record.getMessage()


def write_while_compacting(
    location: str,
    worker: int,
    workers: int,
    count: int,
    capacity: int,
    compact_factor: float,
    compact_every: int,
    barrier,
    results,
) -> None:
    """Add ``count`` experiences, each timed; rate each even one it adds and, when it is there, the next
    worker's odd one of the same number (so every id has one writer of feedback). A journal compacts itself
    (at ``compact_factor``); every ``compact_every`` adds (0: never) the worker also calls ``compact()``.

    Reports the add times (each add took effect between them), the ids whose rating was
    acknowledged, how many compactions this process ran, and its own final view.
    """
    counter = _CompactionCounter()
    log = logging.getLogger("rl.experiences.buffer")
    log.setLevel(logging.INFO)
    log.addHandler(counter)
    try:
        buffer = open_store(location, capacity=capacity, compact_factor=compact_factor)
        peer = (worker + 1) % workers
        timings, rated, compactions = {}, [], 0
        barrier.wait()
        for i in range(count):
            query_id = f"w{worker}-{i}"
            before = time.monotonic()
            buffer.add(make_experience(query_id, seq=i))
            timings[query_id] = (before, time.monotonic())
            if compact_every and i % compact_every == compact_every - 1:
                buffer.compact()
                compactions += 1
            target = query_id if i % 2 == 0 else f"w{peer}-{i}"
            try:
                buffer.update_feedback(target, feedback_for(target))
            except ExperienceNotFound:
                continue  # the peer's: not added yet, or already evicted
            rated.append(target)
        barrier.wait()
        view = [e.query_id for e in buffer.iter_all()]
        compactions += counter.count
        results.put((worker, "ok", {"timings": timings, "rated": rated, "compactions": compactions, "view": view}))
    except BaseException:
        barrier.abort()
        results.put((worker, "error", traceback.format_exc()))


def run_workers(target, location: str, workers: int, *args, timeout: float = 120.0) -> dict[int, dict]:
    """Run ``target(location, worker, workers, *args, barrier, results)`` in ``workers`` spawned processes.

    Returns each worker's report; fails with a worker's traceback if one failed.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers, timeout=timeout)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=target, args=(location, k, workers, *args, barrier, results)) for k in range(workers)
    ]
    for p in processes:
        p.start()
    reports = {}
    try:
        for _ in processes:
            worker, outcome, report = results.get(timeout=timeout)
            if outcome != "ok":
                raise AssertionError(f"worker {worker} failed:\n{report}")
            reports[worker] = report
    finally:
        for p in processes:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    assert [p.exitcode for p in processes] == [0] * workers
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description="Append experiences until killed, printing each acknowledged id.")
    parser.add_argument("path", type=Path, help="the journal")
    parser.add_argument("prefix", help="query ids are PREFIX-0, PREFIX-1, ...")
    parser.add_argument("--big-every", type=int, default=0, help="every Nth add carries a long transcript (0: none)")
    parser.add_argument("--big-bytes", type=int, default=1 << 20, help="length of a long transcript")
    parser.add_argument("--compact-every", type=int, default=0, help="compact after every Nth add (0: never)")
    parser.add_argument("--die-after-bytes", type=int, default=0, help="die once the journal grew this much (0: no)")
    args = parser.parse_args()
    if args.die_after_bytes:
        size = args.path.stat().st_size if args.path.exists() else 0
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + args.die_after_bytes, resource.RLIM_INFINITY))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; the default ends the process
    buffer = ExperienceBuffer(args.path, compact_factor=1e9)
    i = 0
    while True:
        big = args.big_every and i % args.big_every == args.big_every - 1
        buffer.add(make_experience(f"{args.prefix}-{i}", seq=i, transcript_pad=args.big_bytes if big else 0))
        print(f"{args.prefix}-{i}", flush=True)
        i += 1
        if args.compact_every and i % args.compact_every == 0:
            buffer.compact()


if __name__ == "__main__":
    main()
