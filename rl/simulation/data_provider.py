"""Samples of the plant's time series for reinforcement learning: ``RLTimeSeriesDataProvider``.

* ``sample_states(n)``: equipment states, one row each, flagged when in
  alarm or anomalous;
* ``sample_trajectories(n, window, step)``: one or more metrics of an
  equipment over a time window, in buckets;
* ``training_batch(size, anomaly_share)``: states of which a requested share
  are anomalous, the rest normal, shuffled;
* planner preference pairs from situations in the data are built on these
  samples in ``rl/simulation/situation_pairs.py``;
* ``statistics()``: tables, rows, time span, per-type counts, alert and
  anomaly rates.

Sampling stays cheap on a plant of 572 million rows. A state is a random
equipment, a random instant in its table's time span (``min``/``max`` of the
primary key: two index probes, once per provider) and the first row at or
after that instant (one index probe); all the states of one table are read
in one statement. A state in alarm comes from a random alert (a probe on the
``alerts`` primary key) at a random instant of its active span. Nothing scans
a table or sorts one by ``random()``. Every table and column name comes from
the introspected catalog; values are bound parameters.

A state is *in alarm* when an alert of its equipment was active at its
timestamp (raised at or before it and not yet cleared), and *anomalous* when
it is in alarm or one of its readings is outside the metric's alarm limit
(``industrial.plant.spec.limit_for``, low limits only while running).

One seeded numpy generator drives every draw: a seed and the same calls in
the same order over the same data give the same results. ``statistics()``
draws from a generator of its own, so it gives the same figures on every
call and leaves the other draws alone.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from psycopg import sql

from industrial.plant.spec import READING_INTERVAL, limit_for
from industrial.timeseries.access import BUCKET_ORIGIN, BUCKETS, SEVERITIES, TimeSeriesDataAccess
from industrial.timeseries.catalog import EquipmentTable

logger = logging.getLogger(__name__)

STATUS_METRIC = "running_status"
_JUST_AFTER = timedelta(microseconds=1)  # turns an inclusive last timestamp into an exclusive end
_STATISTICS_STREAM = 1  # statistics() draws from (seed, this): its own generator


class InsufficientData(ValueError):
    """The plant holds too few rows (or too few anomalous or normal states) for what was asked."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class StateSample:
    """One row of one equipment table, with its alarm state at that minute."""

    equipment_id: str
    equipment_type: str
    timestamp: datetime
    values: dict[str, float | None]
    alert_metrics: tuple[str, ...]  # metrics with an alert active at this timestamp
    limit_breaches: tuple[str, ...]  # metrics whose reading is outside its alarm limit

    @property
    def running(self) -> bool | None:
        status = self.values.get(STATUS_METRIC)
        return None if status is None else status >= 0.5

    @property
    def in_alarm(self) -> bool:
        return bool(self.alert_metrics)

    @property
    def anomalous(self) -> bool:
        return self.in_alarm or bool(self.limit_breaches)


@dataclass(frozen=True)
class Trajectory:
    """Metrics of one equipment over ``[start, end)`` in ``step`` buckets (bucket averages; raw rows for "raw")."""

    equipment_id: str
    equipment_type: str
    metrics: tuple[str, ...]
    start: datetime
    end: datetime
    step: str
    timestamps: tuple[datetime, ...]
    values: dict[str, tuple[float | None, ...]]  # per metric, aligned with ``timestamps``
    alert_metrics: tuple[str, ...]  # metrics with an alert active at some time in the window


@dataclass(frozen=True)
class TrainingBatch:
    states: tuple[StateSample, ...]
    requested_share: float

    @property
    def anomalous(self) -> int:
        return sum(s.anomalous for s in self.states)

    @property
    def anomaly_share(self) -> float:
        return self.anomalous / len(self.states) if self.states else 0.0


@dataclass(frozen=True)
class TypeStatistics:
    equipment_type: str
    tables: int
    rows: int
    alerts: int
    active_alerts: int


@dataclass(frozen=True)
class DatasetStatistics:
    tables: int
    empty_tables: int
    rows: int
    rows_exact: bool  # False: PostgreSQL's estimates (a minute a row where a table was never analysed)
    first: datetime | None
    last: datetime | None
    equipment_days: float  # the tables' time spans added up
    by_type: dict[str, TypeStatistics]
    alerts: int
    active_alerts: int
    alerts_by_severity: dict[str, int]
    alerts_per_equipment_day: float
    alarm_time_share: float  # share of equipment time under at least one active alert
    sampled_anomaly_share: float  # share of ``sample_size`` random states that are anomalous
    sample_size: int


@dataclass(frozen=True)
class ProviderConfig:
    """How hard the provider tries, and what counts as a changed trend."""

    draw_rounds: int = field(
        default=20, metadata={"help": "Rounds of rejection sampling before an anomalous or normal draw gives up."}
    )
    situation_attempts: int = field(
        default=60, metadata={"help": "Failed draws in a row before a situation kind is given up."}
    )
    statistics_sample: int = field(
        default=200, metadata={"help": "Random states drawn for the anomalous share in statistics()."}
    )
    trend_change: float = field(
        default=0.15, metadata={"help": 'A window "changed" when p95 − p05 reaches this fraction of its level.'}
    )
    trend_hours: tuple[int, ...] = field(
        default=(6, 12, 24), metadata={"help": "Windows the trend questions ask about, in hours."}
    )

    def __post_init__(self) -> None:
        for name in ("draw_rounds", "situation_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.statistics_sample < 0:
            raise ValueError(f"statistics_sample must not be negative, got {self.statistics_sample!r}")
        if not self.trend_change > 0:  # also refuses NaN
            raise ValueError(f"trend_change must be positive, got {self.trend_change!r}")
        if not self.trend_hours or any(h <= 0 for h in self.trend_hours):
            raise ValueError(f"trend_hours must be positive hours, got {self.trend_hours!r}")


# --------------------------------------------------------------------------- provider


class RLTimeSeriesDataProvider:
    """Random states, trajectories, enriched batches, situation pairs and statistics of one plant."""

    def __init__(self, access: TimeSeriesDataAccess, seed: int, config: ProviderConfig | None = None):
        self.access = access
        self.seed = seed
        self.config = config or ProviderConfig()
        self.rng = np.random.default_rng(seed)
        self._spans: dict[str, tuple[datetime, datetime]] | None = None

    # -- spans ---------------------------------------------------------------

    def spans(self) -> dict[str, tuple[datetime, datetime]]:
        """First and last timestamp of every equipment table with rows (read once per provider)."""
        if self._spans is None:
            tables = sorted(self.access.catalog.equipment)
            self._spans = {}
            if tables:
                query = sql.SQL(" UNION ALL ").join(
                    sql.SQL('(SELECT {id}::text, min("timestamp"), max("timestamp") FROM {t})').format(
                        id=sql.Literal(eq), t=sql.Identifier(eq)
                    )
                    for eq in tables
                )
                with self.access.connection() as conn:
                    rows = conn.execute(query).fetchall()
                self._spans = {eq: (first, last) for eq, first, last in rows if first is not None}
        return self._spans

    def _ids(self, equipment_type: str | None = None, longer_than: timedelta = timedelta(0)) -> list[str]:
        catalog = self.access.catalog
        ids = catalog.ids_of_type(equipment_type) if equipment_type is not None else sorted(catalog.equipment)
        spans = self.spans()
        found = [eq for eq in ids if eq in spans and spans[eq][1] - spans[eq][0] >= longer_than]
        if not found:
            scope = f"{equipment_type} table" if equipment_type else "equipment table"
            spanning = f" spanning {longer_than}" if longer_than else ""
            raise InsufficientData(f"no {scope} has rows{spanning}")
        return found

    # -- states --------------------------------------------------------------

    def sample_states(self, n: int, equipment_type: str | None = None) -> list[StateSample]:
        """``n`` random states: a random equipment (of ``equipment_type``), its row at a random instant."""
        return self._uniform_states(n, equipment_type, self.rng)

    def _uniform_states(self, n: int, equipment_type: str | None, rng: np.random.Generator) -> list[StateSample]:
        _check_count("n", n)
        ids = self._ids(equipment_type)
        picks = [ids[i] for i in rng.integers(0, len(ids), n)]
        spans = self.spans()
        instants = [_between(*spans[eq], u) for eq, u in zip(picks, rng.random(n), strict=True)]
        return self.states_at(list(zip(picks, instants, strict=True)))

    def states_at(self, wanted: list[tuple[str, datetime]]) -> list[StateSample]:
        """The state of each (equipment, instant): its first row at or after the instant, in order.

        An instant after its table's last row gives no state.
        """
        by_table: dict[str, list[int]] = {}
        for i, (eq, _) in enumerate(wanted):
            by_table.setdefault(eq, []).append(i)
        rows: dict[int, tuple] = {}
        with self.access.connection() as conn:
            for eq, indices in by_table.items():
                table = self.access.catalog.table(eq)
                found = conn.execute(_row_statement(table), ([wanted[i][1] for i in indices],)).fetchall()
                rows.update((indices[position - 1], tuple(row)) for position, *row in found)
            order = sorted(rows)
            alerting = _alerts_at(conn, [(wanted[i][0], rows[i][0]) for i in order])
        return [self._state(wanted[i][0], rows[i], metrics) for i, metrics in zip(order, alerting, strict=True)]

    def _state(self, equipment_id: str, row: tuple, alert_metrics: tuple[str, ...]) -> StateSample:
        table = self.access.catalog.table(equipment_id)
        values = {m: None if v is None else float(v) for m, v in zip(table.metrics, row[1:], strict=True)}
        running = values.get(STATUS_METRIC)
        breaches = tuple(
            m
            for m, v in values.items()
            if v is not None
            and (limit := limit_for(table.equipment_type, m)) is not None
            and limit.violated_by(v, running=running is None or running >= 0.5)
        )
        return StateSample(equipment_id, table.equipment_type, row[0], values, alert_metrics, breaches)

    def alarm_states(self, n: int) -> list[StateSample]:
        """``n`` states in alarm: random alerts, each at a random instant while it was active."""
        _check_count("n", n)
        found: list[StateSample] = []
        for _ in range(self.config.draw_rounds):
            if len(found) >= n:
                break
            wanted = self._alert_instants(2 * (n - len(found)))
            found += [s for s in self.states_at(wanted) if s.in_alarm][: n - len(found)]
        if len(found) < n:
            raise InsufficientData(f"found {len(found)} of {n} states in alarm: too few alerts on tables with rows")
        return found

    def normal_states(self, n: int) -> list[StateSample]:
        """``n`` random states that are not anomalous (rejection sampling of :meth:`sample_states`)."""
        _check_count("n", n)
        found: list[StateSample] = []
        for _ in range(self.config.draw_rounds):
            if len(found) >= n:
                break
            found += [s for s in self.sample_states(2 * (n - len(found))) if not s.anomalous][: n - len(found)]
        if len(found) < n:
            raise InsufficientData(f"found {len(found)} of {n} normal states: nearly every state is anomalous")
        return found

    def _alert_instants(self, n: int) -> list[tuple[str, datetime]]:
        """(equipment, instant) inside the active span of ``n`` random alerts (ids probed at random)."""
        with self.access.connection() as conn:
            low, high = conn.execute("SELECT min(id), max(id) FROM alerts").fetchone()
            if low is None:
                return []
            probes = [int(x) for x in self.rng.integers(low, high + 1, n)]
            alerts = conn.execute(_RANDOM_ALERTS_SQL, (probes,)).fetchall()
        spans = self.spans()
        instants = []
        for (eq, raised, cleared), u in zip(alerts, self.rng.random(len(alerts)), strict=True):
            if eq in spans:  # an alert may name equipment without a table, or an empty one
                end = min(cleared or spans[eq][1] + _JUST_AFTER, spans[eq][1] + _JUST_AFTER)
                instants.append((eq, _between(raised, end, u)))
        return instants

    # -- trajectories --------------------------------------------------------

    def sample_trajectories(
        self,
        n: int,
        window: timedelta = timedelta(hours=6),
        step: str = "5m",
        metrics: int = 1,
        equipment_type: str | None = None,
    ) -> list[Trajectory]:
        """``n`` windows of ``window`` each: a random equipment, ``metrics`` random metrics, a random end."""
        _check_count("n", n)
        if window <= timedelta(0):
            raise ValueError(f"window must be positive, got {window}")
        if step not in BUCKETS:
            raise ValueError(f"step must be one of {', '.join(BUCKETS)}, got {step!r}")
        _check_count("metrics", metrics, minimum=1)
        width = BUCKETS[step] or READING_INTERVAL
        ids = self._ids(equipment_type, longer_than=window + width)
        chosen = []
        for _ in range(n):
            table = self.access.catalog.table(ids[int(self.rng.integers(0, len(ids)))])
            names = [m for m in table.metrics if m != STATUS_METRIC] or list(table.metrics)
            picked = sorted(self.rng.choice(len(names), size=min(metrics, len(names)), replace=False))
            first, last = self.spans()[table.equipment_id]
            # Windows end on a step boundary, so every bucket but a first partial one is whole.
            end = _floor(_between(first + window + width, last + _JUST_AFTER, float(self.rng.random())), width)
            chosen.append((table, tuple(names[i] for i in picked), end - window, end))
        with self.access.connection() as conn:
            alerting = _alerts_during(conn, [(t.equipment_id, start, end) for t, _, start, end in chosen])
        return [
            self._trajectory(table, names, start, end, step, alert_metrics)
            for (table, names, start, end), alert_metrics in zip(chosen, alerting, strict=True)
        ]

    def _trajectory(self, table: EquipmentTable, metrics, start, end, step, alert_metrics) -> Trajectory:
        series = {m: dict(self.access.series(table.equipment_id, m, start, end, step, "avg").points) for m in metrics}
        timestamps = tuple(sorted({ts for points in series.values() for ts in points}))
        values = {m: tuple(series[m].get(ts) for ts in timestamps) for m in metrics}
        return Trajectory(
            table.equipment_id, table.equipment_type, metrics, start, end, step, timestamps, values, alert_metrics
        )

    # -- batches and pairs ---------------------------------------------------

    def training_batch(self, size: int, anomaly_share: float) -> TrainingBatch:
        """``size`` states, ``round(size * anomaly_share)`` of them in alarm and the rest normal, shuffled."""
        _check_count("size", size, minimum=1)
        if not 0.0 <= anomaly_share <= 1.0:
            raise ValueError(f"anomaly_share must be between 0 and 1, got {anomaly_share}")
        anomalous = round(size * anomaly_share)
        states = self.alarm_states(anomalous) + self.normal_states(size - anomalous)
        return TrainingBatch(tuple(states[i] for i in self.rng.permutation(size)), anomaly_share)

    # -- statistics ----------------------------------------------------------

    def statistics(self, exact_rows: bool = True) -> DatasetStatistics:
        """Figures of the whole plant; ``exact_rows=False`` takes row counts from PostgreSQL's estimates
        (instant, where counting a 276 GB plant takes minutes)."""
        catalog, spans = self.access.catalog, self.spans()
        with self.access.connection() as conn:
            rows = _row_counts(conn, sorted(spans), exact_rows)
            alerts = conn.execute("SELECT equipment_id, severity, raised_at, cleared_at FROM alerts").fetchall()
        days = sum((last - first + READING_INTERVAL) / timedelta(days=1) for first, last in spans.values())
        type_of = {eq: table.equipment_type for eq, table in catalog.equipment.items()}
        alerts_of = Counter(type_of.get(a[0]) for a in alerts)
        active_of = Counter(type_of.get(a[0]) for a in alerts if a[3] is None)
        by_type = {
            t: TypeStatistics(t, len(ids), sum(rows.get(eq, 0) for eq in ids), alerts_of[t], active_of[t])
            for t, ids in catalog.types().items()
        }
        sample = self.config.statistics_sample if spans else 0
        rng = np.random.default_rng((self.seed, _STATISTICS_STREAM))
        anomalous = sum(s.anomalous for s in self._uniform_states(sample, None, rng)) if sample else 0
        return DatasetStatistics(
            tables=len(catalog.equipment),
            empty_tables=len(catalog.equipment) - len(spans),
            rows=sum(rows.values()),
            rows_exact=exact_rows,
            first=min((f for f, _ in spans.values()), default=None),
            last=max((last for _, last in spans.values()), default=None),
            equipment_days=round(days, 4),
            by_type=by_type,
            alerts=len(alerts),
            active_alerts=sum(1 for a in alerts if a[3] is None),
            alerts_by_severity={s: sum(1 for a in alerts if a[1] == s) for s in SEVERITIES},
            alerts_per_equipment_day=len(alerts) / days if days else 0.0,
            alarm_time_share=_alarm_time_share(alerts, spans),
            sampled_anomaly_share=anomalous / sample if sample else 0.0,
            sample_size=sample,
        )


# --------------------------------------------------------------------------- SQL

# The first alert at or after each probed id: one primary-key probe each.
_RANDOM_ALERTS_SQL = """
    SELECT a.equipment_id, a.raised_at, a.cleared_at
    FROM unnest(%s::bigint[]) WITH ORDINALITY AS p(id, i)
    CROSS JOIN LATERAL (SELECT equipment_id, raised_at, cleared_at FROM alerts
                        WHERE id >= p.id ORDER BY id LIMIT 1) AS a
    ORDER BY p.i
"""
# Metrics alerting on each (equipment, time): one index probe on alerts by equipment each.
_ALERTS_AT_SQL = """
    SELECT w.i, a.metrics
    FROM unnest(%s::text[], %s::timestamptz[]) WITH ORDINALITY AS w(eq, at, i)
    CROSS JOIN LATERAL (SELECT coalesce(array_agg(DISTINCT metric), '{}') AS metrics FROM alerts
                        WHERE equipment_id = w.eq AND raised_at <= w.at
                          AND (cleared_at IS NULL OR cleared_at > w.at)) AS a
    ORDER BY w.i
"""
# Metrics alerting at some time in each (equipment, [start, end)).
_ALERTS_DURING_SQL = """
    SELECT w.i, a.metrics
    FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) WITH ORDINALITY AS w(eq, start_at, end_at, i)
    CROSS JOIN LATERAL (SELECT coalesce(array_agg(DISTINCT metric), '{}') AS metrics FROM alerts
                        WHERE equipment_id = w.eq AND raised_at < w.end_at
                          AND (cleared_at IS NULL OR cleared_at > w.start_at)) AS a
    ORDER BY w.i
"""
_ESTIMATED_ROWS_SQL = """
    SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relname = ANY(%s)
"""


def _row_statement(table: EquipmentTable) -> sql.Composed:
    """For an array of instants: (position, the first row at or after each), one index probe each."""
    columns = [sql.Identifier("timestamp"), *(sql.Identifier(m) for m in table.metrics)]
    return sql.SQL(
        "SELECT s.i, r.* FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS s(at, i) "
        'CROSS JOIN LATERAL (SELECT {columns} FROM {table} WHERE "timestamp" >= s.at '
        'ORDER BY "timestamp" LIMIT 1) AS r'
    ).format(columns=sql.SQL(", ").join(columns), table=sql.Identifier(table.equipment_id))


def _alerts_at(conn, wanted: list[tuple[str, datetime]]) -> list[tuple[str, ...]]:
    if not wanted:
        return []
    rows = conn.execute(_ALERTS_AT_SQL, ([eq for eq, _ in wanted], [at for _, at in wanted])).fetchall()
    return [tuple(metrics) for _, metrics in rows]


def _alerts_during(conn, windows: list[tuple[str, datetime, datetime]]) -> list[tuple[str, ...]]:
    if not windows:
        return []
    rows = conn.execute(_ALERTS_DURING_SQL, tuple(list(column) for column in zip(*windows, strict=True))).fetchall()
    return [tuple(metrics) for _, metrics in rows]


def _row_counts(conn, tables: list[str], exact: bool) -> dict[str, int]:
    """Rows of each table with rows: counted, or PostgreSQL's estimate (a minute a row if never analysed)."""
    if not tables:
        return {}
    if exact:
        query = sql.SQL(" UNION ALL ").join(
            sql.SQL("(SELECT {id}::text, count(*) FROM {t})").format(id=sql.Literal(eq), t=sql.Identifier(eq))
            for eq in tables
        )
        return dict(conn.execute(query).fetchall())
    estimates = dict(conn.execute(_ESTIMATED_ROWS_SQL, (tables,)).fetchall())
    missing = [eq for eq in tables if estimates.get(eq, -1) < 0]
    spans = (
        conn.execute(
            sql.SQL(" UNION ALL ").join(
                sql.SQL('(SELECT {id}::text, max("timestamp") - min("timestamp") FROM {t})').format(
                    id=sql.Literal(eq), t=sql.Identifier(eq)
                )
                for eq in missing
            )
        ).fetchall()
        if missing
        else []
    )
    estimates.update({eq: span // READING_INTERVAL + 1 for eq, span in spans})
    return {eq: int(estimates[eq]) for eq in tables}


# --------------------------------------------------------------------------- helpers


def _check_count(name: str, value: int, minimum: int = 0) -> None:
    if not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")


def _between(start: datetime, end: datetime, fraction: float) -> datetime:
    return start + (end - start) * float(fraction)


def _floor(ts: datetime, width: timedelta) -> datetime:
    """``ts`` down to a multiple of ``width`` from the access layer's bucket origin (its buckets' edges)."""
    return ts - (ts - BUCKET_ORIGIN) % width


def _alarm_time_share(alerts: list[tuple], spans: dict[str, tuple[datetime, datetime]]) -> float:
    """Share of the tables' time (a row's minute each) under at least one active alert."""
    intervals: dict[str, list[tuple[datetime, datetime]]] = {}
    for eq, _, raised, cleared in alerts:
        if eq in spans:
            first, last = spans[eq]
            start, end = max(raised, first), min(cleared or last + READING_INTERVAL, last + READING_INTERVAL)
            if start < end:
                intervals.setdefault(eq, []).append((start, end))
    total = sum((last - first + READING_INTERVAL for first, last in spans.values()), timedelta(0))
    covered = sum((_union_length(parts) for parts in intervals.values()), timedelta(0))
    return covered / total if total else 0.0


def _union_length(intervals: list[tuple[datetime, datetime]]) -> timedelta:
    """Length of the union of ``intervals`` (overlapping alerts of one equipment count once)."""
    covered, reach = timedelta(0), None
    for start, end in sorted(intervals):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            covered += end - start
        reach = end if reach is None else max(reach, end)
    return covered
