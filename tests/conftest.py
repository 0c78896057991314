"""Shared fixtures: a real PostgreSQL database seeded with a small plant.

The database lives on the same server the project uses (the embedded one,
or ``TIMESERIES_DATABASE_URL``) under its own name, created fresh for the
session and dropped afterwards, the way Django's test runner treats test
databases.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from industrial.database import timeseries_conninfo
from industrial.plant_seeding import SeedPlan, seed_plant
from industrial.plant_spec import EQUIPMENT_TYPES
from industrial.timeseries_access import TimeSeriesDataAccess

TEST_DATABASE = "plant_test"
PLANT_END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, so generator test runs fall inside
SMALL_PLAN = SeedPlan(days=2, counts={t.name: 2 for t in EQUIPMENT_TYPES}, seed=7, end=PLANT_END, fault_rate=0.6)


def recreate_database(name: str) -> str:
    """Drop and create database ``name`` on the project's server; return its connection string."""
    with psycopg.connect(timeseries_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return timeseries_conninfo(name)


def drop_database(name: str) -> None:
    with psycopg.connect(timeseries_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def plant_conninfo(django_db_blocker) -> str:
    """A database holding two of every equipment type over two days, with injected faults."""
    with django_db_blocker.unblock():
        conninfo = recreate_database(TEST_DATABASE)
        seed_plant(conninfo, SMALL_PLAN)
    yield conninfo
    drop_database(TEST_DATABASE)


@pytest.fixture(scope="session")
def access(plant_conninfo) -> TimeSeriesDataAccess:
    ts = TimeSeriesDataAccess(plant_conninfo, max_size=4)
    yield ts
    ts.close()


@pytest.fixture
def db(plant_conninfo):
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
