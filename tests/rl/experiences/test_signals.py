"""Implicit signals in the experience journal: the newest console report replaces the earlier ones, a rephrase
note stays, and both survive another process's view, a reopen, a compaction and a torn last line."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from rl.experiences.buffer import ExperienceBuffer, ExperienceNotFound
from rl.experiences.records import Experience, ImplicitSignals, WidgetSignals
from tests.rl.experiences.buffer_worker import CREATED, console_report, make_experience

REPHRASED = ImplicitSignals(rephrased=True)


def journal_ops(path) -> list[str]:
    return [json.loads(line)["op"] for line in path.read_bytes().splitlines()]


def views(buffer: ExperienceBuffer, path) -> list[ExperienceBuffer]:
    """This process's buffer, another process's fresh view of the same journal."""
    return [buffer, ExperienceBuffer(path)]


def test_signals_round_trip_through_dicts_and_an_experience_without_them_reads_none():
    report = replace(console_report(seq=3), rephrased=True)
    assert ImplicitSignals.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    experience = make_experience("q-1", seq=1, signals=report)
    assert Experience.from_dict(json.loads(json.dumps(experience.to_dict()))) == experience
    assert experience.to_dict()["signals"]["widgets"][0] == {
        "widget_index": 0, "widget_type": "trend", "visible_ms": 5300.5, "expansions": 1, "hovers": 4,
    }  # fmt: skip
    assert Experience.from_dict(make_experience("q-2").to_dict()).signals is None


def test_a_later_report_replaces_the_earlier_one_and_a_retried_report_counts_once(tmp_path):
    path = tmp_path / "experiences.jsonl"
    buffer = ExperienceBuffer(path)
    buffer.add(make_experience("q-1", seq=1))
    early = console_report(seq=1, trend_ms=1000.0, kpi_ms=500.0)
    late = replace(console_report(seq=1, trend_ms=9000.0, kpi_ms=700.0), reported_at=early.reported_at + timedelta(1))
    assert buffer.record_signals("q-1", early).signals == early
    assert buffer.record_signals("q-1", late).signals == late
    assert buffer.record_signals("q-1", late).signals == late  # the page retried: the same totals, not twice them
    for view in views(buffer, path):
        assert view.get("q-1").signals == late
        stats = view.signals_stats()
        assert (stats.answers, stats.reported, stats.widgets_reported) == (1, 1, 2)
        assert stats.mean_visible_ms_by_type == {"kpi": 700.0, "trend": 9000.0}
    assert journal_ops(path) == ["add", "signals", "signals", "signals"]


def test_a_rephrase_note_stays_under_later_reports_and_leaves_the_report_as_it_was(tmp_path):
    path = tmp_path / "experiences.jsonl"
    buffer = ExperienceBuffer(path)
    buffer.add(make_experience("q-1", seq=1))
    buffer.add(make_experience("q-2", seq=2))
    report = console_report(seq=1)
    buffer.record_signals("q-1", report)
    assert buffer.record_signals("q-1", REPHRASED).signals == replace(report, rephrased=True)
    later = replace(report, next_question_after_ms=99.0, reported_at=report.reported_at + timedelta(seconds=5))
    assert buffer.record_signals("q-1", later).signals == replace(later, rephrased=True)
    assert buffer.record_signals("q-2", REPHRASED).signals == REPHRASED  # rephrased before any report came
    for view in views(buffer, path):
        assert view.get("q-1").signals == replace(later, rephrased=True)
        assert view.get("q-2").signals == REPHRASED
        stats = view.signals_stats()
        assert (stats.answers, stats.reported, stats.rephrased) == (2, 1, 2)
        assert stats.mean_next_question_after_ms == 99.0


@pytest.mark.parametrize("view", ["live", "reopened", "compacted", "compacted and reopened"])
def test_signals_survive_compaction_and_reloading_and_filter_the_list(tmp_path, view):
    path = tmp_path / "experiences.jsonl"
    buffer = ExperienceBuffer(path)
    for i in range(4):
        buffer.add(make_experience(f"q-{i}", seq=i))
    expected = {
        "q-1": console_report(seq=1, trend_ms=100.0, kpi_ms=300.0),
        "q-2": replace(console_report(seq=2, trend_ms=2000.0, kpi_ms=0.0), rephrased=True),
        "q-3": REPHRASED,
    }
    buffer.record_signals("q-1", replace(expected["q-1"], widgets=[]))  # replaced below
    buffer.record_signals("q-1", expected["q-1"])
    buffer.record_signals("q-2", replace(expected["q-2"], rephrased=False))
    buffer.record_signals("q-2", REPHRASED)
    buffer.record_signals("q-3", REPHRASED)
    if "compacted" in view:
        buffer.compact()
        assert journal_ops(path) == ["add"] * 4  # the signals are folded into their adds
    if "reopened" in view:
        buffer = ExperienceBuffer(path)

    assert {q: buffer.get(q).signals for q in expected} == expected and buffer.get("q-0").signals is None
    assert [e.query_id for e in buffer.list(has_signals=True)] == ["q-1", "q-2", "q-3"]
    assert [e.query_id for e in buffer.list(has_signals=False)] == ["q-0"]
    stats = buffer.signals_stats()
    assert (stats.answers, stats.reported, stats.rephrased, stats.widgets_reported) == (3, 2, 2, 4)
    assert stats.mean_visible_ms == pytest.approx((100 + 300 + 2000 + 0) / 4, abs=0.1)
    assert stats.mean_visible_ms_by_type == {"kpi": 150.0, "trend": 1050.0}
    assert stats.mean_next_question_after_ms == pytest.approx(12000.2, abs=0.1)

    later = replace(expected["q-1"], widgets=[WidgetSignals(1, "kpi", 50.0)], reported_at=CREATED + timedelta(days=1))
    buffer.record_signals("q-1", later)  # a report after the compaction still replaces the folded one
    assert ExperienceBuffer(path).get("q-1").signals == later


def test_signals_for_an_unknown_or_evicted_answer_are_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "experiences.jsonl"
    buffer = ExperienceBuffer(path, capacity=2)
    for i in range(3):
        buffer.add(make_experience(f"q-{i}", seq=i))
    for query_id in ("q-0", "nope"):
        with pytest.raises(ExperienceNotFound):
            buffer.record_signals(query_id, console_report())
    assert journal_ops(path) == ["add"] * 3


def test_the_signals_cursor_names_each_answer_that_got_signals_from_any_process(tmp_path):
    path = tmp_path / "experiences.jsonl"
    buffer, other = ExperienceBuffer(path), ExperienceBuffer(path)
    for i in range(3):
        buffer.add(make_experience(f"q-{i}", seq=i))
    start = other.signals_cursor()
    buffer.record_signals("q-2", console_report())
    buffer.record_signals("q-0", REPHRASED)
    ids, cursor = other.signals_since(start)
    assert ids == ["q-2", "q-0"] and cursor == start + 2
    assert other.signals_since(cursor) == ([], cursor)
    assert other.feedback_since(other.feedback_cursor()) == ([], other.feedback_cursor())  # signals are no feedback


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
