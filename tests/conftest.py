"""Shared fixtures: a real PostgreSQL database seeded with a small plant.

The database lives on the same server the project uses (the embedded one,
or ``TIMESERIES_DATABASE_URL``) under its own name, created fresh for the
session and dropped afterwards, the way Django's test runner treats test
databases.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import psycopg
import pytest

from industrial.database.connection import drop_database, recreate_database, timeseries_conninfo
from industrial.plant.seeding import SeedPlan, seed_plant
from industrial.plant.spec import EQUIPMENT_TYPES
from industrial.timeseries.access import TimeSeriesDataAccess, get_timeseries_access
from layer2.services import get_orchestrator
from layer2.understanding.intent import PlantVocabulary
from rl.experiences.buffer import get_experience_buffer
from rl.tier2.run_status import process_alive

# Unique per run, so two test runs on one server (two sessions, CI beside a developer) never collide.
TEST_DATABASE = f"plant_test_{os.getpid()}"
PLANT_END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, so generator test runs fall inside
SMALL_PLAN = SeedPlan(days=2, counts={t.name: 2 for t in EQUIPMENT_TYPES}, seed=7, end=PLANT_END, fault_rate=0.6)


@pytest.fixture(autouse=True)
def own_throttle_counts(settings, tmp_path):
    """Each test counts its own requests: the project's counts are the state folder's, which a demo shares."""
    settings.THROTTLE_COUNTS_PATH = tmp_path / "throttle.sqlite3"


def drop_abandoned_test_databases() -> None:
    """Drop test databases left by runs that were killed before their teardown."""
    with psycopg.connect(timeseries_conninfo("postgres"), autocommit=True) as admin:
        names = [r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'plant_test_%'")]
    for name in names:
        match = re.fullmatch(r"plant_test_(\d+)(_.*)?", name)
        if match and not process_alive(int(match.group(1))):
            drop_database(name)


@pytest.fixture(scope="session")
def plant_conninfo(django_db_blocker) -> str:
    """A database holding two of every equipment type over two days, with injected faults."""
    with django_db_blocker.unblock():
        drop_abandoned_test_databases()
        conninfo = recreate_database(TEST_DATABASE)
        seed_plant(conninfo=conninfo, plan=SMALL_PLAN)
    yield conninfo
    drop_database(TEST_DATABASE)


@pytest.fixture(scope="session")
def access(plant_conninfo) -> TimeSeriesDataAccess:
    ts = TimeSeriesDataAccess(plant_conninfo, max_size=4)
    yield ts
    ts.close()


@pytest.fixture
def plant_db(plant_conninfo):
    """A plain autocommit connection to the seeded database, for independent SQL checks."""
    with psycopg.connect(plant_conninfo, autocommit=True) as conn:
        yield conn


@pytest.fixture
def scratch_database(django_db_blocker):
    """A fresh empty database for tests that write (dropped afterwards)."""
    created = []

    def make(suffix: str) -> str:
        name = f"{TEST_DATABASE}_{suffix}"
        created.append(name)
        with django_db_blocker.unblock():
            return recreate_database(name)

    yield make
    for name in created:
        drop_database(name)


@pytest.fixture
def use_timeseries_database(settings):
    """Point the project's configured time-series database (what ``get_timeseries_access()``
    and the management commands use) at another database on the same server."""

    def use(name: str) -> None:
        if settings.TIMESERIES_DATABASE_URL:  # an external server: the name alone does not redirect it
            settings.TIMESERIES_DATABASE_URL = timeseries_conninfo(name)
        settings.TIMESERIES_DATABASE_NAME = name
        get_timeseries_access.cache_clear()

    yield use
    if get_timeseries_access.cache_info().currsize:
        get_timeseries_access().close()
    get_timeseries_access.cache_clear()


@pytest.fixture
def configured_plant(plant_conninfo, use_timeseries_database):
    """The project's configured time-series database is the seeded test plant, for one test."""
    use_timeseries_database(TEST_DATABASE)


@pytest.fixture
def api_user(db):
    """An operator with an API token (Django's own database, per test)."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user("operator", password="unused-in-tests")
    Token.objects.create(user=user)
    return user


@pytest.fixture
def api_client(api_user):
    """A DRF test client authenticated with the operator's token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_user.auth_token.key}")
    return client


@pytest.fixture
def client_for(db):
    """``client_for("claude", "--judge")``: a DRF test client of an account made by ``create_api_user``."""
    import io

    from django.core.management import call_command
    from rest_framework.test import APIClient

    def make(username: str, *flags: str) -> APIClient:
        out = io.StringIO()
        call_command("create_api_user", username, *flags, "--quiet", stdout=out)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
        return client

    return make


@pytest.fixture
def judge_client(client_for):
    """A DRF test client of the judge account ``offline`` (``create_api_user offline --judge``)."""
    return client_for("offline", "--judge")


@pytest.fixture
def gunicorn_server(plant_conninfo, tmp_path):
    """``start(workers=2, **env)``: a real gunicorn over the seeded test plant; stopped after the test."""
    from command_center.local_server import start_local_server

    servers = []

    def start(workers: int = 2, **env: str):
        server = start_local_server(
            timeseries_url=plant_conninfo, state_dir=tmp_path / f"state-{len(servers)}", workers=workers, **env
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


FULL_PLANT = f"{TEST_DATABASE}_full"
DIAGNOSIS_PLANT = f"{TEST_DATABASE}_diagnosis"


@pytest.fixture(scope="session")
def full_plant_conninfo(django_db_blocker) -> str:
    """A plant of the contract's full shape (363 tables), a quarter hour of data up to PLANT_END."""
    with django_db_blocker.unblock():
        conninfo = recreate_database(FULL_PLANT)
        plan = SeedPlan(days=0.01, counts={t.name: None for t in EQUIPMENT_TYPES}, seed=1, end=PLANT_END)
        seed_plant(conninfo=conninfo, plan=plan)
    yield conninfo
    drop_database(FULL_PLANT)


@pytest.fixture(scope="session")
def full_plant_vocabulary(full_plant_conninfo) -> PlantVocabulary:
    """The vocabulary of a plant of the contract's full shape (363 tables), read by introspection."""
    access = TimeSeriesDataAccess(full_plant_conninfo, max_size=1)
    vocabulary = PlantVocabulary.from_catalog(access.catalog)
    access.close()
    return vocabulary


@pytest.fixture(scope="session")
def diagnosis_plant_conninfo(django_db_blocker) -> str:
    """The plant of the labelled diagnosis cases (tests/layer2/answering/diagnosis_cases.py), faults and all."""
    from tests.layer2.answering.diagnosis_cases import seed_plan

    with django_db_blocker.unblock():
        conninfo = recreate_database(DIAGNOSIS_PLANT)
        seed_plant(conninfo=conninfo, plan=seed_plan())
    yield conninfo
    drop_database(DIAGNOSIS_PLANT)


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
