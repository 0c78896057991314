"""Check the RL time-series data provider against the configured plant: one PASS/FAIL line per check."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from industrial.management.checks import run_checks
from industrial.timeseries.access import BUCKETS, get_timeseries_access
from rl.simulation.diagnostics import ProviderCheckOptions, provider_checks


class Command(BaseCommand):
    help = (
        "Check rl.simulation.data_provider (random states, trajectories, anomaly-enriched batches, situation "
        "preference pairs, statistics) against the configured time-series database; exits non-zero if a check fails."
    )

    def add_arguments(self, parser):
        defaults = ProviderCheckOptions()
        parser.add_argument("--seed", type=int, default=defaults.seed, help="Seed of the provider's draws.")
        parser.add_argument(
            "--states", type=int, default=defaults.states, help="Random states to draw and read back (default 50)."
        )
        parser.add_argument(
            "--trajectories", type=int, default=defaults.trajectories, help="Trajectories to draw (default 5)."
        )
        parser.add_argument(
            "--window-hours",
            type=float,
            default=defaults.window_hours,
            help="Length of each trajectory's window in hours (default 6).",
        )
        parser.add_argument(
            "--step", default=defaults.step, help=f"Trajectory bucket, one of {', '.join(BUCKETS)} (default 5m)."
        )
        parser.add_argument(
            "--batch-size", type=int, default=defaults.batch_size, help="States in the training batch (default 40)."
        )
        parser.add_argument(
            "--anomaly-share",
            type=float,
            default=defaults.anomaly_share,
            help="Share of the batch drawn from states in alarm, 0 to 1 (default 0.25).",
        )
        parser.add_argument(
            "--pairs", type=int, default=defaults.pairs, help="Situation preference pairs to draw (default 10)."
        )
        parser.add_argument(
            "--exact-rows",
            action="store_true",
            help="Count every table's rows for the statistics instead of PostgreSQL's estimates (slow on big plants).",
        )

    def handle(self, *args, **options):
        names = ("seed", "states", "trajectories", "window_hours", "step", "batch_size", "anomaly_share", "pairs")
        try:
            check_options = ProviderCheckOptions(**{n: options[n] for n in names}, exact_rows=options["exact_rows"])
        except ValueError as exc:
            raise CommandError(f"invalid option: {exc}") from exc
        checks = provider_checks(get_timeseries_access(), check_options)
        failures = run_checks(checks, self.stdout)
        self.stdout.write(f"{len(checks) - failures} of {len(checks)} checks passed")
        if failures:
            raise CommandError(f"{failures} of {len(checks)} checks failed")
