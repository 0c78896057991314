"""A Tier 2 run's status and locks on one host: ``training.json``, ``training.lock``, ``approve.lock``.

The trainer process holds the training lock for the whole run; approval takes the approval lock to check
that none runs and start one. A run is alive while its trainer's pid is (pids mean something on this host only:
several hosts share the PostgreSQL version, ``rl/tier2/shared.py``, which subclasses this one).
"""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from django.utils import timezone
from filelock import FileLock, Timeout

from rl.experiences.atomic_file import atomic_file

ACTIVE_STATES = ("starting", "training", "evaluating")


class RunLock(Protocol):
    """Held by the trainer for a whole run: one run at a time."""

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


class TrainingStatus:
    """``training.json``: the current or last Tier 2 run, as any process sees it."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / "training.json"

    def read(self) -> dict:
        state = self._raw() or {"state": "idle"}
        if state["state"] in ACTIVE_STATES and not self._alive(state):
            state = {**state, "state": "failed", "error": self._ended(state)}
        return state

    def write(self, **fields) -> dict:
        """Update the run's status with ``fields``."""
        return self.start(**{**self._raw(), **fields})

    def start(self, **fields) -> dict:
        """A new run's status, replacing the last one's."""
        state = {**fields, "updated_at": timezone.now().isoformat()}
        self._save(state)
        return state

    def run_lock(self) -> RunLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileRunLock(FileLock(str(self.root / "training.lock")))

    def approval(self) -> AbstractContextManager:
        """Held while an approval checks that no run exists and starts one."""
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / "approve.lock"))

    def running(self) -> bool:
        """True while some process holds the training lock (a run from the command line, say)."""
        lock = self.run_lock()
        if not lock.try_acquire():
            return True
        lock.release()
        return False

    def _alive(self, state: dict) -> bool:
        return process_alive(state.get("pid"))

    def _ended(self, state: dict) -> str:
        return f"trainer process {state.get('pid')} ended unfinished"

    def _save(self, state: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.path) as f:
            f.write(json.dumps(state).encode())

    def _raw(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}


class FileRunLock:
    """``training.lock`` as a ``RunLock`` (never waits)."""

    def __init__(self, lock: FileLock):
        self._lock = lock

    def try_acquire(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        self._lock.release()


def process_alive(pid: int | None) -> bool:
    """Whether process ``pid`` still runs (a zombie does not count; our own finished child is reaped)."""
    if not pid:
        return False
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # exited; its parent (another worker) has not reaped it yet
    except (FileNotFoundError, IndexError):
        pass
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reaps our own finished child, which would linger as a zombie
        if finished:
            return False
    except ChildProcessError:
        pass  # not our child: another worker started it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
