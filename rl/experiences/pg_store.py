"""The experience store several hosts share: append-only tables in PostgreSQL (``EXPERIENCE_STORE_URL``).

Same interface and records as the JSON Lines journal (``rl/experiences/buffer.py``), the default on one host.

Tables (created on first use, ``rl/experiences/postgres.ensure_schema``):

* ``cc_experience``: one row per answer, written once (``query_id`` unique: a retried add is a no-op), with the
  few flags filters need taken from the record as it was added.
* ``cc_feedback``: one row per piece of feedback, keyed by its experience and ``feedback_id`` (a retried request
  carrying the same id is a no-op), folded into the experience on read exactly as the journal folds its feedback lines.
* ``cc_signals``: one row per signals report; the newest console report stands, a rephrase note stays.

Every write takes one transaction-level advisory lock, so rows are numbered and committed in one order on every
host: the numbers are the watermarks Tier 1's leader tails feedback and signals by (a reader that has seen row n
has seen every row before it), ``seq`` has no gaps (so the live count is ``max - min + 1``, and an add evicts the
one experience that falls out of ``capacity`` in the same transaction, with its feedback and signals). A write is
acknowledged only after its commit: a host killed mid-request loses nothing it acknowledged. Writes are a few
hundred a second at most in a plant; the lock costs each well under a millisecond (``bench/experience_store.py``).

``compact`` drops superseded signals reports and evicts beyond ``capacity`` (if it was lowered); feedback rows are
the history of who said what and stay while their experience does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from psycopg.types.json import Jsonb

from rl.experiences.folding import BufferStats, ExperienceNotFound, SignalsStats, fold
from rl.experiences.postgres import ensure_schema, lock_key, pool
from rl.experiences.records import Experience, Feedback, ImplicitSignals

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cc_experience (
        seq bigint PRIMARY KEY,
        query_id text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        asked_by integer,
        added_feedback boolean NOT NULL,
        added_rich boolean NOT NULL,
        added_source text,
        added_reported boolean NOT NULL,
        added_rephrased boolean NOT NULL,
        record jsonb NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS cc_experience_asked_by ON cc_experience (asked_by, seq)",
    "CREATE INDEX IF NOT EXISTS cc_experience_created_at ON cc_experience (created_at)",
    """CREATE TABLE IF NOT EXISTS cc_feedback (
        id bigserial PRIMARY KEY,
        feedback_id text NOT NULL,
        query_id text NOT NULL,
        rich boolean NOT NULL,
        source text NOT NULL,
        record jsonb NOT NULL,
        UNIQUE (query_id, feedback_id))""",
    "CREATE INDEX IF NOT EXISTS cc_feedback_query ON cc_feedback (query_id, id)",
    """CREATE TABLE IF NOT EXISTS cc_signals (
        id bigserial PRIMARY KEY,
        query_id text NOT NULL,
        reported boolean NOT NULL,
        rephrased boolean NOT NULL,
        record jsonb NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS cc_signals_query ON cc_signals (query_id, id)",
)
WRITE_LOCK = lock_key("experience-store-writes")

# An experience with everything folded in: its add record, its feedback rows in order, its newest console
# report and whether any record said it was rephrased.
_FOLDED = """
    SELECT e.seq, e.record,
        (SELECT coalesce(jsonb_agg(f.record ORDER BY f.id), '[]') FROM cc_feedback f WHERE f.query_id = e.query_id),
        (SELECT s.record FROM cc_signals s WHERE s.query_id = e.query_id AND s.reported ORDER BY s.id DESC LIMIT 1),
        EXISTS (SELECT 1 FROM cc_signals s WHERE s.query_id = e.query_id AND s.rephrased)
    FROM cc_experience e"""
_HAS_FEEDBACK = "(e.added_feedback OR EXISTS (SELECT 1 FROM cc_feedback f WHERE f.query_id = e.query_id))"
_HAS_EVALUATION = "(e.added_rich OR EXISTS (SELECT 1 FROM cc_feedback f WHERE f.query_id = e.query_id AND f.rich))"
_HAS_SIGNALS = (
    "(e.added_reported OR e.added_rephrased OR EXISTS "
    "(SELECT 1 FROM cc_signals s WHERE s.query_id = e.query_id AND (s.reported OR s.rephrased)))"
)


class PostgresExperienceStore:
    """``ExperienceBuffer``'s interface over the shared tables (see the module docstring)."""

    def __init__(self, url: str, *, capacity: int = 200_000):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.url = url
        self.capacity = capacity

    @property
    def location(self) -> str:
        return self.url

    def _conn(self):
        ensure_schema(self.url, "experiences", SCHEMA)
        return pool(self.url).connection()

    # -- writing ---------------------------------------------------------------

    def add(self, experience: Experience) -> None:
        """Store a new experience (a second add of the same ``query_id`` changes nothing)."""
        record = experience.to_dict()
        feedback, signals = experience.feedback, experience.signals
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            row = conn.execute(
                """INSERT INTO cc_experience
                   SELECT coalesce(max(seq), 0) + 1, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM cc_experience
                   ON CONFLICT (query_id) DO NOTHING RETURNING seq""",
                (
                    experience.query_id,
                    experience.created_at,
                    experience.asked_by,
                    feedback is not None,
                    feedback is not None and feedback.is_rich,
                    feedback.source if feedback is not None and feedback.is_rich else None,
                    signals is not None and signals.reported_at is not None,
                    signals is not None and signals.rephrased,
                    Jsonb(record),
                ),
            ).fetchone()
            if row is not None and row[0] > self.capacity:
                self._evict(conn, below=row[0] - self.capacity + 1)

    def update_feedback(self, query_id: str, feedback: Feedback) -> Experience:
        """Attach ``feedback`` (its ``feedback_id`` once: a retry is a no-op; None: always new); returns the record."""
        with self._conn() as conn:
            with self._writing_to(conn, query_id):
                conn.execute(
                    """INSERT INTO cc_feedback (feedback_id, query_id, rich, source, record)
                       VALUES (%s, %s, %s, %s, %s) ON CONFLICT (query_id, feedback_id) DO NOTHING""",
                    (
                        feedback.feedback_id or uuid.uuid4().hex,
                        query_id,
                        feedback.is_rich,
                        feedback.source,
                        Jsonb(feedback.to_dict()),
                    ),
                )
            return self._get(conn, query_id)

    def record_signals(self, query_id: str, signals: ImplicitSignals) -> Experience:
        """Attach ``signals`` (a console report replaces the earlier one; ``rephrased`` stays once set)."""
        with self._conn() as conn:
            with self._writing_to(conn, query_id):
                conn.execute(
                    "INSERT INTO cc_signals (query_id, reported, rephrased, record) VALUES (%s, %s, %s, %s)",
                    (query_id, signals.reported_at is not None, signals.rephrased, Jsonb(signals.to_dict())),
                )
            return self._get(conn, query_id)

    def compact(self) -> None:
        """Drop superseded signals reports, and evict beyond ``capacity``."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            newest = conn.execute("SELECT max(seq) FROM cc_experience").fetchone()[0]
            if newest is not None and newest > self.capacity:
                self._evict(conn, below=newest - self.capacity + 1)
            conn.execute(
                """DELETE FROM cc_signals s WHERE NOT s.rephrased AND EXISTS (
                       SELECT 1 FROM cc_signals t WHERE t.query_id = s.query_id AND t.reported AND t.id > s.id)"""
            )

    @contextmanager
    def _writing_to(self, conn, query_id: str) -> Iterator[None]:
        """A transaction holding the write lock, on an experience the store holds (else ``ExperienceNotFound``)."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            if not self._exists(conn, query_id):
                raise ExperienceNotFound(query_id)
            yield

    @staticmethod
    def _evict(conn, *, below: int) -> None:
        """Delete the experiences numbered below ``below``, with their feedback and signals (we hold the lock)."""
        conn.execute(
            # = ANY(ARRAY(...)), not IN (...): between two ANALYZEs the planner thinks thousands of rows are gone
            # and scans all feedback for them (5 ms and growing, bench/experience_store.py); an array of the one
            # or two ids gone is always an index lookup.
            """WITH gone AS (DELETE FROM cc_experience WHERE seq < %s RETURNING query_id),
                    f AS (DELETE FROM cc_feedback WHERE query_id = ANY (ARRAY (SELECT query_id FROM gone)))
               DELETE FROM cc_signals WHERE query_id = ANY (ARRAY (SELECT query_id FROM gone))""",
            (below,),
        )

    # -- reading ---------------------------------------------------------------

    def get(self, query_id: str) -> Experience:
        with self._conn() as conn:
            return self._get(conn, query_id)

    def __contains__(self, query_id: str) -> bool:
        with self._conn() as conn:
            return self._exists(conn, query_id)

    def __len__(self) -> int:
        with self._conn() as conn:
            return self._size(conn)

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
        where, params = ["TRUE"], []
        for flag, condition in ((has_feedback, _HAS_FEEDBACK), (has_evaluation, _HAS_EVALUATION)):
            if flag is not None:
                where.append(condition if flag else f"NOT {condition}")
        if has_signals is not None:
            where.append(_HAS_SIGNALS if has_signals else f"NOT {_HAS_SIGNALS}")
        if since is not None:
            where.append("e.created_at >= %s")
            params.append(since)
        if asked_by is not None:
            where.append("e.asked_by = %s")
            params.append(asked_by)
        order = "DESC" if newest_first else "ASC"
        query = f"{_FOLDED} WHERE {' AND '.join(where)} ORDER BY e.seq {order} LIMIT %s"
        with self._conn() as conn:
            return [_fold(*row) for row in conn.execute(query, (*params, limit))]

    def created_times(self, *, since: datetime | None = None) -> list[datetime]:
        """When each experience created at or after ``since`` was created, in the order they were added."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT created_at FROM cc_experience WHERE %s::timestamptz IS NULL OR created_at >= %s ORDER BY seq",
                (since, since),
            )
            return [row[0] for row in rows]

    def iter_all(self, batch: int = 500) -> Iterator[Experience]:
        """Every experience, oldest first, read a batch at a time (no connection is held between items)."""
        after = 0
        while True:
            with self._conn() as conn:
                rows = conn.execute(f"{_FOLDED} WHERE e.seq > %s ORDER BY e.seq LIMIT %s", (after, batch)).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield from (_fold(*row) for row in rows)

    def stats(self) -> BufferStats:
        with self._conn() as conn:
            size = self._size(conn)  # on this connection: a second from the pool could wait on callers like us
            with_feedback = conn.execute(f"SELECT count(*) FROM cc_experience e WHERE {_HAS_FEEDBACK}").fetchone()[0]
            sources = dict(
                conn.execute(
                    """WITH rich AS (SELECT DISTINCT ON (query_id) query_id, source FROM cc_feedback WHERE rich
                                     ORDER BY query_id, id DESC)
                       SELECT source, count(*) FROM (
                           SELECT source FROM rich
                           UNION ALL
                           SELECT e.added_source FROM cc_experience e
                           WHERE e.added_rich AND NOT EXISTS (SELECT 1 FROM rich r WHERE r.query_id = e.query_id)
                       ) x GROUP BY source ORDER BY source"""
                ).fetchall()
            )
            stored = conn.execute(
                "SELECT sum(pg_total_relation_size(t)) FROM unnest(%s::regclass[]) t",
                (["cc_experience", "cc_feedback", "cc_signals"],),
            ).fetchone()[0]
        return BufferStats(
            size=size,
            with_feedback=with_feedback,
            with_evaluation=sum(sources.values()),
            journal_bytes=int(stored or 0),
            evaluations_by_source=sources,
        )

    def feedback_cursor(self) -> int:
        """The number of the newest feedback row (see :meth:`feedback_since`)."""
        return self._newest("cc_feedback")

    def feedback_since(self, cursor: int) -> tuple[list[str], int]:
        """Query ids that got feedback after row ``cursor`` (from any host), oldest first, and the new cursor."""
        return self._since("cc_feedback", cursor)

    def signals_cursor(self) -> int:
        return self._newest("cc_signals")

    def signals_since(self, cursor: int) -> tuple[list[str], int]:
        return self._since("cc_signals", cursor)

    def signals_stats(self) -> SignalsStats:
        """How the held answers were used: each one's newest console report and whether it was rephrased."""
        with self._conn() as conn:
            per_answer = """
                WITH rows AS (
                    SELECT query_id, id, record, reported, rephrased FROM cc_signals
                    UNION ALL
                    SELECT query_id, 0, record -> 'signals', added_reported, added_rephrased FROM cc_experience
                    WHERE added_reported OR added_rephrased)
                SELECT query_id, bool_or(rephrased) AS rephrased,
                       (array_agg(record ORDER BY id DESC) FILTER (WHERE reported))[1] AS report
                FROM rows GROUP BY query_id"""
            answers, reported, rephrased, waits, wait_sum = conn.execute(
                f"""SELECT count(*) FILTER (WHERE report IS NOT NULL OR rephrased), count(report),
                           count(*) FILTER (WHERE rephrased),
                           count(report -> 'next_question_after_ms') FILTER
                               (WHERE jsonb_typeof(report -> 'next_question_after_ms') = 'number'),
                           sum((report ->> 'next_question_after_ms')::float8)
                    FROM ({per_answer}) a"""
            ).fetchone()
            by_type = conn.execute(
                f"""SELECT w ->> 'widget_type', count(*), sum((w ->> 'visible_ms')::float8)
                    FROM ({per_answer}) a, jsonb_array_elements(a.report -> 'widgets') w
                    WHERE a.report IS NOT NULL GROUP BY 1 ORDER BY 1"""
            ).fetchall()
        count = sum(n for _, n, _ in by_type)
        total = sum(s for _, _, s in by_type)
        return SignalsStats(
            answers=answers,
            reported=reported,
            rephrased=rephrased,
            widgets_reported=count,
            mean_visible_ms=round(total / count, 1) if count else None,
            mean_visible_ms_by_type={t: round(s / n, 1) for t, n, s in by_type},
            mean_next_question_after_ms=round(wait_sum / waits, 1) if waits else None,
        )

    # -- helpers ---------------------------------------------------------------

    @staticmethod
    def _size(conn) -> int:
        low, high = conn.execute("SELECT min(seq), max(seq) FROM cc_experience").fetchone()
        return 0 if low is None else high - low + 1  # seq has no gaps (see the module docstring)

    @staticmethod
    def _exists(conn, query_id: str) -> bool:
        return conn.execute("SELECT 1 FROM cc_experience WHERE query_id = %s", (query_id,)).fetchone() is not None

    @staticmethod
    def _get(conn, query_id: str) -> Experience:
        row = conn.execute(f"{_FOLDED} WHERE e.query_id = %s", (query_id,)).fetchone()
        if row is None:
            raise ExperienceNotFound(query_id)
        return _fold(*row)

    def _newest(self, table: str) -> int:
        with self._conn() as conn:
            return conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]

    def _since(self, table: str, cursor: int) -> tuple[list[str], int]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT id, query_id FROM {table} WHERE id > %s ORDER BY id LIMIT 100000", (cursor,)
            ).fetchall()
        return [query_id for _, query_id in rows], (rows[-1][0] if rows else cursor)


def _fold(_seq: int, record: dict, feedback_rows: list[dict], report: dict | None, rephrased: bool) -> Experience:
    """One row of ``_FOLDED`` as the experience, folded as the journal folds its lines."""
    return fold(
        Experience.from_dict(record),
        feedback=(Feedback.from_dict(row) for row in feedback_rows),
        report=ImplicitSignals.from_dict(report) if report is not None else None,
        rephrased=rephrased,
    )
