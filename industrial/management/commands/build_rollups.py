"""Build or refresh the hourly and daily rollups of an existing plant database."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from industrial.database.connection import timeseries_conninfo
from industrial.errors import UnknownEquipmentType
from industrial.management.commands.seed_plant import parse_end
from industrial.rollups.maintenance import build_all
from industrial.rollups.schema import Metric, disk_bytes
from industrial.timeseries.catalog import introspect


class Command(BaseCommand):
    help = (
        "Build the hourly and daily rollups (schema cc_rollups) of every equipment table, or refresh them: each "
        "grain resumes where it stopped, so the command can be interrupted and run again, and running it twice "
        "changes nothing. The seeder and its follow mode keep them current by themselves; run this for a "
        "database filled by something else, after rows were changed (--since), or to change --time-zone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--equipment", help="Comma-separated equipment ids (default: every equipment table).")
        parser.add_argument("--type", dest="equipment_type", help="Only this equipment type (e.g. chiller).")
        parser.add_argument(
            "--time-zone",
            default=settings.PLANT_TIME_ZONE,
            help=f"Whose days the daily rollups are (default PLANT_TIME_ZONE, {settings.PLANT_TIME_ZONE}). "
            "Daily rollups built in another zone are rebuilt.",
        )
        parser.add_argument(
            "--since", help="Recompute buckets from this ISO-8601 time on (rows there were added or changed late)."
        )
        parser.add_argument("--rebuild", action="store_true", help="Drop the selected rollups and build them again.")
        parser.add_argument("--chunk-days", type=float, default=31.0, help="Days of rows per transaction (default 31).")

    def handle(self, *args, **options):
        try:
            ZoneInfo(options["time_zone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CommandError(f"--time-zone: {options['time_zone']!r} is not an IANA time zone name") from exc
        if options["chunk_days"] <= 0:
            raise CommandError("--chunk-days must be positive")
        conninfo = timeseries_conninfo()
        tables = self._tables(conninfo, options)
        self.stdout.write(f"Rollups of {len(tables)} equipment tables (days in {options['time_zone']})")
        with tqdm(total=0, unit="chunk", file=self.stderr, disable=None) as bar:

            def start(total: int) -> None:
                bar.reset(total=total)

            def chunk_done(equipment_id: str, grain: str, lo, hi) -> None:
                bar.set_postfix_str(f"{equipment_id} {grain} {lo:%Y-%m-%d}", refresh=False)
                bar.update(1)

            report = build_all(
                conninfo=conninfo, tables=tables, time_zone=options["time_zone"], since=parse_end(options["since"]),
                rebuild=options["rebuild"], chunk=timedelta(days=options["chunk_days"]),
                on_start=start, on_chunk=chunk_done,
            )  # fmt: skip
        with psycopg.connect(conninfo) as conn:
            raw_bytes, rollup_bytes = disk_bytes(conn)
        share = f"{rollup_bytes / raw_bytes:.1%}" if raw_bytes else "n/a"
        self.stdout.write(
            f"Wrote {report.buckets:,} buckets for {report.tables} tables in {report.seconds:.1f} s; "
            f"rollups take {rollup_bytes / 2**20:,.1f} MiB, {share} of the raw tables' {raw_bytes / 2**20:,.1f} MiB"
        )

    def _tables(self, conninfo: str, options) -> dict[str, list[Metric]]:
        with psycopg.connect(conninfo) as conn:
            catalog = introspect(conn)
        ids = sorted(catalog.equipment)
        if options["equipment_type"]:
            try:
                ids = catalog.ids_of_type(options["equipment_type"])
            except UnknownEquipmentType as exc:
                raise CommandError(f"--type: {exc}") from exc
        if options["equipment"]:
            wanted = [e.strip() for e in options["equipment"].split(",") if e.strip()]
            unknown = [e for e in wanted if e not in catalog.equipment]
            if unknown:
                raise CommandError(f"--equipment: no table for {', '.join(unknown)}")
            ids = [e for e in ids if e in wanted]
        return {eq: [Metric(c.name, c.data_type) for c in catalog.equipment[eq].metrics.values()] for eq in ids}
