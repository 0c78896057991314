"""What ``/api/layer2/rl-status/`` reports and what approving training does, as far as they exist.

Tier 1 (online widget scorer) and Tier 2 (planner LoRA training) are built
by later work; until then this says so plainly rather than inventing figures.
"""

from __future__ import annotations

from dataclasses import asdict

from rl.experience_buffer import get_experience_buffer

MIN_PAIRS = 50


def rl_status() -> dict:
    stats = get_experience_buffer().stats()
    return {
        "buffer": asdict(stats),
        "tier1": {"available": False, "detail": "the online widget scorer is not built yet; the rule ranking serves"},
        "tier2": {"available": False, "detail": "planner preference training is not built yet"},
    }


def approve_training(method: str, approved_by: str) -> tuple[bool, dict]:
    """(started, body): nothing can start until the Tier 2 trainer exists."""
    return False, {
        "started": False,
        "detail": "Tier 2 training is not available in this build: no trainer is installed yet.",
        "method": method,
        "approved_by": approved_by,
        "min_pairs": MIN_PAIRS,
    }
