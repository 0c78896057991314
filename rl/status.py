"""What ``/api/layer2/rl-status/`` reports and what approving training does.

Tier 1 reports from this worker's service (and off-policy estimates over the
newest rated answers). Tier 2 (planner LoRA training) is built by later
work; until then this says so plainly rather than inventing figures.
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings

from rl.continuous import current_service
from rl.experience_buffer import get_experience_buffer

MIN_PAIRS = 50
OPE_SAMPLE = 500  # newest experiences with feedback used for the off-policy estimates


def rl_status() -> dict:
    buffer = get_experience_buffer()
    return {"buffer": asdict(buffer.stats()), "tier1": _tier1(buffer), "tier2": {
        "available": False, "detail": "planner preference training is not built yet"}}  # fmt: skip


def _tier1(buffer) -> dict:
    service = current_service()
    if service is None:
        detail = "off (ENABLE_CONTINUOUS_RL=false): the rule ranking serves"
        return {"available": False, "enabled": settings.ENABLE_CONTINUOUS_RL, "detail": detail}
    from rl.off_policy import estimate

    rated = buffer.list(has_feedback=True, limit=OPE_SAMPLE, newest_first=True)
    return {**service.status(), "off_policy": asdict(estimate(service.learner, rated))}


def approve_training(method: str, approved_by: str) -> tuple[bool, dict]:
    """(started, body): nothing can start until the Tier 2 trainer exists."""
    return False, {
        "started": False,
        "detail": "Tier 2 training is not available in this build: no trainer is installed yet.",
        "method": method,
        "approved_by": approved_by,
        "min_pairs": MIN_PAIRS,
    }
