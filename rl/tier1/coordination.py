"""Who trains Tier 1 and where its checkpoints live: one host's files, or the database several hosts share.

``Tier1Service`` (``rl/tier1/service.py``) asks a coordination for four things: the leader's lock, the
record of who leads (for ``rl-status``), saving a checkpoint, and the newest good one. Two answer alike:

* :class:`FileCoordination` (one host, the default): ``<STATE_DIR>/tier1/`` holds ``leader.lock`` (a file
  lock every worker on the host competes for), ``leader.json`` and the checkpoint files
  (``rl/tier1/scorer.CheckpointStore``).
* ``SharedCoordination`` (``rl/tier1/shared.py``, with ``EXPERIENCE_STORE_URL``): an advisory lock and tables
  in the shared PostgreSQL, so one process leads across every host.

A checkpoint may carry the feedback cursor its weights have learned up to, when the store's cursors mean the
same thing in every process (the shared store's row numbers): a new leader then resumes there, and nothing
that reached the store after the last save is lost with the old leader. The journal's cursors are per process
(lines this process has indexed), so a file checkpoint carries none and a new leader starts from now, as before.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint as ``rl-status`` shows it, and as a follower tells a new one from the one it loaded."""

    name: str
    saved_at: float  # seconds since the epoch


@dataclass(frozen=True)
class LoadedCheckpoint:
    state: dict
    name: str
    feedback_cursor: int | None  # None: start from the store's cursor now (see the module docstring)


class Coordination(Protocol):
    """What the service needs to agree on with its peers. The lock methods are called from one thread."""

    where: str  # "files" or "postgresql", for rl-status

    def try_lead(self) -> bool: ...

    def still_leading(self) -> bool: ...

    def resign(self) -> None: ...

    def record_leader(self, *, host: str, pid: int) -> None: ...

    def leader(self) -> dict: ...

    def save(self, state: dict, *, feedback_cursor: int) -> CheckpointInfo: ...

    def newest(self) -> CheckpointInfo | None: ...

    def load_latest(self) -> LoadedCheckpoint | None: ...


class FileCoordination:
    """One host: a file lock, ``leader.json`` and checkpoint files under ``folder``."""

    where = "files"

    def __init__(self, folder: Path):
        from rl.tier1.scorer import CheckpointStore  # torch: imported by the service, not by every importer

        self.folder = Path(folder)
        self.checkpoints = CheckpointStore(self.folder)
        self._lock = FileLock(str(self.folder / "leader.lock"))
        self._leader_path = self.folder / "leader.json"

    def try_lead(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def still_leading(self) -> bool:
        return self._lock.is_locked  # a file lock is not taken away while its process lives

    def resign(self) -> None:
        self._lock.release()

    def record_leader(self, *, host: str, pid: int) -> None:
        self._leader_path.write_text(json.dumps({"host": host, "pid": pid, "since": time.time()}))

    def leader(self) -> dict:
        try:
            return json.loads(self._leader_path.read_text())
        except (OSError, ValueError):
            return {}

    def save(self, state: dict, *, feedback_cursor: int) -> CheckpointInfo:
        path = self.checkpoints.save(state)  # the journal's cursor means nothing to another process: not kept
        return CheckpointInfo(path.name, time.time())

    def newest(self) -> CheckpointInfo | None:
        for path in self.checkpoints.paths()[:1]:
            try:
                return CheckpointInfo(path.name, path.stat().st_mtime)
            except FileNotFoundError:
                return None  # pruned by the leader just now
        return None

    def load_latest(self) -> LoadedCheckpoint | None:
        found = self.checkpoints.load_latest()
        if found is None:
            return None
        state, path = found
        return LoadedCheckpoint(state, path.name, feedback_cursor=None)


def copy_newest_checkpoint(
    *, source: Coordination, target: Coordination, feedback_cursor: int
) -> CheckpointInfo | None:
    """Start ``target`` from ``source``'s newest good checkpoint, learned up to ``feedback_cursor`` of the target's
    store; nothing when ``target`` has a checkpoint already (a copy run again) or ``source`` has none good."""
    if target.newest() is not None:
        return None
    found = source.load_latest()
    if found is None:
        return None
    return target.save(found.state, feedback_cursor=feedback_cursor)
