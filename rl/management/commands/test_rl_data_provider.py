"""Check the RL time-series data provider against the configured plant: one PASS/FAIL line per check."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from command_center.config_options import add_config_options, config_from_options
from industrial.management.checks import run_checks
from industrial.timeseries.access import get_timeseries_access
from rl.simulation.diagnostics import ProviderCheckOptions, provider_checks


class Command(BaseCommand):
    help = (
        "Check rl.simulation.data_provider (random states, trajectories, anomaly-enriched batches, situation "
        "preference pairs, statistics) against the configured time-series database; exits non-zero if a check fails."
    )

    def add_arguments(self, parser):
        add_config_options(parser, ProviderCheckOptions)

    def handle(self, *args, **options):
        try:
            check_options = config_from_options(ProviderCheckOptions, options)
        except ValueError as exc:
            raise CommandError(f"invalid option: {exc}") from exc
        checks = provider_checks(access=get_timeseries_access(), options=check_options)
        failures = run_checks(checks, self.stdout)
        self.stdout.write(f"{len(checks) - failures} of {len(checks)} checks passed")
        if failures:
            raise CommandError(f"{failures} of {len(checks)} checks failed")
