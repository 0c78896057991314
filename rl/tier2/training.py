"""One Tier 2 run, start to finish: data, LoRA training, evaluation against the serving adapter, the gate.

Used by ``train_dpo``, ``train_from_live_feedback`` and the background
trainer that ``approve-training`` starts (``run_now``: the run under the
training lock, reporting to the status every worker reads). The run trains into a staging
folder, evaluates the new adapter and the one serving now on the same
held-out pairs and the same fresh questions (held-out answers, planned
again under the plan grammar and scored by the offline judge and any other
scorer given), files the adapter as a new version with its metadata, and
promotes it only if :func:`rl.tier2.dpo.beats` says so. Anything that fails
before the last step leaves the serving adapter and the version list as
they were.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from layer2.planning.llm_planner import load_planner
from rl.experiences.buffer import get_experience_buffer
from rl.tier2.adapters import AdapterRecord, Registry, get_registry
from rl.tier2.dpo import Tier2Config, beats, evaluate, train_adapter
from rl.tier2.jobs import get_training_status
from rl.tier2.plan_quality import PlanScorer, held_out_questions, offline_judge_scorer
from rl.tier2.preference_data import PreferenceData, data_from_buffer, data_from_widget_ratings
from rl.tier2.run_status import TrainingStatus

logger = logging.getLogger(__name__)


class NotEnoughData(ValueError):
    def __init__(self, pairs: int, needed: int):
        super().__init__(f"{pairs} preference pairs, {needed} needed: collect more rated answers first")
        self.pairs, self.needed = pairs, needed


def run_training(
    *,
    data: PreferenceData,
    registry: Registry,
    model_path: Path,
    config: Tier2Config,
    min_pairs: int = 0,
    approved_by: str = "",
    questions: list | None = None,
    scorers: list[PlanScorer] | None = None,
    on_progress: Callable[[dict], None] | None = None,
    progress_bar: bool = False,
) -> AdapterRecord:
    """Train, evaluate, file and (if it beats the serving adapter) promote; returns the new version's record.

    ``questions`` are the fresh questions the gate plans (held-out experiences: ``held_out_questions``), scored by
    ``scorers`` (default: the offline judge alone).
    """
    if data.pairs < min_pairs:
        raise NotEnoughData(data.pairs, min_pairs)
    version = registry.next_version()
    staging = registry.staging(version)
    logger.info("Tier 2 %s: training on %s", version, data.counts())
    result = train_adapter(
        model_path=model_path, data=data, out=staging, config=config, on_progress=on_progress, progress_bar=progress_bar
    )
    _notify(on_progress, {"phase": "evaluating"})
    incumbent = registry.active()
    judged = dict(data=data, config=config, questions=questions or [], scorers=scorers or [offline_judge_scorer()])
    candidate_metrics = _evaluate(model_path=model_path, adapter=staging, **judged)
    incumbent_metrics = _evaluate(model_path=model_path, adapter=registry.active_path(), **judged)
    promoted, decision = (
        beats(candidate=candidate_metrics, incumbent=incumbent_metrics)
        if data.held_out
        else (False, "kept, not promoted: no held-out pairs to judge it on")
    )
    record = AdapterRecord(
        version=version,
        created_at=timezone.now(),
        method=result.method,
        base_model=str(model_path),
        data=data.counts(),
        hyperparameters=asdict(config),
        metrics={"candidate": candidate_metrics.summary(), "incumbent": incumbent_metrics.summary()},
        incumbent=incumbent,
        promoted=promoted,
        decision=decision,
        training_seconds=result.seconds,
        extra={
            "approved_by": approved_by,
            "steps": result.steps,
            "final_loss": result.final_loss,
            "tokens": result.tokens,
        },
    )
    registry.add(staging, record)
    if promoted:
        registry.promote(version)
    logger.info("Tier 2 %s: %s", version, decision)
    return record


def _evaluate(*, model_path: Path, adapter: Path | None, data: PreferenceData, config: Tier2Config, questions, scorers):
    """Held-out figures of the base model with ``adapter`` (None: the base model alone)."""
    model, tokenizer = load_planner(model_path=model_path, adapter_path=adapter)
    return evaluate(model=model, tokenizer=tokenizer, pairs=data.held_out, beta=config.beta, questions=questions,
                    scorers=scorers)  # fmt: skip


def _notify(on_progress, update: dict) -> None:
    if on_progress is not None:
        on_progress(update)


class TrainingBusy(RuntimeError):
    """Another Tier 2 run holds the training lock (one run at a time, across processes)."""


def run_now(
    *,
    source: str,
    config: Tier2Config,
    approved_by: str = "",
    run_id: str | None = None,
    min_pairs: int = 0,
    progress_bar: bool = True,
) -> AdapterRecord:
    """One Tier 2 run in this process, holding the training lock, reporting to the run's status (``training.json``,
    or the shared table with ``EXPERIENCE_STORE_URL``).

    ``source`` is ``buffer`` (the experience journal) or ``ratings`` (the
    ``WidgetRating`` rows: the live-feedback bridge). Returns the new
    adapter's record; raises ``TrainingBusy`` if another run holds the lock
    and ``NotEnoughData`` below ``min_pairs``.
    """
    status = get_training_status()
    lock = status.run_lock()
    if not lock.try_acquire():
        lock.release()  # its connection, with the shared lock
        raise TrainingBusy("another Tier 2 training run holds the lock; wait for it to finish")
    run_id = run_id or uuid.uuid4().hex[:12]
    try:
        status.start(
            state="training",
            phase="collecting data",
            run_id=run_id,
            pid=os.getpid(),
            method=config.method,
            approved_by=approved_by,
            started_at=timezone.now().isoformat(),
        )
        buffer = get_experience_buffer()
        data = data_from_widget_ratings(buffer) if source == "ratings" else data_from_buffer(buffer)
        status.write(phase="training", data=data.counts())
        record = run_training(
            data=data,
            registry=get_registry(),
            model_path=Path(settings.PLANNER_MODEL_PATH),
            config=config,
            min_pairs=min_pairs,
            approved_by=approved_by,
            questions=held_out_questions(data=data, buffer=buffer),
            on_progress=_throttled(status),
            progress_bar=progress_bar,
        )
        # Before the lock goes: with the shared lock, a run without it and unfinished reads as failed.
        status.write(
            state="done",
            phase="done",
            version=record.version,
            promoted=record.promoted,
            decision=record.decision,
            finished_at=timezone.now().isoformat(),
        )
    except BaseException as error:
        status.write(state="failed", error=f"{type(error).__name__}: {error}", finished_at=timezone.now().isoformat())
        raise
    finally:
        lock.release()
    return record


def _throttled(status: TrainingStatus, every_s: float = 1.0):
    """Progress into the run's status at most once a second (each write is an fsync or a commit)."""
    last = [0.0]

    def update(progress: dict) -> None:
        now = time.monotonic()
        if "phase" in progress:
            status.write(state=progress["phase"], phase=progress["phase"])
        elif now - last[0] >= every_s or progress.get("step") == progress.get("max_steps"):
            last[0] = now
            status.write(progress=progress)

    return update
