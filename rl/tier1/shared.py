"""Tier 1 across several hosts: the leader's lock and its checkpoints in the shared PostgreSQL.

Chosen by ``start_service`` when ``EXPERIENCE_STORE_URL`` is set; the same interface as one host's files
(``rl/tier1/coordination.py``). Every worker of every host competes for one advisory lock
(``rl/experiences/postgres.AdvisoryLock``): PostgreSQL drops it when the leader's process dies or its host
falls off the network, and a worker elsewhere takes it on its next poll. Tables (``ensure_schema``):

* ``cc_tier1_checkpoints``: the newest few checkpoints (``KEEP``), each the bytes a checkpoint file holds
  (digest included, verified on load: a corrupt row is skipped as a corrupt file is), the host that saved it,
  and the feedback cursor its weights have learned up to: the shared store's feedback row number, the same
  for every host, so a new leader resumes exactly where the last save left off.
* ``cc_tier1_leader``: one row, who leads (host, pid, since), for ``rl-status`` on every host.
"""

from __future__ import annotations

import logging

from rl.experiences.postgres import AdvisoryLock, ensure_schema, pool
from rl.tier1.coordination import CheckpointInfo, LoadedCheckpoint

logger = logging.getLogger(__name__)

LEADER_LOCK = "tier1:leader"
KEEP = 5

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cc_tier1_checkpoints (
        id bigserial PRIMARY KEY,
        step bigint NOT NULL,
        host text NOT NULL,
        feedback_cursor bigint NOT NULL,
        payload bytea NOT NULL,
        saved_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS cc_tier1_leader (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        host text NOT NULL,
        pid integer NOT NULL,
        since timestamptz NOT NULL DEFAULT now())""",
)


class SharedCoordination:
    """``FileCoordination``'s interface over an advisory lock and the tables above."""

    where = "postgresql"

    def __init__(self, url: str, *, host: str):
        self.url = url
        self.host = host
        self._lock = AdvisoryLock(url, LEADER_LOCK)

    def _conn(self):
        ensure_schema(self.url, "tier1", SCHEMA)
        return pool(self.url).connection()

    # -- leading ---------------------------------------------------------------

    def try_lead(self) -> bool:
        return self._lock.try_acquire()

    def still_leading(self) -> bool:
        return self._lock.held()  # False once the lock's connection is lost: someone else may lead by now

    def resign(self) -> None:
        self._lock.release()

    def record_leader(self, *, host: str, pid: int) -> None:
        with self._conn() as conn:
            conn.execute(
                """INSERT INTO cc_tier1_leader (host, pid) VALUES (%s, %s)
                   ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, since = now()""",
                (host, pid),
            )

    def leader(self) -> dict:
        """Who took the lead last (it may have died since; the next leader writes itself here on taking the lock)."""
        with self._conn() as conn:
            row = conn.execute("SELECT host, pid, extract(epoch FROM since) FROM cc_tier1_leader").fetchone()
        return {"host": row[0], "pid": row[1], "since": float(row[2])} if row else {}

    # -- checkpoints -------------------------------------------------------------

    def save(self, state: dict, *, feedback_cursor: int) -> CheckpointInfo:
        from rl.tier1.scorer import pack_checkpoint

        payload = pack_checkpoint(state)
        with self._conn() as conn, conn.transaction():
            ident, saved_at = conn.execute(
                """INSERT INTO cc_tier1_checkpoints (step, host, feedback_cursor, payload) VALUES (%s, %s, %s, %s)
                   RETURNING id, extract(epoch FROM saved_at)""",
                (state["step"], self.host, feedback_cursor, payload),
            ).fetchone()
            conn.execute(
                "DELETE FROM cc_tier1_checkpoints WHERE id <= (SELECT id FROM cc_tier1_checkpoints "
                "ORDER BY id DESC OFFSET %s LIMIT 1)",
                (KEEP,),
            )
        return CheckpointInfo(_name(ident, state["step"]), float(saved_at))

    def newest(self) -> CheckpointInfo | None:
        """The newest checkpoint's name (followers ask every poll: one indexed row, no payload)."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT id, step, extract(epoch FROM saved_at) FROM cc_tier1_checkpoints ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return CheckpointInfo(_name(row[0], row[1]), float(row[2])) if row else None

    def load_latest(self) -> LoadedCheckpoint | None:
        """The newest checkpoint whose digest verifies and which loads, or None."""
        from rl.tier1.scorer import unpack_checkpoint

        with self._conn() as conn:
            rows = conn.execute(
                "SELECT id, step, feedback_cursor, payload FROM cc_tier1_checkpoints ORDER BY id DESC"
            ).fetchall()
        for ident, step, cursor, payload in rows:
            try:
                return LoadedCheckpoint(unpack_checkpoint(bytes(payload)), _name(ident, step), feedback_cursor=cursor)
            except (ValueError, RuntimeError, EOFError) as error:
                logger.warning("tier1: skipping bad checkpoint %s (%s)", _name(ident, step), error)
        return None


def _name(ident: int, step: int) -> str:
    return f"tier1-{step:010d}-{ident}"
