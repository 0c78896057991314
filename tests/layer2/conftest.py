"""Fixtures for the orchestrator and the layer2 API."""

from datetime import timedelta

import pytest

from industrial.database import drop_database, recreate_database
from industrial.plant_seeding import SeedPlan, seed_plant
from industrial.plant_spec import EQUIPMENT_TYPES
from industrial.timeseries_access import TimeSeriesDataAccess
from layer2.intent import PlantVocabulary
from layer2.services import get_orchestrator
from rl.experience_buffer import get_experience_buffer
from tests.conftest import PLANT_END, TEST_DATABASE


@pytest.fixture(scope="session")
def full_plant_vocabulary(django_db_blocker) -> PlantVocabulary:
    """The vocabulary of a plant of the contract's full shape (363 tables), read by introspection."""
    name = f"{TEST_DATABASE}_full"
    with django_db_blocker.unblock():
        conninfo = recreate_database(name)
        plan = SeedPlan(days=0.01, counts={t.name: None for t in EQUIPMENT_TYPES}, seed=1, end=PLANT_END)
        seed_plant(conninfo, plan)
        access = TimeSeriesDataAccess(conninfo, max_size=1)
        vocabulary = PlantVocabulary.from_catalog(access.catalog)
        access.close()
    yield vocabulary
    drop_database(name)


@pytest.fixture
def experience_path(settings, tmp_path):
    """A fresh experience journal for one test, used by every service that records or reads experiences."""
    settings.EXPERIENCE_BUFFER_PATH = tmp_path / "experiences.jsonl"
    get_experience_buffer.cache_clear()
    get_orchestrator.cache_clear()
    yield settings.EXPERIENCE_BUFFER_PATH
    get_experience_buffer.cache_clear()
    get_orchestrator.cache_clear()


@pytest.fixture
def serving(configured_plant, experience_path):
    """The orchestrator answering over the seeded test plant with a fresh journal."""
    return get_orchestrator()


PLANT_NOW = PLANT_END
DAY = timedelta(days=1)
