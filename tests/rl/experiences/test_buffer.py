"""The experience stores: exact round trips, retries, many threads and processes writing at once, capacity,
compaction, kills and torn lines.

Tests taking ``make_store`` run against both stores, the JSON Lines journal and the shared PostgreSQL tables
(tests/rl/experiences/conftest.py); the others are about the journal's own mechanics (its lines on disk, torn
lines, a writer killed mid-write). The concurrency and crash tests run real processes (multiprocessing "spawn",
"fork", and ``python -m tests.rl.experiences.buffer_worker`` killed with SIGKILL).
"""

from __future__ import annotations

import json
import multiprocessing
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import fields, replace
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from rl.experiences.buffer import ExperienceBuffer, ExperienceNotFound
from rl.experiences.records import Experience, Feedback, ImplicitSignals
from tests.rl.experiences.buffer_worker import (
    CREATED,
    add_then_rate_peer,
    console_report,
    feedback_for,
    make_experience,
    rich_feedback,
    run_workers,
    write_while_compacting,
)

ROOT = Path(__file__).resolve().parents[3]


def journal_records(path: Path) -> list[dict]:
    """Every line of the journal, parsed: fails if one is not valid JSON or the last is not terminated."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"journal ends in a partial line: {data[-80:]!r}"
    return [json.loads(line) for line in data.splitlines()]


def ops_per_id(records: list[dict], op: str) -> Counter:
    if op == "add":
        return Counter(r["experience"]["query_id"] for r in records if r["op"] == "add")
    return Counter(r["query_id"] for r in records if r["op"] == op)


def expected_experience(query_id: str, feedback: Feedback | None = None, transcript_pad: int = 0) -> Experience:
    """What the workers in buffer_worker add for ``query_id`` (``w3-17``: seq 17), with ``feedback``."""
    seq = int(query_id.rsplit("-", 1)[1])
    return make_experience(query_id, seq=seq, transcript_pad=transcript_pad, feedback=feedback)


# -- 1. round trip ---------------------------------------------------------------------------------


def test_every_field_round_trips_through_dicts_the_store_compaction_and_a_reopen(make_store):
    signals = replace(console_report(seq=7), rephrased=True)
    judged = make_experience("q-judged", seq=7, feedback=rich_feedback("down", seq=7), signals=signals)
    assert all(getattr(judged, f.name) not in (None, "", [], {}) for f in fields(Experience)), "a field is unset"
    assert all(getattr(judged.feedback, f.name) not in (None, "", []) for f in fields(Feedback)), "a field is unset"
    assert all(getattr(signals, f.name) not in (None, [], False) for f in fields(ImplicitSignals)), "a field is unset"
    assert Experience.from_dict(judged.to_dict()) == judged
    assert Experience.from_dict(json.loads(json.dumps(judged.to_dict()))) == judged
    assert Feedback.from_dict(json.loads(json.dumps(judged.feedback.to_dict()))) == judged.feedback

    store = make_store()
    later = make_experience("q-later", seq=8)
    evaluation = rich_feedback("up", seq=8, source="judge:other")
    store.add(judged)
    store.add(later)
    assert store.update_feedback("q-later", evaluation) == replace(later, feedback=evaluation)
    assert store.get("q-judged") == judged
    assert store.get("q-later") == replace(later, feedback=evaluation)

    store.compact()
    if make_store.kind == "journal":  # the journal's compaction merges the feedback line into its add line
        assert [r["op"] for r in journal_records(Path(store.location))] == ["add", "add"]
    for view in (store, make_store()):
        assert view.get("q-judged") == judged
        assert view.get("q-later") == replace(later, feedback=evaluation)
        assert list(view.iter_all()) == [judged, replace(later, feedback=evaluation)]


def test_a_version_1_record_from_an_older_journal_reads_as_version_7_without_a_role_conversation_owner_signals_or_draw(
    tmp_path,
):
    current = make_experience("q-old", seq=3, feedback=rich_feedback("up", seq=3), signals=console_report(seq=3))
    old = current.to_dict()
    for newer in ("user_role", "conversation_id", "turn", "resolver", "asked_by", "signals", "ranking"):
        del old[newer]
    for widget in old["feedback"]["per_widget_feedback"]:
        del widget["size_direction"]  # version 6 too
    del old["feedback"]["feedback_id"]  # version 7
    old["schema_version"] = 1
    upgraded = Experience.from_dict(json.loads(json.dumps(old)))
    undirected = [replace(w, size_direction=None) for w in current.feedback.per_widget_feedback]
    assert upgraded == replace(
        current, user_role=None, conversation_id=None, turn=None, resolver=None, asked_by=None, signals=None,
        ranking=None, feedback=replace(current.feedback, per_widget_feedback=undirected, feedback_id=None),
    )  # fmt: skip
    assert upgraded.schema_version == 7
    assert Experience.from_dict(upgraded.to_dict()) == upgraded
    path = tmp_path / "experiences.jsonl"
    path.write_text(json.dumps({"op": "add", "experience": old}) + "\n")
    assert ExperienceBuffer(path).get("q-old") == upgraded
    with pytest.raises(ValueError, match="schema_version 8"):
        Experience.from_dict({**old, "schema_version": 8})


# -- 2. retries, threads and processes writing at once ---------------------------------------------


def test_a_retried_add_changes_nothing_neither_after_a_rating_nor_after_a_compaction(make_store):
    """An add is stored once per query id: a retry, even one carrying another body, neither resets the rated
    experience nor moves it, nor counts again and evicts the oldest from a full store."""
    store = make_store(capacity=2)
    first, second = make_experience("q-1", seq=1), make_experience("q-2", seq=2)
    store.add(first)
    store.add(second)
    rated = replace(first, feedback=Feedback(rating="up", received_at=CREATED))
    store.update_feedback("q-1", rated.feedback)
    for compacted in (False, True):
        if compacted:
            store.compact()
        for retry in (first, replace(first, transcript="the same query id, another body")):
            store.add(retry)
        for view in (store, make_store(capacity=2)):
            assert list(view.iter_all()) == [rated, second]
            stats = view.stats()
            assert (stats.size, stats.with_feedback) == (2, 1)


def test_threads_retrying_the_same_adds_and_ratings_at_once_store_each_once(make_store):
    """Four threads add the same 50 experiences and rate each with the same feedback id (a client's retries
    racing), two through one store object and two through views of their own: each is stored once, in order."""
    shared = make_store()
    start = shared.feedback_cursor()
    ids = [f"q-{i}" for i in range(50)]
    errors = []

    def retry(store):
        try:
            for i, query_id in enumerate(ids):
                store.add(make_experience(query_id, seq=i))
                store.update_feedback(query_id, rich_feedback("up", seq=i))
        except Exception:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=retry, args=(view,)) for view in (shared, shared, make_store(), make_store())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and not any(t.is_alive() for t in threads)
    expected = [make_experience(q, seq=i, feedback=rich_feedback("up", seq=i)) for i, q in enumerate(ids)]
    assert list(shared.iter_all()) == list(make_store().iter_all()) == expected
    # One feedback each; in order, since a thread rates q-(i+1) only after its rating of q-i was stored or found.
    assert shared.feedback_since(start)[0] == ids
    assert shared.stats().with_evaluation == 50


@pytest.mark.slow
def test_eight_processes_adding_and_rating_each_others_experiences_lose_and_duplicate_nothing(make_store):
    store = make_store()
    workers, count = 8, 500
    reports = run_workers(add_then_rate_peer, store.location, workers, count)

    # Each worker's long-lived store caught up with every other worker's adds and ratings.
    assert reports == {k: {"size": workers * count, "wrong": []} for k in range(workers)}
    expected_ids = {f"w{k}-{i}" for k in range(workers) for i in range(count)}
    if make_store.kind == "journal":  # the journal's lines: one add and one feedback line an experience, no other
        records = journal_records(Path(store.location))
        assert ops_per_id(records, "add") == Counter(expected_ids)
        assert ops_per_id(records, "feedback") == Counter(expected_ids)
        assert len(records) == 2 * workers * count

    fresh = make_store()
    assert len(fresh) == workers * count
    assert Counter(fresh.feedback_since(0)[0]) == Counter(expected_ids)  # each rating stored once
    experiences = list(fresh.iter_all())
    for e in experiences:
        assert e == expected_experience(e.query_id, feedback_for(e.query_id))
    for k in range(workers):  # each worker's adds in the order it made them
        mine = [e.query_id for e in experiences if e.query_id.startswith(f"w{k}-")]
        assert mine == [f"w{k}-{i}" for i in range(count)]
    stats, total = fresh.stats(), workers * count
    assert (stats.size, stats.with_feedback, stats.with_evaluation) == (total, total, total // 5)


# -- 3. compaction while processes write -------------------------------------------------------------


@pytest.mark.slow
def test_compactions_while_four_processes_write_keep_the_newest_experiences_and_their_feedback(make_store):
    location = make_store().location
    # The journal compacts by itself at compact_factor 0: whenever it passes 1000 lines, every 400 or so lines
    # here, so most of the newest 600 experiences, and their ratings, went through a compaction. The shared
    # store only compacts when told to: each writer does, every 50 adds.
    workers, count, capacity = 4, 1500, 600
    compact_every = 0 if make_store.kind == "journal" else 50
    reports = run_workers(write_while_compacting, location, workers, count, capacity, 0.0, compact_every)
    assert sum(r["compactions"] for r in reports.values()) >= 10

    timings = {qid: span for r in reports.values() for qid, span in r["timings"].items()}
    rated = Counter(qid for r in reports.values() for qid in r["rated"])
    assert len(timings) == workers * count and set(rated.values()) == {1}

    fresh = make_store(capacity=capacity)
    survivors = list(fresh.iter_all())
    kept = [e.query_id for e in survivors]
    assert len(kept) == len(set(kept)) == capacity
    assert all(r["view"] == kept for r in reports.values()), "a writer's own store disagrees with a fresh one"

    # The newest by insertion order: no kept add finished before an evicted one started...
    evicted = set(timings) - set(kept)
    assert min(timings[q][1] for q in kept) >= max(timings[q][0] for q in evicted)
    # ...and the kept ones are in insertion order.
    for i, older in enumerate(kept):
        for newer in kept[i + 1 :]:
            assert timings[newer][1] >= timings[older][0], (older, newer)

    for e in survivors:
        assert e == expected_experience(e.query_id, feedback_for(e.query_id) if e.query_id in rated else None)
    assert fresh.stats().with_feedback == sum(q in rated for q in kept) > 0
    if make_store.kind == "journal":  # no compaction wrote an add line twice
        assert max(ops_per_id(journal_records(Path(location)), "add").values()) == 1


# -- 4. a writer killed at random moments -----------------------------------------------------------


def _collect_lines(stream, lines: list[str], first_line: threading.Event) -> None:
    for line in stream:
        lines.append(line)
        first_line.set()
    first_line.set()


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_loses_and_duplicates_no_acknowledged_add(tmp_path):
    """24 SIGKILLs at random moments of a writer compacting every 40 adds (so some land mid-compaction),
    and every fifth round a writer that dies mid-line (a torn last line for the next writer to cut)."""
    path = tmp_path / "experiences.jsonl"
    rng = random.Random(20260302)
    line_bytes = len(json.dumps({"op": "add", "experience": make_experience("r0-0").to_dict()}))
    assert line_bytes > 1000
    acknowledged, torn_after_kill, kills = [], 0, 0
    for n in range(30):
        tears = n % 5 == 4
        options = ["--die-after-bytes", str(rng.randrange(50, 1000))] if tears else ["--compact-every", "40"]
        errors = tmp_path / f"writer-{n}.stderr"
        with errors.open("w") as stderr:
            writer = subprocess.Popen(
                [sys.executable, "-m", "tests.rl.experiences.buffer_worker", str(path), f"r{n}", *options],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        lines, running = [], threading.Event()
        drain = threading.Thread(target=_collect_lines, args=(writer.stdout, lines, running))
        drain.start()
        assert running.wait(timeout=30), errors.read_text()  # it has written (or died trying)
        if not tears:
            time.sleep(rng.uniform(0, 0.2))
            writer.send_signal(signal.SIGKILL)
            kills += 1
        writer.wait(timeout=30)
        drain.join(timeout=30)
        writer.stdout.close()
        assert writer.returncode == -(signal.SIGXFSZ if tears else signal.SIGKILL), errors.read_text()
        acknowledged += [line.strip() for line in lines if line.endswith("\n")]
        with path.open("rb") as journal:
            journal.seek(-1, 2)
            torn_after_kill += journal.read(1) != b"\n"

    assert kills >= 20 and torn_after_kill >= 6  # every writer that died mid-line left a torn line
    assert len(acknowledged) == len(set(acknowledged)) > kills
    fresh = ExperienceBuffer(path)
    ids = [e.query_id for e in fresh.iter_all()]
    assert len(ids) == len(set(ids)), "an experience is there twice"
    assert set(acknowledged) <= set(ids), "an acknowledged add was lost"
    assert len(set(ids) - set(acknowledged)) <= kills  # at most the add each SIGKILL interrupted
    assert list(fresh.iter_all()) == [expected_experience(query_id) for query_id in ids]

    # The last writer died mid-line: the fresh buffer ignored the torn line, and the next writer cuts it.
    assert not path.read_bytes().endswith(b"\n")
    size = len(fresh)
    ExperienceBuffer(path).add(make_experience("after-the-kills", seq=1))
    records = journal_records(path)
    assert max(ops_per_id(records, "add").values()) == 1
    assert len(fresh) == size + 1 and fresh.get("after-the-kills") == make_experience("after-the-kills", seq=1)
    print(f"{len(acknowledged)} adds acknowledged, {torn_after_kill} of 30 writers left a torn line")


# -- 5. a torn last line ----------------------------------------------------------------------------


def test_a_torn_last_line_is_ignored_by_readers_and_cut_by_the_next_writer(tmp_path):
    path = tmp_path / "experiences.jsonl"
    writer, reader = ExperienceBuffer(path), ExperienceBuffer(path)
    first, second, third = (make_experience(f"q-{i}", seq=i) for i in range(3))
    writer.add(first)
    writer.add(second)
    line = json.dumps({"op": "add", "experience": make_experience("q-torn", seq=9).to_dict()}).encode()
    with path.open("ab") as journal:
        journal.write(line[: len(line) // 2])  # a writer killed mid-line

    assert len(reader) == 2 and "q-torn" not in reader
    assert len(ExperienceBuffer(path)) == 2
    # The reader's last read before the cut takes in the torn bytes beside q-1's line: what it
    # reads next, after the cut, must come from the file as it is then.
    assert reader.get("q-1") == second
    writer.add(third)

    records = journal_records(path)
    assert [r["experience"]["query_id"] for r in records] == ["q-0", "q-1", "q-2"]
    for view in (reader, writer, ExperienceBuffer(path)):
        assert len(view) == 3 and "q-torn" not in view
        assert list(view.iter_all()) == [first, second, third]


# -- 6. capacity -------------------------------------------------------------------------------------


def test_capacity_keeps_the_newest_and_refuses_evicted_ids(make_store):
    store = make_store(capacity=100)
    for i in range(250):
        store.add(make_experience(f"q-{i}", seq=i))

    newest = [f"q-{i}" for i in range(150, 250)]
    assert len(store) == 100
    assert [e.query_id for e in store.list(limit=1000)] == newest
    assert "q-149" not in store and "q-150" in store
    with pytest.raises(ExperienceNotFound) as missing:
        store.get("q-149")
    assert missing.value.query_id == "q-149"
    cursor = store.feedback_cursor()
    with pytest.raises(ExperienceNotFound):
        store.update_feedback("q-0", Feedback(rating="up"))
    assert store.feedback_since(cursor) == ([], cursor)  # refused before anything was written

    assert [e.query_id for e in make_store(capacity=100).iter_all()] == newest
    store.compact()
    assert [e.query_id for e in store.iter_all()] == newest
    if make_store.kind == "journal":  # the journal's compaction drops the evicted adds' lines
        assert [r["experience"]["query_id"] for r in journal_records(Path(store.location))] == newest


# -- 7. fork -----------------------------------------------------------------------------------------


def _read_back_at_random(store, expected: dict[str, Experience], seconds: float) -> list[str]:
    """Random gets for ``seconds``; what came back wrong."""
    rng, wrong = random.Random(), []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        query_id = rng.choice(list(expected))
        try:
            if store.get(query_id) != expected[query_id]:
                wrong.append(f"{query_id}: another record")
        except Exception as error:  # a read from the wrong offset, or on another's connection, fails in many ways
            wrong.append(f"{query_id}: {error!r}"[:200])
    return wrong


def _forked_child(store, expected, barrier, results) -> None:
    try:
        barrier.wait()
        wrong = _read_back_at_random(store, expected, seconds=1.0)
        barrier.wait()
        for i in range(100):
            store.add(make_experience(f"child-{i}", seq=i))
        results.put(("ok", wrong, len(store)))
    except BaseException:
        barrier.abort()
        results.put(("error", traceback.format_exc(), None))


def test_a_forked_child_reads_and_writes_the_parents_store_safely(make_store):
    """The child uses the store object the parent had used (a journal's index, open reader and lock; the shared
    store's pool, which the child must not reuse); both read at once, then both write."""
    store = make_store()
    expected = {f"p-{i}": make_experience(f"p-{i}", seq=i, transcript_pad=20_000) for i in range(100)}
    for experience in expected.values():
        store.add(experience)
    assert store.get("p-0") == expected["p-0"]

    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2, timeout=60), ctx.Queue()
    child = ctx.Process(target=_forked_child, args=(store, expected, barrier, results))
    child.start()
    try:
        barrier.wait()
        parent_wrong = _read_back_at_random(store, expected, seconds=1.0)
        barrier.wait()
        for i in range(100):
            store.add(make_experience(f"parent-{i}", seq=i))
        outcome, child_wrong, child_size = results.get(timeout=60)
    finally:
        child.join(timeout=30)
    assert outcome == "ok", child_wrong
    assert child.exitcode == 0
    assert parent_wrong == [] and child_wrong == []
    assert child_size >= 200

    assert len(store) == 300
    assert store.get("child-99") == make_experience("child-99", seq=99)
    for origin in ("parent", "child"):  # each side's adds in its order, interleaved with the other's
        ids = [e.query_id for e in store.list(limit=300) if e.query_id.startswith(origin)]
        assert ids == [f"{origin}-{i}" for i in range(100)]
    if make_store.kind == "journal":  # the two processes' appends never wrote a line twice
        assert max(ops_per_id(journal_records(Path(store.location)), "add").values()) == 1


# -- 8. list filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["live", "reopened", "compacted"])
def test_list_filters_by_feedback_evaluation_since_and_limit(make_store, view):
    store = make_store()
    thumb = Feedback(rating="up", received_at=CREATED)
    judged = rich_feedback("down")
    feedback = {"q-1": thumb, "q-2": judged, "q-4": replace(thumb, rating="down"), "q-5": judged}
    for i in range(6):  # created one second apart; q-5 arrives already judged
        store.add(make_experience(f"q-{i}", seq=i, feedback=feedback["q-5"] if i == 5 else None))
    for query_id in ("q-1", "q-2", "q-4"):
        store.update_feedback(query_id, feedback[query_id])
    if view == "reopened":
        store = make_store()
    elif view == "compacted":
        store.compact()

    def ids(**filters):
        return [e.query_id for e in store.list(**filters)]

    assert ids() == [f"q-{i}" for i in range(6)]
    assert ids(has_feedback=True) == ["q-1", "q-2", "q-4", "q-5"]
    assert ids(has_feedback=False) == ["q-0", "q-3"]
    assert ids(has_evaluation=True) == ["q-2", "q-5"]
    assert ids(has_evaluation=False) == ["q-0", "q-1", "q-3", "q-4"]
    assert ids(has_feedback=True, has_evaluation=False) == ["q-1", "q-4"]
    assert ids(since=CREATED + timedelta(seconds=3)) == ["q-3", "q-4", "q-5"]  # inclusive
    assert ids(since=(CREATED + timedelta(seconds=4)).astimezone(timezone(timedelta(hours=5)))) == ["q-4", "q-5"]
    assert ids(since=CREATED + timedelta(seconds=2), has_feedback=False) == ["q-3"]
    assert ids(limit=2) == ["q-0", "q-1"]
    assert ids(has_evaluation=True, limit=1) == ["q-2"]
    assert ids(limit=0) == []
    assert store.list(has_evaluation=True) == [
        make_experience(f"q-{i}", seq=i, feedback=judged) for i in (2, 5)
    ]  # whole records, feedback folded in


# -- 9. a thumb after the judge ---------------------------------------------------------------------


def test_a_rating_after_a_judge_evaluation_keeps_the_evaluation(make_store):
    store = make_store()
    store.add(make_experience("q-1", seq=1))
    judge = rich_feedback("down", seq=1)
    thumb = Feedback(rating="up", source="operator", received_at=CREATED + timedelta(days=1))
    store.update_feedback("q-1", judge)

    kept = replace(judge, rating="up", received_at=thumb.received_at, source="operator")
    assert store.update_feedback("q-1", thumb).feedback == kept
    store.add(make_experience("q-2", seq=2, feedback=judge))  # judged when it was recorded
    store.update_feedback("q-2", thumb)
    for view in (store, make_store()):
        assert view.get("q-1").feedback == kept and view.get("q-1").has_evaluation
        assert view.get("q-2").feedback == kept
        assert [e.query_id for e in view.list(has_evaluation=True)] == ["q-1", "q-2"]
    store.compact()
    assert make_store().get("q-1").feedback == kept

    second_judge = rich_feedback("down", seq=2, source="judge:second")
    # A new evaluation replaces the rich fields; the operator's thumb still stands over the judge's rating.
    assert store.update_feedback("q-1", second_judge).feedback == replace(second_judge, rating="up", source="operator")


# -- iteration ---------------------------------------------------------------------------------------


def test_iter_all_lets_the_caller_use_the_store_between_items(make_store):
    """Training code rates or re-reads experiences while it iterates; another thread reads meanwhile."""
    store = make_store()
    for i in range(3):
        store.add(make_experience(f"q-{i}", seq=i))
    suspended = store.iter_all()
    assert next(suspended).query_id == "q-0"
    sizes = []
    reader = threading.Thread(target=lambda: sizes.append(len(store)), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert sizes == [3], "a suspended iter_all blocks other threads"

    def rate_while_iterating():
        for experience in store.iter_all():
            store.update_feedback(experience.query_id, Feedback(rating="up"))

    rater = threading.Thread(target=rate_while_iterating, daemon=True)
    rater.start()
    rater.join(timeout=5)
    assert not rater.is_alive(), "iter_all holds the store's lock while the caller handles an item"
    assert [e.rating for e in store.iter_all()] == ["up"] * 3
    suspended.close()
