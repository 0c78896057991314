"""Tier 2's shared fixtures: one planner model bootstrapped per session, and rated answers over the test plant."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from layer2.orchestrator import Orchestrator
from rl.simulation.operators import QuestionBank, SimulatedOperators, ask_and_rate
from rl.tier1.scorer import Tier1Learner, Tier1Ranker
from tests.conftest import TEST_DATABASE


@pytest.fixture(scope="session")
def planner_model(plant_conninfo, tmp_path_factory) -> Path:
    """A planner model built and taught here by the real ``bootstrap_planner`` command, on the test plant."""
    from django.conf import settings
    from django.test import override_settings

    from industrial.database.connection import timeseries_conninfo
    from industrial.timeseries.access import get_timeseries_access

    out = tmp_path_factory.mktemp("planner") / "base"
    url = timeseries_conninfo(TEST_DATABASE) if settings.TIMESERIES_DATABASE_URL else ""
    options = {"--examples": "2400", "--epochs": "4", "--device": "cpu"}  # default model size: ~1 min
    with override_settings(TIMESERIES_DATABASE_NAME=TEST_DATABASE, TIMESERIES_DATABASE_URL=url):
        get_timeseries_access.cache_clear()
        try:
            call_command("bootstrap_planner", "--out", str(out), *(x for kv in options.items() for x in kv),
                         "--no-progress")  # fmt: skip
        finally:
            get_timeseries_access().close()
            get_timeseries_access.cache_clear()
    return out


@pytest.fixture
def rated(serving, db):
    """Rated answers: simulated operators' questions, exploring ranker, their feedback recorded."""
    vocabulary = serving.vocabulary()
    orchestrator = Orchestrator(serving.access, serving.buffer, ranker=Tier1Ranker(Tier1Learner(), explore=True))
    bank, people = QuestionBank(vocabulary, seed=3), SimulatedOperators(seed=3)
    for _ in range(200):  # enough that some prompt is rated both up and down with evaluations that confirm it
        ask_and_rate(orchestrator=orchestrator, people=people, question=bank.draw())
    return serving.buffer.list(has_feedback=True, limit=1000)
