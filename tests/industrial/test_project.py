"""Project wiring: the database router and the health endpoint over real HTTP (Django test client)."""

import pytest
from django.db import connections, router

from industrial.models import Alert, Equipment
from tests.conftest import TEST_DATABASE


def test_router_sends_plant_models_to_timeseries_and_never_migrates_it():
    assert router.db_for_read(Equipment) == "timeseries" and router.db_for_write(Alert) == "timeseries"
    assert not router.allow_migrate("timeseries", "auth")
    assert not router.allow_migrate("default", "industrial")
    assert router.allow_migrate("default", "auth")


def test_health_reports_the_store(client, configured_plant, plant_db):
    response = client.get("/api/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["timeseries"]["equipment"] == 22 and body["timeseries"]["types"]["chiller"] == 2
    assert body["timeseries"]["latest_reading"] == "2026-03-02T00:00:00Z"
    active = plant_db.execute("SELECT count(*) FROM alerts WHERE cleared_at IS NULL").fetchone()[0]
    assert body["timeseries"]["active_alerts"] == active


@pytest.fixture
def timeseries_alias(plant_conninfo, django_db_blocker):
    """Django's `timeseries` connection pointed at the seeded database (no test-database wrapping:
    the plant's tables are unmanaged, so Django's own test database for the alias would be empty)."""
    connection = connections["timeseries"]
    name = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = TEST_DATABASE
    with django_db_blocker.unblock():
        yield connection
        connection.close()
    connection.settings_dict["NAME"] = name


def test_unmanaged_models_read_the_plant_through_the_router(timeseries_alias):
    assert Equipment.objects.count() == 22
    assert Equipment.objects.get(pk="chiller_001").display_name == "Chiller 1"
    assert Alert.objects.filter(equipment__equipment_type="pump").exists()
