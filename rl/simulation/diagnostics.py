"""Checks of the RL time-series data provider against a plant, for ``manage.py test_rl_data_provider``.

Each check draws from an :class:`~rl.simulation.data_provider.RLTimeSeriesDataProvider`
and verifies what it drew through another path: rows and alerts read back
through the access layer, plans parsed against their candidates, a second
provider with the same seed. ``industrial.management.checks.run_checks`` prints
them as PASS/FAIL lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from industrial.management.checks import Check
from industrial.plant.spec import limit_for
from industrial.timeseries.access import BUCKETS, TimeSeriesDataAccess
from layer2.planning.plan_prompt import PLAN_START, parse_plan
from rl.simulation.data_provider import RLTimeSeriesDataProvider, StateSample
from rl.simulation.situation_pairs import SITUATIONS, situation_pairs

_AT_ONCE = timedelta(microseconds=1)  # [ts, ts + this) holds exactly the row at ts


@dataclass(frozen=True)
class ProviderCheckOptions:
    """What the checks draw; the command's options."""

    seed: int = field(default=0, metadata={"help": "Seed of the provider's draws."})
    states: int = field(default=50, metadata={"help": "Random states to draw and read back."})
    trajectories: int = field(default=5, metadata={"help": "Trajectories to draw."})
    window_hours: float = field(default=6.0, metadata={"help": "Length of each trajectory's window, in hours."})
    step: str = field(
        default="5m", metadata={"help": f"Each trajectory's bucket, one of {', '.join(BUCKETS)} (the access layer's)."}
    )
    batch_size: int = field(default=40, metadata={"help": "States in the training batch."})
    anomaly_share: float = field(
        default=0.25, metadata={"help": "Share of the batch drawn from states in alarm, 0 to 1."}
    )
    pairs: int = field(default=10, metadata={"help": "Situation preference pairs to draw."})
    exact_rows: bool = field(
        default=False,
        metadata={
            "help": "Count every table's rows for the statistics instead of PostgreSQL's estimates "
            "(minutes on a full-scale plant)."
        },
    )

    def __post_init__(self) -> None:
        for name in ("states", "trajectories", "batch_size", "pairs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if not self.window_hours > 0:
            raise ValueError(f"window_hours must be positive, got {self.window_hours!r}")
        if self.step not in BUCKETS:
            raise ValueError(f"step must be one of {', '.join(BUCKETS)}, got {self.step!r}")
        if not 0.0 <= self.anomaly_share <= 1.0:
            raise ValueError(f"anomaly_share must be between 0 and 1, got {self.anomaly_share!r}")


def provider_checks(*, access: TimeSeriesDataAccess, options: ProviderCheckOptions) -> list[Check]:
    """The checks, in order; each raises to fail."""
    provider = RLTimeSeriesDataProvider(access, options.seed)
    window = timedelta(hours=options.window_hours)

    def statistics():
        assert access.refresh_catalog().equipment, "no equipment tables (a table with a 'timestamp' column)"
        stats = provider.statistics(exact_rows=options.exact_rows)
        assert stats.rows > 0 and stats.first is not None, "the equipment tables hold no rows"
        assert sum(t.tables for t in stats.by_type.values()) == stats.tables, "per-type table counts do not add up"
        assert sum(t.rows for t in stats.by_type.values()) == stats.rows, "per-type row counts do not add up"
        assert sum(stats.alerts_by_severity.values()) <= stats.alerts, "more alerts by severity than alerts"
        assert 0.0 <= stats.alarm_time_share <= 1.0, f"alarm time share {stats.alarm_time_share} outside 0..1"

    def states():
        drawn = provider.sample_states(options.states)
        assert len(drawn) == options.states, f"{len(drawn)} states for {options.states} asked"
        for state in drawn:
            check_state(access, state)

    def alarm_states():
        for state in provider.alarm_states(min(options.states, 10)):
            check_state(access, state)

    def trajectories():
        for t in provider.sample_trajectories(options.trajectories, window, options.step):
            assert t.end - t.start == window, f"{t.equipment_id}: window {t.end - t.start}, not {window}"
            assert t.timestamps, f"{t.equipment_id}: no points in [{t.start}, {t.end})"
            assert list(t.timestamps) == sorted(set(t.timestamps)), f"{t.equipment_id}: points out of order"
            first = t.start - (BUCKETS[options.step] or timedelta(0))  # a first bucket may start before the window
            assert first <= t.timestamps[0] and t.timestamps[-1] < t.end, f"{t.equipment_id}: points outside window"
            assert all(len(v) == len(t.timestamps) for v in t.values.values()), f"{t.equipment_id}: ragged values"

    def batch():
        drawn = provider.training_batch(options.batch_size, options.anomaly_share)
        wanted = round(options.batch_size * options.anomaly_share)
        assert len(drawn.states) == options.batch_size, f"{len(drawn.states)} states, not {options.batch_size}"
        assert drawn.anomalous == wanted, f"{drawn.anomalous} anomalous states, not {wanted}"
        for state in drawn.states:
            check_state(access, state)

    def pairs():
        drawn = situation_pairs(provider=provider, n=options.pairs)
        assert len(drawn) == options.pairs, f"{len(drawn)} pairs for {options.pairs} asked"
        assert len({p.prompt for p in drawn}) == len(drawn), "a prompt repeats"
        for p in drawn:
            assert p.prompt.endswith(PLAN_START + "\n"), f"prompt does not end with {PLAN_START!r}: {p.prompt!r}"
            chosen, rejected = parse_plan(p.chosen, p.offered), parse_plan(p.rejected, p.offered)
            assert chosen and rejected, f"an invalid plan for {p.transcript!r}: {p.chosen} / {p.rejected}"
            assert chosen != rejected, f"chosen and rejected are the same plan for {p.transcript!r}"
        missing = set(SITUATIONS[: options.pairs]) - {p.situation for p in drawn}
        assert not missing, f"no pairs of {', '.join(sorted(missing))}"

    def same_seed():
        one, other = RLTimeSeriesDataProvider(access, options.seed), RLTimeSeriesDataProvider(access, options.seed)
        assert one.sample_states(5) == other.sample_states(5), "two providers of one seed drew different states"

    return [
        ("dataset statistics", statistics),
        (f"{options.states} random states read back", states),
        ("states in alarm read back", alarm_states),
        (f"{options.trajectories} trajectories of {options.window_hours:g} h in {options.step} steps", trajectories),
        (f"batch of {options.batch_size} at {options.anomaly_share:.0%} anomalous", batch),
        (f"{options.pairs} situation pairs", pairs),
        (f"seed {options.seed} repeats its draws", same_seed),
    ]


def check_state(access: TimeSeriesDataAccess, state: StateSample) -> None:
    """Raise unless ``state`` is its row as the access layer reads it, and its alarm flags hold."""
    eq, ts = state.equipment_id, state.timestamp
    for metric, value in state.values.items():
        points = access.series(eq, metric, ts, ts + _AT_ONCE, "raw").points
        assert points == [(ts, value)], f"{eq} {metric} at {ts}: drew {value}, the table has {points}"
    alerts = access.alerts(equipment_id=eq, end=ts + _AT_ONCE, limit=10_000)
    active = sorted({a.metric for a in alerts if a.cleared_at is None or a.cleared_at > ts})
    assert list(state.alert_metrics) == active, f"{eq} at {ts}: alerting {state.alert_metrics}, alerts say {active}"
    running = state.running is not False
    for metric, value in state.values.items():
        limit = limit_for(state.equipment_type, metric)
        broken = value is not None and limit is not None and limit.violated_by(value, running=running)
        assert broken == (metric in state.limit_breaches), f"{eq} {metric}={value} at {ts}: breach flag wrong"
