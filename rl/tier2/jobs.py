"""The background Tier 2 trainer: approval, one run at a time, and its status for ``rl-status``.

``approve`` (behind ``POST /api/layer2/approve-training/``) starts
``manage.py train_dpo`` as a separate process, so training never holds up
a gunicorn worker, survives worker restarts, and a crash in it cannot take
serving down. At most one run exists across every worker and the command
line:

- approval happens under ``approve.lock``; a run whose status says it is
  starting or training, from a live process, means 409;
- the trainer process holds ``training.lock`` for the whole run
  (``rl/tier2/training.py`` ``run_now``), so a ``train_dpo`` typed by hand
  is refused while one runs.

This module is what web workers read and write (approval, status); it
imports no training library. The run itself is ``rl/tier2/training.py``.

The run's progress (step, loss, ETA) goes to ``training.json``, replaced
atomically, which every worker reads for ``rl-status``. A trainer that died
without finishing is reported as failed; the serving adapter is untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from filelock import FileLock, Timeout

from rl.experiences.atomic_file import atomic_file

ACTIVE_STATES = ("starting", "training", "evaluating")


class TrainingRefused(Exception):
    """Approval that cannot start a run (no planner model, too few pairs, a run in progress): HTTP 409.

    ``body`` is the approval's answer as the API returns it, ``started: false`` and the reason in ``detail``.
    """

    def __init__(self, body: dict):
        super().__init__(body["detail"])
        self.body = body


class TrainingStatus:
    """``training.json``: the current or last Tier 2 run, as any process sees it."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / "training.json"

    def read(self) -> dict:
        state = self._raw() or {"state": "idle"}
        if state["state"] in ACTIVE_STATES and not process_alive(state.get("pid")):
            state = {**state, "state": "failed", "error": f"trainer process {state.get('pid')} ended unfinished"}
        return state

    def write(self, **fields) -> dict:
        """Update the run's status with ``fields``."""
        return self.start(**{**self._raw(), **fields})

    def start(self, **fields) -> dict:
        """A new run's status, replacing the last one's."""
        self.root.mkdir(parents=True, exist_ok=True)
        state = {**fields, "updated_at": timezone.now().isoformat()}
        with atomic_file(self.path) as f:
            f.write(json.dumps(state).encode())
        return state

    def _raw(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}


def training_lock(root: Path) -> FileLock:
    Path(root).mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(root) / "training.lock"))


def approve(*, method: str, approved_by: str, pairs: int, min_pairs: int) -> dict:
    """Start the background trainer if enough pairs exist and none runs; the approval's answer.

    Raises ``TrainingRefused`` (409) saying why when it cannot start.
    """
    root = Path(settings.PLANNER_DIR)
    base = {"method": method, "approved_by": approved_by, "pairs": pairs, "min_pairs": min_pairs}
    if not (Path(settings.PLANNER_MODEL_PATH) / "config.json").is_file():
        detail = (
            f"no planner model at {settings.PLANNER_MODEL_PATH}: build one with "
            "`python manage.py bootstrap_planner` (or set PLANNER_MODEL_PATH)"
        )
        raise TrainingRefused({**base, "started": False, "detail": detail})
    if pairs < min_pairs:
        detail = f"{pairs} preference pairs so far; training needs at least {min_pairs}"
        raise TrainingRefused({**base, "started": False, "detail": detail})
    status = TrainingStatus(root)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / "approve.lock")):
        current = status.read()
        if current["state"] in ACTIVE_STATES or _locked(root):
            detail = f"a training run is already in progress (run {current.get('run_id')}, {current['state']})"
            raise TrainingRefused({**base, "started": False, "detail": detail, "run_id": current.get("run_id")})
        run_id = uuid.uuid4().hex[:12]
        process = _spawn(method, approved_by, run_id, root)
        status.start(
            state="starting",
            run_id=run_id,
            pid=process.pid,
            method=method,
            approved_by=approved_by,
            started_at=timezone.now().isoformat(),
            pairs=pairs,
        )
    return {**base, "started": True, "run_id": run_id, "detail": "training started"}


def _spawn(method: str, approved_by: str, run_id: str, root: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        str(Path(settings.BASE_DIR) / "manage.py"),
        "train_dpo",
        "--method",
        method,
        "--approved-by",
        approved_by,
        "--run-id",
        run_id,
        "--no-progress",
    ]
    log = open(root / f"training-{run_id}.log", "ab")  # noqa: SIM115 (handed to the child, closed below)
    try:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=settings.BASE_DIR,
            env=os.environ.copy(),
        )
    finally:
        log.close()


def _locked(root: Path) -> bool:
    """True while some process holds the training lock (a run from the command line, say)."""
    lock = training_lock(root)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


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
