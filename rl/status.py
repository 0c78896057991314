"""What ``/api/layer2/rl-status/`` reports and what approving Tier 2 training does.

Tier 1 reports from this worker's service (and off-policy estimates over the
newest rated answers). Tier 2 reports the preference data available (by
source), the adapters and which one serves, and the current or last
training run with its progress, loss and ETA, as any worker sees them.

The staff's learning view reads ``learning-history`` (feedback and rewards
over time, Tier 1's loss and reward trend) and promotes or rolls back the
planner's adapters (``planner-adapters``) through the functions at the end.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from django.conf import settings

from rl.experiences.buffer import get_experience_buffer
from rl.experiences.history import FeedbackWindow, feedback_window, recent_feedback, reward_trend
from rl.experiences.records import Experience
from rl.experiences.reward import plan_reward
from rl.tier1.service import current_service
from rl.tier2.adapters import AdapterRecord, get_registry
from rl.tier2.jobs import approve, get_training_status
from rl.tier2.preference_data import data_from_buffer

logger = logging.getLogger(__name__)
OPE_SAMPLE = 500  # newest experiences with feedback used for the off-policy estimates

_pair_counts: tuple[tuple, dict] | None = None  # ((journal, feedback cursor), counts): rebuilt on new feedback


def rl_status(*, include_paths: bool = True) -> dict:
    """The status; ``include_paths=False`` (non-staff callers) replaces every server path in it with "…"."""
    buffer = get_experience_buffer()
    status = {"buffer": asdict(buffer.stats()), "tier1": _tier1(buffer), "tier2": _tier2(buffer)}
    status["signals"] = signals_summary(buffer)
    return status if include_paths else _without_paths(status)


_signals_summary: tuple[tuple, dict] | None = None  # ((journal, signals cursor), summary): rebuilt on new signals


def signals_summary(buffer) -> dict:
    """How answers were used (``ExperienceBuffer.signals_stats``) and the weight Tier 1 learns them with;
    recomputed only when new signals have arrived."""
    global _signals_summary

    key = (buffer.location, buffer.signals_cursor())
    if _signals_summary is None or _signals_summary[0] != key:
        _signals_summary = (key, asdict(buffer.signals_stats()))
    service = current_service()
    weight = service.config.implicit_weight if service is not None else settings.TIER1_IMPLICIT_WEIGHT
    return {**_signals_summary[1], "implicit_weight": weight, "learned": service is not None and weight > 0}


# An absolute path inside any text (a field, or an error message quoting one); "m3/h" and "up/down" are not paths.
_PATH = re.compile(r"(?<![\w.~/])/[\w.@+~-]+(?:/[\w.@+~-]*)*")


def _without_paths(value):
    if isinstance(value, str):
        return _PATH.sub("…", value)
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_paths(v) for v in value]
    return value


def _tier1(buffer) -> dict:
    service = current_service()
    if service is None:
        return _tier1_off()
    from rl.tier1.off_policy import estimate  # torch: loaded only where Tier 1 runs

    rated = buffer.list(has_feedback=True, limit=OPE_SAMPLE, newest_first=True)
    return {**service.status(), "off_policy": asdict(estimate(learner=service.learner, experiences=rated))}


def _tier1_off() -> dict:
    detail = "off (ENABLE_CONTINUOUS_RL=false): the rule ranking serves"
    return {"available": False, "enabled": settings.ENABLE_CONTINUOUS_RL, "detail": detail}


def _tier2(buffer) -> dict:
    registry = get_registry()
    model = Path(settings.PLANNER_MODEL_PATH)
    versions = registry.versions()
    return {
        "available": (model / "config.json").is_file(),
        "planner_model": str(model),
        "serving_adapter": registry.active(),
        "adapters": [_adapter(r) for r in versions[-5:]],
        "adapter_count": len(versions),
        "data": pair_counts(buffer),
        "min_pairs": settings.TIER2_MIN_PAIRS,
        "training": get_training_status().read(),
    }


def _adapter(record: AdapterRecord) -> dict:
    return {
        "version": record.version,
        "method": record.method,
        "promoted": record.promoted,
        "decision": record.decision,
        "metrics": record.metrics.get("candidate", {}),
        "created_at": record.created_at.isoformat(),
    }


def pair_counts(buffer) -> dict:
    """Preference data counts by source, recomputed only when new feedback has arrived."""
    global _pair_counts

    key = (buffer.location, buffer.feedback_cursor())
    if _pair_counts is None or _pair_counts[0] != key:
        _pair_counts = (key, data_from_buffer(buffer).counts())
    return _pair_counts[1]


def approve_training(*, method: str, approved_by: str) -> dict:
    """Start the background Tier 2 trainer; raises ``TrainingRefused`` saying why not."""
    pairs = pair_counts(get_experience_buffer())["pairs"]
    return approve(method=method, approved_by=approved_by, pairs=pairs, min_pairs=settings.TIER2_MIN_PAIRS)


# --------------------------------------------------------------------------- the learning view

RECENT_FEEDBACK = 20  # answers in learning-history's recent_feedback
LOSS_POINT_UPDATES = 20  # Tier 1 updates averaged into one point of its loss_history


def learning_history(*, bucket: str, hours: int, now: datetime) -> dict:
    """Answers, ratings and rewards per ``bucket`` over the ``hours`` before ``now`` (``rl/experiences/history.py``),
    the answers rated last (with the asker's user id, ``asked_by``), and this worker's Tier 1 loss and reward trend."""
    buffer = get_experience_buffer()
    window = feedback_window(buffer=buffer, now=now, hours=hours, bucket=bucket)
    return {
        "bucket": bucket,
        "hours": hours,
        "since": window.since,
        "until": window.until,
        "buckets": [asdict(b) for b in window.buckets],
        "recent_feedback": [_rated(e) for e in recent_feedback(buffer=buffer, limit=RECENT_FEEDBACK)],
        "tier1": _tier1_history(window),
    }


def _rated(experience: Experience) -> dict:
    feedback = experience.feedback
    return {
        "query_id": experience.query_id,
        "transcript": experience.transcript,
        "created_at": experience.created_at,
        "asked_by": experience.asked_by,
        "rating": feedback.rating,
        "source": feedback.source,
        "has_evaluation": experience.has_evaluation,
        "reward": plan_reward(feedback),
        "received_at": feedback.received_at,
    }


def _tier1_history(window: FeedbackWindow) -> dict:
    service = current_service()
    if service is None:
        return _tier1_off()
    learner = service.learner
    return {
        "available": True,
        "steps": learner.step,
        "loss_history": [{"step": s, "loss": loss} for s, loss in learner.loss_history(every=LOSS_POINT_UPDATES)],
        "reward_trend": [asdict(p) for p in reward_trend(window, where=lambda e: e.ranker == "tier1")],
    }


# --------------------------------------------------------------------------- promotion and rollback


def planner_adapters() -> dict:
    """The adapter registry now: what serves, its promotion history (newest last), every version, and whether a
    rollback has anything to go back to."""
    registry = get_registry()
    serving, history = registry.active(), registry.history()
    return {
        "serving_adapter": serving,
        "history": history,
        "can_roll_back": bool(history),
        "adapters": [_adapter(r) for r in registry.versions()],
        "detail": _serving_detail(serving),
    }


def promote_adapter(*, version: str, by: str) -> dict:
    """Serve ``version`` (any version, one the gate kept too); raises ``UnknownAdapter``. Logged with ``by``."""
    get_registry().promote(version)
    logger.info("planner adapter %s promoted by %s", version, by)
    return planner_adapters()


def rollback_adapter(*, by: str) -> dict:
    """Serve the version that served before the active one, or the base model; raises ``NothingToRollBack``."""
    serving = get_registry().rollback()
    logger.info("planner adapters rolled back by %s: %s serves", by, serving or "the base model alone")
    return planner_adapters()


def _serving_detail(serving: str | None) -> str:
    """What serving the registry's choice means on this server (``layer2/services.py`` builds the planner)."""
    what = f"adapter {serving}" if serving else "the base model alone"
    if settings.PLANNER_BACKEND != "llm":
        return f"the rule ranking serves (PLANNER_BACKEND={settings.PLANNER_BACKEND}); with llm, {what} would"
    if settings.PLANNER_ADAPTER_PATH:
        return f"PLANNER_ADAPTER_PATH pins the adapter this server serves; the registry says {what}"
    return f"every worker's planner serves {what} from its next question"
