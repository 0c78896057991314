"""The journal and the PostgreSQL store answer alike: one random sequence of writes applied to both, every read
compared (the shared store is a drop-in for several hosts, ``rl/experiences/pg_store.py``)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from rl.experiences.buffer import ExperienceBuffer, ExperienceNotFound
from rl.experiences.pg_store import PostgresExperienceStore
from rl.experiences.records import Feedback, ImplicitSignals, WidgetFeedback, WidgetSignals
from tests.rl.experiences.buffer_worker import CREATED, make_experience


def _random_feedback(rng: random.Random, step: int) -> Feedback:
    rich = rng.random() < 0.4
    return Feedback(
        rating=rng.choice(["up", "down"]),
        source=rng.choice(["operator", "operator", "judge:claude", "judge:offline"]),
        evaluation_confidence=round(rng.random(), 3) if rich else None,
        per_widget_feedback=[WidgetFeedback(0, "trend", 0.5, "wrong_size", "smaller")] if rich else [],
        received_at=CREATED + timedelta(minutes=step),
        feedback_id=rng.choice([None, f"f-{rng.randrange(30)}"]),
    )


def _random_signals(rng: random.Random, step: int) -> ImplicitSignals:
    if rng.random() < 0.3:
        return ImplicitSignals(rephrased=True)
    widgets = [WidgetSignals(0, "trend", visible_ms=rng.randrange(0, 9000)), WidgetSignals(1, "kpi", 250.0)]
    wait = rng.choice([None, float(rng.randrange(100, 60000))])
    return ImplicitSignals(widgets=widgets, next_question_after_ms=wait, reported_at=CREATED + timedelta(minutes=step))


def _apply(store, op: str, *args):
    try:
        return getattr(store, op)(*args)
    except ExperienceNotFound as missing:
        return ("missing", missing.query_id)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_random_history_reads_the_same_from_the_journal_and_from_postgresql(tmp_path, store_url, seed):
    rng = random.Random(seed)
    journal = ExperienceBuffer(tmp_path / "experiences.jsonl", capacity=40)
    shared = PostgresExperienceStore(store_url, capacity=40)
    ids = []
    for step in range(300):
        roll = rng.random()
        if roll < 0.35 or not ids:
            query_id = f"q-{len(ids)}" if rng.random() < 0.9 or not ids else rng.choice(ids)  # some retried adds
            experience = make_experience(
                query_id, seq=step, feedback=_random_feedback(rng, step) if roll < 0.05 else None
            )
            experience = replace(experience, asked_by=rng.choice([None, 1, 2]))
            ids.append(query_id)
            results = [store.add(experience) for store in (journal, shared)]
        elif roll < 0.65:
            query_id, feedback = rng.choice(ids), _random_feedback(rng, step)
            results = [_apply(store, "update_feedback", query_id, feedback) for store in (journal, shared)]
        elif roll < 0.85:
            query_id, signals = rng.choice(ids), _random_signals(rng, step)
            results = [_apply(store, "record_signals", query_id, signals) for store in (journal, shared)]
        else:
            query_id = rng.choice(ids)
            results = [_apply(store, "get", query_id) for store in (journal, shared)]
        assert results[0] == results[1], f"step {step}"
        if step % 60 == 59:
            # Who evaluated agrees until the journal's first compaction: it merges a judge's evaluation under an
            # operator's thumb into one record, the operator's (rl/experiences/buffer.BufferStats).
            _same_reads(journal, shared, CREATED + timedelta(seconds=step // 2), sources=step == 59)
            for store in (journal, shared):
                store.compact()
            _same_reads(journal, shared, CREATED + timedelta(seconds=step // 3), sources=False)


def _same_reads(journal, shared, since, *, sources: bool) -> None:
    assert len(journal) == len(shared)
    for filters in (
        {},
        {"has_feedback": True},
        {"has_feedback": False},
        {"has_evaluation": True},
        {"has_signals": True},
        {"has_signals": False},
        {"asked_by": 1},
        {"since": since},
        {"newest_first": True, "limit": 7},
    ):
        filters = {"limit": 1000, **filters}
        assert journal.list(**filters) == shared.list(**filters), filters
    assert list(journal.iter_all()) == list(shared.iter_all())
    assert journal.created_times(since=since) == shared.created_times(since=since)
    assert journal.signals_stats() == shared.signals_stats()
    mine, theirs = journal.stats(), shared.stats()
    assert (mine.size, mine.with_feedback, mine.with_evaluation) == (
        theirs.size,
        theirs.with_feedback,
        theirs.with_evaluation,
    )
    if sources:
        assert mine.evaluations_by_source == theirs.evaluations_by_source


def test_an_experience_store_url_that_is_not_postgresql_fails_the_system_check(settings):
    from rl.apps import experience_store_url_check

    settings.EXPERIENCE_STORE_URL = ""
    assert experience_store_url_check(None) == []
    settings.EXPERIENCE_STORE_URL = "postgresql://cc@db.example.com/rl"
    assert experience_store_url_check(None) == []
    settings.EXPERIENCE_STORE_URL = "mysql://cc@db.example.com/rl"
    [error] = experience_store_url_check(None)
    assert error.id == "rl.E001" and "mysql://" in error.msg
