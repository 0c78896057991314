"""The experience buffer every gunicorn worker shares: an append-only JSON Lines journal.

Layout: one file, ``experiences.jsonl``, one JSON record a line:
``{"op": "add", "experience": {...}}``, ``{"op": "feedback", "query_id": ..., "feedback": {...}}`` or
``{"op": "signals", "query_id": ..., "signals": {...}}`` (how the asker used the answer: the console's
report of its totals so far, or the server's note that the question was asked again in other words).

* **Writes** (add, feedback, signals) append one line under a ``filelock`` lock: O(1),
  whatever the buffer's size. ``fsync`` per write is optional
  (``EXPERIENCE_FSYNC``): a killed process never loses a write that
  returned, since the bytes are in the OS already; fsync guards against
  power loss at a cost of milliseconds a write.
* **Reads**: each process keeps an index (query id -> offsets of its
  records, plus the flags filters need) and, on every call, reads only the
  bytes appended since its last offset. Records themselves stay on disk
  and are read on demand, so memory is a few hundred bytes an experience.
  Feedback written by another worker is therefore always found.
* **Signals** replace rather than add up: an experience's index entry keeps
  only the offset of its newest console report (a retried report never
  counts twice) and whether it was rephrased, plus the few numbers
  ``signals_stats`` needs, so neither memory nor a read grows with reports.
* **Compaction**: when the journal holds far more lines than live
  experiences, one writer rewrites it (one merged ``add`` line per
  experience, the newest ``capacity`` only) to a temporary file, fsyncs
  it and atomically renames it over the journal. Other processes notice
  the new inode and re-index.
* **Recovery**: a torn last line (a writer killed mid-line) is ignored by
  readers and cut off by the next writer before it appends.

Locks follow the ``filelock`` issues on fork and re-entry: the lock object
is created lazily per process (re-created if the pid changed, i.e. after
fork), a ``threading.Lock`` serialises threads within the process, and no
method takes the file lock while holding it, so there is no same-thread
re-entry. The journal is read with ``os.pread`` on an unbuffered handle: a
child forked after the parent read inherits the descriptor and shares its
file position (seek-then-read would race), and a read-ahead buffer could
still hold the bytes of a torn line after a writer has cut and replaced it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from filelock import FileLock

from rl.experiences.atomic_file import atomic_file
from rl.experiences.folding import (
    OPERATOR,
    BufferStats,
    ExperienceNotFound,
    SignalsStats,
    fold,
)
from rl.experiences.records import Experience, Feedback, ImplicitSignals

__all__ = [
    "OPERATOR",
    "BufferStats",
    "ExperienceBuffer",
    "ExperienceNotFound",
    "SignalsStats",
    "get_experience_buffer",
]

logger = logging.getLogger(__name__)


@dataclass
class _Entry:
    """Where an experience's records are, and what list filters need to know without reading them."""

    add_offset: int
    feedback_offsets: list[int] = field(default_factory=list)
    feedback_ids: set[str] = field(default_factory=set)  # senders' idempotency keys of its feedback lines
    created_at: str = ""
    has_feedback: bool = False
    has_evaluation: bool = False
    evaluated_by: str | None = None  # source of the newest record that carried the evaluation
    asked_by: int | None = None  # the asker's user id (None: an older record nobody owns)
    signals_offset: int | None = None  # the newest console report after the add line (earlier ones are replaced)
    rephrased: bool = False  # a later record said the question was asked again in other words
    viewed: _Viewed | None = None  # what signals_stats reads of the newest console report


@dataclass(frozen=True, slots=True)
class _Viewed:
    """An answer's newest console report, as few numbers: (widget type, visible ms) per widget, next question."""

    widgets: tuple[tuple[str, float], ...]
    next_question_after_ms: float | None

    @classmethod
    def of(cls, signals: ImplicitSignals) -> _Viewed | None:
        if signals.reported_at is None:
            return None
        views = tuple((w.widget_type, float(w.visible_ms)) for w in signals.widgets)
        return cls(views, signals.next_question_after_ms)


class _LineLog:
    """The query ids of one kind of journal line, in the order this process indexed them (the newest 100,000),
    and how many it has seen ever: a cursor is that count, so tailing needs no offsets."""

    def __init__(self, maxlen: int = 100_000):
        self._ids: deque[str] = deque(maxlen=maxlen)
        self.seen = 0

    def append(self, query_id: str) -> None:
        self._ids.append(query_id)
        self.seen += 1

    def since(self, cursor: int) -> tuple[list[str], int]:
        """The ids after ``cursor``, oldest first (those still held), and the new cursor."""
        fresh = min(self.seen - cursor, len(self._ids))
        return (list(self._ids)[-fresh:] if fresh > 0 else []), self.seen


class ExperienceBuffer:
    def __init__(self, path: Path, *, capacity: int = 200_000, fsync: bool = False, compact_factor: float = 2.0):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.path = Path(path)
        self.capacity = capacity
        self.fsync = fsync
        self.compact_factor = compact_factor
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.location = str(self.path)
        self._thread_lock = threading.Lock()
        self._file_lock: FileLock | None = None
        self._lock_pid = -1
        self._index: OrderedDict[str, _Entry] = OrderedDict()
        self._offset = 0
        self._lines = 0
        self._feedback_lines = _LineLog()  # the feedback lines this process has indexed
        self._signals_lines = _LineLog()  # the signals lines
        # Reads go through a handle on the file we indexed: if another process compacts (renames a new
        # file into place), this handle still reads the old one, whose offsets the index holds.
        self._reader = None

    # -- public API ------------------------------------------------------------

    def add(self, experience: Experience) -> None:
        """Store a new experience (a second add of the same ``query_id`` changes nothing)."""
        self._append(
            {"op": "add", "experience": experience.to_dict()}, unless=lambda: experience.query_id in self._index
        )

    def update_feedback(self, query_id: str, feedback: Feedback) -> Experience:
        """Attach ``feedback`` to an experience (written by any process; its ``feedback_id`` once: a retry is a
        no-op); returns the updated record."""
        with self._thread_lock:
            self._catch_up()
            if query_id not in self._index:
                raise ExperienceNotFound(query_id)

        def seen() -> bool:
            entry = self._index.get(query_id)
            return entry is not None and feedback.feedback_id is not None and feedback.feedback_id in entry.feedback_ids

        self._append({"op": "feedback", "query_id": query_id, "feedback": feedback.to_dict()}, unless=seen)
        return self.get(query_id)

    def record_signals(self, query_id: str, signals: ImplicitSignals) -> Experience:
        """Attach ``signals`` to an experience (written by any process); returns the updated record.

        A console report (``reported_at`` set) replaces the experience's earlier one; ``rephrased`` is kept once
        any record set it.
        """
        with self._thread_lock:
            self._catch_up()
            if query_id not in self._index:
                raise ExperienceNotFound(query_id)
        self._append({"op": "signals", "query_id": query_id, "signals": signals.to_dict()})
        return self.get(query_id)

    def get(self, query_id: str) -> Experience:
        with self._thread_lock:
            self._catch_up()
            entry = self._index.get(query_id)
            if entry is None:
                raise ExperienceNotFound(query_id)
            return self._load(entry)

    def __contains__(self, query_id: str) -> bool:
        with self._thread_lock:
            self._catch_up()
            return query_id in self._index

    def __len__(self) -> int:
        with self._thread_lock:
            self._catch_up()
            return len(self._index)

    def list(
        self,
        *,
        has_feedback: bool | None = None,
        has_evaluation: bool | None = None,
        since: datetime | None = None,
        asked_by: int | None = None,
        has_signals: bool | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Experience]:
        """Experiences oldest first (or newest first), filtered (``asked_by``: that user's only); at most ``limit``."""
        with self._thread_lock:
            self._catch_up()
            chosen = []
            entries = reversed(self._index.values()) if newest_first else self._index.values()
            for entry in entries:
                if has_feedback is not None and entry.has_feedback != has_feedback:
                    continue
                if has_evaluation is not None and entry.has_evaluation != has_evaluation:
                    continue
                if since is not None and datetime.fromisoformat(entry.created_at) < since:
                    continue
                if asked_by is not None and entry.asked_by != asked_by:
                    continue
                if has_signals is not None and (entry.viewed is not None or entry.rephrased) != has_signals:
                    continue
                if len(chosen) >= limit:
                    break
                chosen.append(entry)
            return [self._load(e) for e in chosen]

    def created_times(self, *, since: datetime | None = None) -> list[datetime]:
        """When each experience created at or after ``since`` was created, in journal order: from the index alone,
        no record read from disk (what counting answers over a window costs)."""
        with self._thread_lock:
            self._catch_up()
            times = (datetime.fromisoformat(e.created_at) for e in self._index.values())
            return [t for t in times if since is None or t >= since]

    def iter_all(self):
        """Every experience, oldest first (reads each from disk; for training and replay)."""
        with self._thread_lock:
            self._catch_up()
            entries, reader = list(self._index.values()), self._reader
        for entry in entries:
            with self._thread_lock:
                experience = self._load(entry, reader)
            yield experience  # not under the lock: the caller may use the buffer, other threads too

    def stats(self) -> BufferStats:
        with self._thread_lock:
            self._catch_up()
            return BufferStats(
                size=len(self._index),
                with_feedback=sum(e.has_feedback for e in self._index.values()),
                with_evaluation=sum(e.has_evaluation for e in self._index.values()),
                journal_bytes=self._offset,
                evaluations_by_source=dict(
                    sorted(Counter(e.evaluated_by for e in self._index.values() if e.has_evaluation).items())
                ),
            )

    def feedback_cursor(self) -> int:
        """A cursor just after every feedback seen so far (see :meth:`feedback_since`)."""
        with self._thread_lock:
            self._catch_up()
            return self._feedback_lines.seen

    def feedback_since(self, cursor: int) -> tuple[list[str], int]:
        """Query ids that got feedback after ``cursor`` (from any process), oldest first, and the new cursor.

        The trainer tails the journal with this: a rating for an old
        experience arrives here like any other.
        """
        with self._thread_lock:
            self._catch_up()
            return self._feedback_lines.since(cursor)

    def signals_stats(self) -> SignalsStats:
        """How the held answers were used (from the index: no record is read)."""
        with self._thread_lock:
            self._catch_up()
            entries = [e for e in self._index.values() if e.viewed is not None or e.rephrased]
        viewed = [e.viewed for e in entries if e.viewed is not None]
        by_type: dict[str, list[float]] = {}
        for report in viewed:
            for widget_type, visible_ms in report.widgets:
                by_type.setdefault(widget_type, []).append(visible_ms)
        times = [v for views in by_type.values() for v in views]
        waits = [r.next_question_after_ms for r in viewed if r.next_question_after_ms is not None]
        return SignalsStats(
            answers=len(entries),
            reported=len(viewed),
            rephrased=sum(e.rephrased for e in entries),
            widgets_reported=len(times),
            mean_visible_ms=_mean(times),
            mean_visible_ms_by_type={t: _mean(v) for t, v in sorted(by_type.items())},
            mean_next_question_after_ms=_mean(waits),
        )

    def signals_cursor(self) -> int:
        """A cursor just after every signals record seen so far (see :meth:`signals_since`)."""
        with self._thread_lock:
            self._catch_up()
            return self._signals_lines.seen

    def signals_since(self, cursor: int) -> tuple[list[str], int]:
        """Query ids that got signals after ``cursor`` (from any process), oldest first, and the new cursor."""
        with self._thread_lock:
            self._catch_up()
            return self._signals_lines.since(cursor)

    def compact(self) -> None:
        """Rewrite the journal as one line per live experience (the newest ``capacity``)."""
        with self._thread_lock, self._lock():
            self._catch_up()
            self._compact_locked()

    # -- writing ---------------------------------------------------------------

    def _lock(self) -> FileLock:
        # One lock object per path per process, made after any fork (see the module docstring).
        if self._file_lock is None or self._lock_pid != os.getpid():
            # Waiters poll: filelock's default 50 ms sleep would put 50 ms on a contended write.
            self._file_lock = FileLock(str(self.path) + ".lock", poll_interval=0.002)
            self._lock_pid = os.getpid()
        return self._file_lock

    def _append(self, record: dict, unless=None) -> None:
        """Append ``record`` unless ``unless()``, asked under the lock with the index caught up (a duplicate)."""
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        with self._thread_lock, self._lock():
            self._catch_up()
            if unless is not None and unless():
                return
            with open(self.path, "ab") as f:
                self._cut_torn_tail(f)
                f.write(line)
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            self._catch_up()
            if self._lines > self.compact_factor * max(len(self._index), 1) + 1000:
                self._compact_locked()

    def _cut_torn_tail(self, f) -> None:
        """Drop a partial last line left by a writer that died mid-write (we hold the lock)."""
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        with open(self.path, "rb") as r:
            r.seek(size - 1)
            if r.read(1) == b"\n":
                return
        f.truncate(self._offset)
        f.seek(self._offset)
        logger.warning("experience journal: cut a torn last line (%d bytes)", size - self._offset)

    def _compact_locked(self) -> None:
        keep = list(self._index.items())[-self.capacity :]
        with atomic_file(self.path) as out:
            for _, entry in keep:
                record = {"op": "add", "experience": self._load(entry).to_dict()}
                if entry.feedback_ids:  # merged lines' idempotency keys: a retry after compaction is still a no-op
                    record["feedback_ids"] = sorted(entry.feedback_ids)
                out.write((json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode())
        evicted = len(self._index) - len(keep)
        logger.info("experience journal compacted: %d experiences kept, %d evicted", len(keep), evicted)
        self._reset()
        self._catch_up()

    # -- reading ---------------------------------------------------------------

    def _reset(self) -> None:
        self._index.clear()
        self._offset = 0
        self._lines = 0
        self._reader = None  # not closed: an iter_all in progress may still read it; GC closes it

    def _catch_up(self) -> None:
        """Index the complete lines appended since our last read (all of them after a compaction)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._reset()
            return
        if self._reader is not None and os.fstat(self._reader.fileno()).st_ino != stat.st_ino:
            self._reset()  # another process compacted: the file is new
        if self._reader is None:
            self._reader = open(self.path, "rb", buffering=0)  # noqa: SIM115 - lives as long as the index it serves
        size = os.fstat(self._reader.fileno()).st_size
        if size <= self._offset:
            return
        chunk = os.pread(self._reader.fileno(), size - self._offset, self._offset)
        end = chunk.rfind(b"\n") + 1  # a torn last line waits (or is cut by the next writer)
        position = self._offset
        for raw in chunk[:end].splitlines(keepends=True):
            self._index_line(raw, position)
            position += len(raw)
        self._offset += end

    def _index_line(self, raw: bytes, offset: int) -> None:
        self._lines += 1
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            logger.warning("experience journal: unreadable line at byte %d skipped", offset)
            return
        if record.get("op") == "add":
            exp = record["experience"]
            feedback = Feedback.from_dict(exp["feedback"]) if exp.get("feedback") else None
            rich = feedback is not None and feedback.is_rich
            signals = ImplicitSignals.from_dict(exp["signals"]) if exp.get("signals") else None
            self._index[exp["query_id"]] = _Entry(
                add_offset=offset,
                feedback_ids=set(record.get("feedback_ids", ())),
                created_at=exp["created_at"],
                has_feedback=feedback is not None,
                has_evaluation=rich,
                evaluated_by=feedback.source if rich else None,
                asked_by=exp.get("asked_by"),
                rephrased=signals is not None and signals.rephrased,
                viewed=_Viewed.of(signals) if signals else None,
            )
            while len(self._index) > self.capacity:
                self._index.popitem(last=False)
        elif record.get("op") == "feedback":
            self._feedback_lines.append(record["query_id"])
            entry = self._index.get(record["query_id"])
            if entry is not None:
                feedback = Feedback.from_dict(record["feedback"])
                if feedback.feedback_id is not None:
                    entry.feedback_ids.add(feedback.feedback_id)
                entry.feedback_offsets.append(offset)
                entry.has_feedback = True
                if feedback.is_rich:
                    entry.has_evaluation, entry.evaluated_by = True, feedback.source
        elif record.get("op") == "signals":
            self._signals_lines.append(record["query_id"])
            entry = self._index.get(record["query_id"])
            if entry is not None:
                signals = ImplicitSignals.from_dict(record["signals"])
                entry.rephrased = entry.rephrased or signals.rephrased
                if signals.reported_at is not None:
                    entry.signals_offset, entry.viewed = offset, _Viewed.of(signals)

    def _load(self, entry: _Entry, reader=None) -> Experience:
        """The experience: its add record with every later feedback and its newest signals folded in (from disk)."""
        fd = (reader or self._reader).fileno()
        experience = Experience.from_dict(json.loads(_read_line(fd, entry.add_offset))["experience"])
        report = None
        if entry.signals_offset is not None:
            report = ImplicitSignals.from_dict(json.loads(_read_line(fd, entry.signals_offset))["signals"])
        return fold(
            experience,
            feedback=(Feedback.from_dict(json.loads(_read_line(fd, o))["feedback"]) for o in entry.feedback_offsets),
            report=report,
            rephrased=entry.rephrased,
        )


def _read_line(fd: int, offset: int) -> bytes:
    """The line starting at ``offset``, read with ``os.pread`` (see the module docstring)."""
    parts, size = [], 8192
    while True:
        chunk = os.pread(fd, size, offset)
        end = chunk.find(b"\n")
        if end >= 0 or not chunk:
            parts.append(chunk if end < 0 else chunk[: end + 1])
            return b"".join(parts)
        parts.append(chunk)
        offset += len(chunk)
        size *= 2


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


@functools.cache
def get_experience_buffer() -> ExperienceBuffer:
    """The process's store: the journal at the configured path (``$CC_STATE_DIR/experiences.jsonl`` by default), or
    with ``EXPERIENCE_STORE_URL`` the PostgreSQL tables every host shares (``rl/experiences/pg_store.py``)."""
    from django.conf import settings

    from rl.experiences.postgres import shared_store_url

    url = shared_store_url()
    if url:
        from rl.experiences.pg_store import PostgresExperienceStore

        return PostgresExperienceStore(url, capacity=settings.EXPERIENCE_BUFFER_CAPACITY)
    return ExperienceBuffer(
        settings.EXPERIENCE_BUFFER_PATH, capacity=settings.EXPERIENCE_BUFFER_CAPACITY, fsync=settings.EXPERIENCE_FSYNC
    )
