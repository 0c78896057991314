"""The process's orchestrator, built on first use (after any fork) from settings."""

from __future__ import annotations

import functools

from django.conf import settings

from industrial.timeseries_access import get_timeseries_access
from layer2.orchestrator import Orchestrator
from rl.continuous import current_service
from rl.experience_buffer import get_experience_buffer


@functools.cache
def get_orchestrator() -> Orchestrator:
    backend = None
    if settings.PLANNER_BACKEND == "llm":
        from layer2.llm_planner import get_llm_planner

        backend = get_llm_planner()
    ranker = None
    if (service := current_service()) is not None:
        from rl.tier1_scorer import Tier1Ranker

        ranker = Tier1Ranker(service.learner)
    return Orchestrator(get_timeseries_access(), get_experience_buffer(), ranker=ranker, backend=backend)
