"""Diagnose the configured time-series database: one PASS/FAIL line per check."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from industrial.errors import UnknownEquipment
from industrial.management.checks import run_checks
from industrial.plant.spec import READING_INTERVAL
from industrial.timeseries.access import TimeSeriesDataAccess, get_timeseries_access


def timeseries_checks(access: TimeSeriesDataAccess, equipment_id: str) -> list[tuple[str, object]]:
    """The checks, in order; each raises to fail. Later checks reuse what earlier ones found."""
    found: dict[str, object] = {}

    def catalog():
        types = access.refresh_catalog().types()
        assert types, "no equipment tables (a table with a 'timestamp' column) in the current schema"
        found["types"] = types

    def equipment_exists():
        found["table"] = access.catalog.table(equipment_id)

    def latest():
        reading = access.latest(equipment_id)
        assert reading is not None, f"{equipment_id} has no rows"
        found["end"] = reading.timestamp

    def range_24h_hourly():
        series = access.series(equipment_id, _metric(found), found["end"] - timedelta(hours=24), found["end"], "1h")
        assert series.points, "no hourly buckets in the last 24 h of data"

    def range_30d_daily():
        series = access.series(equipment_id, _metric(found), found["end"] - timedelta(days=30), found["end"], "1d")
        assert series.points, "no daily buckets in the last 30 days of data"

    def stats():
        result = access.stats(equipment_id, _metric(found), found["end"] - timedelta(hours=24), found["end"])
        assert result.count > 0 and result.min <= result.mean <= result.max

    def counter_delta():
        meters = found["types"].get("energy_meter")
        assert meters, "no energy_meter tables to check cumulative deltas on"
        end = access.latest(meters[0]).timestamp
        deltas = access.series(meters[0], "energy_kwh", end - timedelta(hours=6), end, "1h", "delta").points
        assert all(v is None or v >= 0 for _, v in deltas), "energy_kwh decreased: not a cumulative counter"

    def fleet_scan():
        equipment_type = found["table"].equipment_type
        values = access.fleet_latest(equipment_type, _metric(found))
        assert len(values) == len(found["types"][equipment_type])

    def anomaly_scan():
        access.detect_anomalies(equipment_id)

    def alerts():
        access.alerts(active_only=True)
        access.alerts(start=found["end"] - timedelta(days=7), end=found["end"] + READING_INTERVAL)

    def unknown_equipment_refused():
        try:
            access.latest(f"{equipment_id}; DROP TABLE equipment")
        except UnknownEquipment as exc:
            assert equipment_id in exc.suggestions, f"no close match suggested: {exc}"
        else:
            raise AssertionError("an unknown equipment id was accepted")

    return [
        ("catalog introspection", catalog),
        (f"equipment {equipment_id} exists", equipment_exists),
        ("latest reading", latest),
        ("24 h in hourly buckets", range_24h_hourly),
        ("30 days in daily buckets", range_30d_daily),
        ("window statistics", stats),
        ("cumulative counter delta", counter_delta),
        ("fleet scan", fleet_scan),
        ("anomaly detection", anomaly_scan),
        ("alert queries", alerts),
        ("unknown equipment refused", unknown_equipment_refused),
    ]


def _metric(found: dict) -> str:
    metrics = [m for m in found["table"].metrics if m != "running_status"]
    assert metrics, "the equipment has no metric columns"
    return metrics[0]


class Command(BaseCommand):
    help = "Check the configured time-series database through the access layer; exits non-zero if a check fails."

    def add_arguments(self, parser):
        parser.add_argument(
            "--equipment", default="chiller_001", help="Equipment id to run the per-equipment checks on."
        )

    def handle(self, *args, **options):
        checks = timeseries_checks(get_timeseries_access(), options["equipment"])
        failures = run_checks(checks, self.stdout)
        self.stdout.write(f"{len(checks) - failures} of {len(checks)} checks passed")
        if failures:
            raise CommandError(f"{failures} of {len(checks)} checks failed")
