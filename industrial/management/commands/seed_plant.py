"""Seed (or top up) the plant's time-series store with generated data."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from industrial.database.connection import timeseries_conninfo
from industrial.plant.seeding import SeedPlan, follow, seed_plant
from industrial.plant.spec import EQUIPMENT_TYPES, TYPES_BY_NAME


def parse_types(spec: str | None, count: int | None) -> dict[str, int | None]:
    """``"chiller=2,pump"`` -> ``{"chiller": 2, "pump": count}``; empty means every type."""
    if not spec:
        return {t.name: count for t in EQUIPMENT_TYPES}
    counts: dict[str, int | None] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, number = item.partition("=")
        if name not in TYPES_BY_NAME:
            raise CommandError(f"--types: unknown equipment type {name!r}; known: {', '.join(TYPES_BY_NAME)}")
        try:
            counts[name] = int(number) if number else count
        except ValueError as exc:
            raise CommandError(f"--types: count for {name!r} must be an integer, got {number!r}") from exc
    return counts


def parse_end(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        end = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--end must be an ISO-8601 timestamp, got {value!r}") from exc
    return end if end.tzinfo else end.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Generate the plant's time-series data (one table per equipment, plus `equipment` and `alerts`) "
        "and load it with COPY, with its hourly and daily rollups (days in PLANT_TIME_ZONE). Re-running resumes "
        "after each table's last row; --replace rebuilds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=30.0, help="Days of history ending at --end (default 30).")
        parser.add_argument(
            "--types",
            help="Equipment types to seed, comma separated, each optionally with a count: "
            "'chiller=2,pump'. Default: all 11 types.",
        )
        parser.add_argument("--count", type=int, help="How many of each type (default: the contract's full count).")
        parser.add_argument(
            "--interval",
            type=int,
            default=SeedPlan.interval,
            help=f"Seconds between rows (default {SeedPlan.interval}).",
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed; same seed, same data (default 42).")
        parser.add_argument("--end", help="Last timestamp, ISO-8601 (default: now, so 'latest' is current).")
        parser.add_argument(
            "--fault-rate", type=float, default=0.05, help="Chance of an injected fault per equipment-day (0.05)."
        )
        parser.add_argument("--replace", action="store_true", help="Drop the selected tables and rebuild them.")
        parser.add_argument(
            "--follow", action="store_true", help="After seeding, keep appending a row per interval until stopped."
        )

    def handle(self, *args, **options):
        try:
            plan = SeedPlan(
                days=options["days"],
                counts=parse_types(options["types"], options["count"]),
                interval=options["interval"],
                seed=options["seed"],
                end=parse_end(options["end"]),
                fault_rate=options["fault_rate"],
                replace=options["replace"],
                time_zone=settings.PLANT_TIME_ZONE,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        conninfo = timeseries_conninfo()
        tables = len(plan.equipment())
        self.stdout.write(
            f"Seeding {tables} equipment tables, {plan.days:g} days at {plan.interval} s (seed {plan.seed})"
        )
        with tqdm(total=tables, unit="table", file=self.stderr, disable=None) as bar:
            report = seed_plant(conninfo=conninfo, plan=plan, on_table=lambda result: bar.update(1))
        self.stdout.write(
            f"Wrote {report.rows:,} rows and {report.alerts} alerts to {report.tables} tables "
            f"({report.created} new) in {report.seconds:.1f} s: {report.rows_per_second:,.0f} rows/s"
        )
        if options["follow"]:
            self._follow(conninfo, plan)

    def _follow(self, conninfo: str, plan: SeedPlan) -> None:
        stop = threading.Event()  # SIGTERM wakes the wait between passes: a prompt, clean exit
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write(f"Following: appending a row every {plan.interval} s per table (Ctrl-C to stop)")
        try:
            for report in follow(conninfo=conninfo, plan=plan, should_stop=stop.is_set, sleep=stop.wait):
                self.stdout.write(f"{datetime.now(UTC):%H:%M:%S} appended {report.rows} rows, {report.alerts} alerts")
        except KeyboardInterrupt:
            pass
        self.stdout.write("Follow mode stopped")
