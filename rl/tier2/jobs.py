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

With ``EXPERIENCE_STORE_URL`` set (several hosts), ``get_training_status``
returns the shared version (``rl/tier2/shared.py``): the status in a table,
both locks PostgreSQL advisory locks, and a run alive while its trainer
holds the training lock, whichever host it runs on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from rl.experiences.postgres import shared_store_url
from rl.tier2.run_status import ACTIVE_STATES, TrainingStatus
from rl.tier2.shared import SharedTrainingStatus


class TrainingRefused(Exception):
    """Approval that cannot start a run (no planner model, too few pairs, a run in progress): HTTP 409.

    ``body`` is the approval's answer as the API returns it, ``started: false`` and the reason in ``detail``.
    """

    def __init__(self, body: dict):
        super().__init__(body["detail"])
        self.body = body


def get_training_status() -> TrainingStatus:
    """This deployment's run status and locks, chosen once here: the planner folder's files, or with
    ``EXPERIENCE_STORE_URL`` the table and advisory locks every host shares."""
    url = shared_store_url()
    if url:
        return SharedTrainingStatus(url, host=settings.CC_HOST_ID)
    return TrainingStatus(Path(settings.PLANNER_DIR))


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
    status = get_training_status()
    root.mkdir(parents=True, exist_ok=True)  # the run's log goes here
    with status.approval():
        current = status.read()
        if current["state"] in ACTIVE_STATES or status.running():
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
