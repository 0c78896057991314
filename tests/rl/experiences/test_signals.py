"""Implicit signals in the experience stores: the newest console report replaces the earlier ones, a rephrase note
stays, and both survive another process's view, a reopen and a compaction, in the journal and in the shared
PostgreSQL store alike (``make_store``), and a torn last line in the journal."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from rl.experiences.buffer import ExperienceBuffer, ExperienceNotFound
from rl.experiences.records import Experience, ImplicitSignals, WidgetSignals
from tests.rl.experiences.buffer_worker import CREATED, console_report, make_experience

REPHRASED = ImplicitSignals(rephrased=True)


def journal_ops(path) -> list[str]:
    return [json.loads(line)["op"] for line in Path(path).read_bytes().splitlines()]


def test_signals_round_trip_through_dicts_and_an_experience_without_them_reads_none():
    report = replace(console_report(seq=3), rephrased=True)
    assert ImplicitSignals.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    experience = make_experience("q-1", seq=1, signals=report)
    assert Experience.from_dict(json.loads(json.dumps(experience.to_dict()))) == experience
    assert experience.to_dict()["signals"]["widgets"][0] == {
        "widget_index": 0, "widget_type": "trend", "visible_ms": 5300.5, "expansions": 1, "hovers": 4,
    }  # fmt: skip
    assert Experience.from_dict(make_experience("q-2").to_dict()).signals is None


def test_a_later_report_replaces_the_earlier_one_and_a_retried_report_counts_once(make_store):
    store = make_store()
    store.add(make_experience("q-1", seq=1))
    early = console_report(seq=1, trend_ms=1000.0, kpi_ms=500.0)
    late = replace(console_report(seq=1, trend_ms=9000.0, kpi_ms=700.0), reported_at=early.reported_at + timedelta(1))
    assert store.record_signals("q-1", early).signals == early
    assert store.record_signals("q-1", late).signals == late
    assert store.record_signals("q-1", late).signals == late  # the page retried: the same totals, not twice them
    for view in (store, make_store()):  # this process, and a fresh one reading the same store
        assert view.get("q-1").signals == late
        stats = view.signals_stats()
        assert (stats.answers, stats.reported, stats.widgets_reported) == (1, 1, 2)
        assert stats.mean_visible_ms_by_type == {"kpi": 700.0, "trend": 9000.0}
    if make_store.kind == "journal":  # each report is a line of its own; reads take the newest
        assert journal_ops(store.location) == ["add", "signals", "signals", "signals"]


def test_a_rephrase_note_stays_under_later_reports_and_leaves_the_report_as_it_was(make_store):
    store = make_store()
    store.add(make_experience("q-1", seq=1))
    store.add(make_experience("q-2", seq=2))
    report = console_report(seq=1)
    store.record_signals("q-1", report)
    assert store.record_signals("q-1", REPHRASED).signals == replace(report, rephrased=True)
    later = replace(report, next_question_after_ms=99.0, reported_at=report.reported_at + timedelta(seconds=5))
    assert store.record_signals("q-1", later).signals == replace(later, rephrased=True)
    assert store.record_signals("q-2", REPHRASED).signals == REPHRASED  # rephrased before any report came
    for view in (store, make_store()):
        assert view.get("q-1").signals == replace(later, rephrased=True)
        assert view.get("q-2").signals == REPHRASED
        stats = view.signals_stats()
        assert (stats.answers, stats.reported, stats.rephrased) == (2, 1, 2)
        assert stats.mean_next_question_after_ms == 99.0


@pytest.mark.parametrize("view", ["live", "reopened", "compacted", "compacted and reopened"])
def test_signals_survive_compaction_and_reloading_and_filter_the_list(make_store, view):
    store = make_store()
    for i in range(4):
        store.add(make_experience(f"q-{i}", seq=i))
    expected = {
        "q-1": console_report(seq=1, trend_ms=100.0, kpi_ms=300.0),
        "q-2": replace(console_report(seq=2, trend_ms=2000.0, kpi_ms=0.0), rephrased=True),
        "q-3": REPHRASED,
    }
    store.record_signals("q-1", replace(expected["q-1"], widgets=[]))  # replaced below
    store.record_signals("q-1", expected["q-1"])
    store.record_signals("q-2", replace(expected["q-2"], rephrased=False))
    store.record_signals("q-2", REPHRASED)
    store.record_signals("q-3", REPHRASED)
    if "compacted" in view:
        store.compact()
        if make_store.kind == "journal":  # the journal's compaction folds the signals into their add lines
            assert journal_ops(store.location) == ["add"] * 4
    if "reopened" in view:
        store = make_store()

    assert {q: store.get(q).signals for q in expected} == expected and store.get("q-0").signals is None
    assert [e.query_id for e in store.list(has_signals=True)] == ["q-1", "q-2", "q-3"]
    assert [e.query_id for e in store.list(has_signals=False)] == ["q-0"]
    stats = store.signals_stats()
    assert (stats.answers, stats.reported, stats.rephrased, stats.widgets_reported) == (3, 2, 2, 4)
    assert stats.mean_visible_ms == pytest.approx((100 + 300 + 2000 + 0) / 4, abs=0.1)
    assert stats.mean_visible_ms_by_type == {"kpi": 150.0, "trend": 1050.0}
    assert stats.mean_next_question_after_ms == pytest.approx(12000.2, abs=0.1)

    later = replace(expected["q-1"], widgets=[WidgetSignals(1, "kpi", 50.0)], reported_at=CREATED + timedelta(days=1))
    store.record_signals("q-1", later)  # a report after the compaction still replaces the folded one
    assert make_store().get("q-1").signals == later


def test_signals_for_an_unknown_or_evicted_answer_are_refused_before_anything_is_written(make_store):
    store = make_store(capacity=2)
    for i in range(3):
        store.add(make_experience(f"q-{i}", seq=i))
    cursor = store.signals_cursor()
    for query_id in ("q-0", "nope"):
        with pytest.raises(ExperienceNotFound):
            store.record_signals(query_id, console_report())
    assert store.signals_since(cursor) == ([], cursor)
    assert store.signals_stats().answers == 0
    if make_store.kind == "journal":  # not a line of any kind was appended
        assert journal_ops(store.location) == ["add"] * 3


def test_the_signals_cursor_names_each_answer_that_got_signals_from_any_process(make_store):
    store, other = make_store(), make_store()
    for i in range(3):
        store.add(make_experience(f"q-{i}", seq=i))
    start, feedback_start = other.signals_cursor(), other.feedback_cursor()
    store.record_signals("q-2", console_report())
    store.record_signals("q-0", REPHRASED)
    ids, cursor = other.signals_since(start)
    assert ids == ["q-2", "q-0"] and cursor > start
    if make_store.kind == "journal":  # the journal's cursor counts signals lines; the shared store's are row ids
        assert cursor == start + 2
    assert other.signals_since(cursor) == ([], cursor)
    assert other.feedback_since(feedback_start) == ([], feedback_start)  # signals are no feedback


def test_a_signals_line_torn_by_a_killed_writer_is_ignored_and_cut_and_the_report_before_it_stands(tmp_path):
    path = tmp_path / "experiences.jsonl"
    writer = ExperienceBuffer(path)
    writer.add(make_experience("q-1", seq=1))
    first = console_report(seq=1)
    writer.record_signals("q-1", first)
    torn = {"op": "signals", "query_id": "q-1", "signals": console_report(seq=1, trend_ms=1.0).to_dict()}
    line = json.dumps(torn).encode()
    with path.open("ab") as journal:
        journal.write(line[: len(line) // 2])  # a writer killed mid-line

    reader = ExperienceBuffer(path)
    assert reader.get("q-1").signals == first and reader.signals_stats().reported == 1
    second = replace(first, next_question_after_ms=1.0)
    writer.record_signals("q-1", second)  # the next writer cuts the torn line first
    assert journal_ops(path) == ["add", "signals", "signals"]
    for view in (reader, writer, ExperienceBuffer(path)):
        assert view.get("q-1").signals == second
