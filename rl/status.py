"""What ``/api/layer2/rl-status/`` reports and what approving Tier 2 training does.

Tier 1 reports from this worker's service (and off-policy estimates over the
newest rated answers). Tier 2 reports the preference data available (by
source), the adapters and which one serves, and the current or last
training run with its progress, loss and ETA, as any worker sees them.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from django.conf import settings

from rl.experiences.buffer import get_experience_buffer
from rl.tier1.service import current_service
from rl.tier2.adapters import get_registry
from rl.tier2.jobs import TrainingStatus, approve
from rl.tier2.preference_data import data_from_buffer

OPE_SAMPLE = 500  # newest experiences with feedback used for the off-policy estimates

_pair_counts: tuple[tuple, dict] | None = None  # ((journal, feedback cursor), counts): rebuilt on new feedback


def rl_status(*, include_paths: bool = True) -> dict:
    """The status; ``include_paths=False`` (non-staff callers) replaces every server path in it with "…"."""
    buffer = get_experience_buffer()
    status = {"buffer": asdict(buffer.stats()), "tier1": _tier1(buffer), "tier2": _tier2(buffer)}
    return status if include_paths else _without_paths(status)


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
        detail = "off (ENABLE_CONTINUOUS_RL=false): the rule ranking serves"
        return {"available": False, "enabled": settings.ENABLE_CONTINUOUS_RL, "detail": detail}
    from rl.tier1.off_policy import estimate  # torch: loaded only where Tier 1 runs

    rated = buffer.list(has_feedback=True, limit=OPE_SAMPLE, newest_first=True)
    return {**service.status(), "off_policy": asdict(estimate(learner=service.learner, experiences=rated))}


def _tier2(buffer) -> dict:
    registry = get_registry()
    model = Path(settings.PLANNER_MODEL_PATH)
    versions = registry.versions()
    return {
        "available": (model / "config.json").is_file(),
        "planner_model": str(model),
        "serving_adapter": registry.active(),
        "adapters": [
            {
                "version": r.version,
                "method": r.method,
                "promoted": r.promoted,
                "decision": r.decision,
                "metrics": r.metrics.get("candidate", {}),
                "created_at": r.created_at.isoformat(),
            }
            for r in versions[-5:]
        ],
        "adapter_count": len(versions),
        "data": pair_counts(buffer),
        "min_pairs": settings.TIER2_MIN_PAIRS,
        "training": TrainingStatus(settings.PLANNER_DIR).read(),
    }


def pair_counts(buffer) -> dict:
    """Preference data counts by source, recomputed only when new feedback has arrived."""
    global _pair_counts

    key = (str(buffer.path), buffer.feedback_cursor())
    if _pair_counts is None or _pair_counts[0] != key:
        _pair_counts = (key, data_from_buffer(buffer).counts())
    return _pair_counts[1]


def approve_training(*, method: str, approved_by: str) -> dict:
    """Start the background Tier 2 trainer; raises ``TrainingRefused`` saying why not."""
    pairs = pair_counts(get_experience_buffer())["pairs"]
    return approve(method=method, approved_by=approved_by, pairs=pairs, min_pairs=settings.TIER2_MIN_PAIRS)
