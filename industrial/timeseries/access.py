"""Read access to the plant's time-series store: ``TimeSeriesDataAccess``.

One instance per process holds a ``psycopg_pool`` connection pool and the
introspected :class:`~industrial.timeseries.catalog.Catalog`. Every table and column
name is taken from the catalog and composed with ``psycopg.sql``; values are
always bound parameters. Unknown names raise typed errors with close matches.

Anomaly detection (``detect_anomalies``, ``anomaly_scan``) combines three
tests per metric, each against the equipment's own recent history:

* **limit** – the latest reading breaks the metric's engineering alarm limit
  (``industrial.plant.spec.METRIC_LIMITS``; low limits only while running);
* **deviation** – the mean of the recent window (default 15 min) has a robust
  z-score ``0.6745 · (x − median) / MAD`` above 3.5 (Iglewicz & Hoaglin)
  against a baseline of the same time of day (±1 h) over the previous days
  (default 7). Comparing like hours keeps the daily load cycle from reading
  as an anomaly; median and MAD ignore the outliers they are meant to find,
  unlike mean and stddev. Equipment with a running status is judged on its
  running rows only, and not at all while stopped (stopping is operation);
* **stuck** – the recent window is perfectly flat while the baseline moved.

Windows are anchored at the equipment's latest reading, not the wall clock,
so a plant seeded up to a fixed date is analysed the same way as a live one.

Aggregates over a window (``series`` in buckets of an hour or more, ``stats``
without percentiles, ``window_aggregates``) are read from the coarsest exact
source (``industrial.rollups``): daily rollups for the whole local days,
hourly ones for the whole hours left, raw rows at the ragged edges. They equal
the same aggregates over raw rows, to float rounding. Medians (percentiles,
the anomaly baselines' median and MAD) do not add up from buckets: those read
raw rows, over windows bounded by their method (days × 2 h for a baseline).
"""

from __future__ import annotations

import functools
import logging
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from industrial.errors import InvalidQuery, UnknownEquipment
from industrial.plant.spec import limit_for
from industrial.rollups import reading
from industrial.rollups.windows import NO_COVERAGE, Coverage, Shape, WindowPlan, days_are_whole_hours, plan_window
from industrial.timeseries.catalog import Catalog, EquipmentTable, MetricColumn, introspect

logger = logging.getLogger(__name__)

BUCKETS: dict[str, timedelta | None] = {
    "raw": None,
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "12h": timedelta(hours=12),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
}
"""Fixed-width buckets (``date_bin`` from ``BUCKET_ORIGIN``), and ``raw`` for rows."""
CALENDAR_BUCKETS = {"1mo": "month"}
"""Buckets of calendar months (``date_trunc``): no fixed width, so ``date_bin`` cannot make them."""
LOCAL_BUCKETS = {"1d": "day", "1w": "week", "1mo": "month"}
"""Buckets cut at the plant's local midnights (``date_trunc`` in its time zone): a day of a DST change is 23 or
25 hours long, and weeks start on Monday. Shorter buckets are cut in UTC from ``BUCKET_ORIGIN``."""
_HOURLY_BUCKETS = frozenset({"1h", "6h", "12h"})  # whole UTC hours nest in these
DAY = timedelta(hours=24)
BUCKET_CHOICES = (*BUCKETS, *CALENDAR_BUCKETS)
SHORTEST_MONTH = timedelta(days=28)  # a month bucket's width when counting points: never fewer than there are
AGGREGATIONS = ("avg", "min", "max", "sum", "first", "last", "count", "delta")
SEVERITIES = ("critical", "high", "medium", "low")
MAX_POINTS = 20_000  # a range query never returns more rows than this
Z_THRESHOLD = 3.5  # a robust z-score beyond this is anomalous (Iglewicz & Hoaglin)
# Where date_bin buckets start: a Monday at midnight UTC, so weeks run Monday to Sunday; every shorter width
# divides the two days from 1 January 2000, so their edges are those of that origin too.
BUCKET_ORIGIN = datetime.fromisoformat("2000-01-03T00:00:00+00:00")
_STATUS_METRICS = frozenset({"running_status"})
_ALERT_WHERE = """
    (NOT %(active)s OR a.cleared_at IS NULL)
    AND (cardinality(%(severities)s::text[]) = 0 OR a.severity = ANY(%(severities)s::text[]))
    AND (cardinality(%(ids)s::text[]) = 0 OR a.equipment_id = ANY(%(ids)s::text[]))
    AND (%(type)s::text IS NULL OR e.equipment_type = %(type)s)
    AND (%(start)s::timestamptz IS NULL OR a.raised_at >= %(start)s)
    AND (%(end)s::timestamptz IS NULL OR a.raised_at < %(end)s)
    AND (%(acknowledged)s::boolean IS NULL OR a.acknowledged = %(acknowledged)s)
"""

_AGG_SQL = {
    "avg": "avg({c})",
    "min": "min({c})",
    "max": "max({c})",
    "sum": "sum({c}::float8)",  # in float8: sum(real) would add up in float4
    "count": "count({c})",
    "first": '(array_agg({c} ORDER BY "timestamp"))[1]',
    "last": '(array_agg({c} ORDER BY "timestamp" DESC))[1]',
}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class EquipmentInfo:
    equipment_id: str
    equipment_type: str
    display_name: str
    building: str | None
    zone: str | None
    rated_capacity: float | None
    rated_unit: str | None
    install_date: str | None
    criticality: str | None
    metrics: list[MetricColumn]


@dataclass(frozen=True)
class Reading:
    equipment_id: str
    timestamp: datetime
    values: dict[str, float]
    units: dict[str, str]


@dataclass(frozen=True)
class Series:
    equipment_id: str
    metric: str
    unit: str
    bucket: str
    aggregation: str
    start: datetime
    end: datetime
    points: list[tuple[datetime, float | None]]


@dataclass(frozen=True)
class WindowAggregate:
    count: int
    mean: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class Profile:
    """One metric of one unit over a window, beside its usual level: the same clock hours on earlier days."""

    metric: str
    unit: str
    count: int
    mean: float | None
    min: float | None
    max: float | None
    last: float | None  # the window's newest reading
    usual: float | None  # the mean over the same hours of the previous days
    usual_spread: float | None  # the standard deviation of those readings
    usual_days: int  # how many previous days had readings in those hours


@dataclass(frozen=True)
class Stats:
    equipment_id: str
    metric: str
    unit: str
    start: datetime
    end: datetime
    count: int
    mean: float | None
    min: float | None
    max: float | None
    stddev: float | None
    p05: float | None
    median: float | None
    p95: float | None
    first: float | None
    last: float | None


@dataclass(frozen=True)
class Anomaly:
    equipment_id: str
    metric: str
    unit: str
    kind: str  # limit | deviation | stuck
    value: float
    baseline_median: float | None
    robust_z: float | None
    threshold: float | None
    severity: str
    detected_at: datetime


@dataclass(frozen=True)
class AlertRow:
    id: int
    equipment_id: str
    equipment_type: str
    display_name: str
    severity: str
    metric: str
    value: float | None
    threshold: float | None
    message: str
    raised_at: datetime
    cleared_at: datetime | None
    acknowledged: bool

    @property
    def active(self) -> bool:
        return self.cleared_at is None


@dataclass(frozen=True)
class FleetValue:
    equipment_id: str
    display_name: str
    timestamp: datetime
    value: float
    unit: str
    running: bool | None
    abnormal: bool
    reason: str | None


# --------------------------------------------------------------------------- access


class TimeSeriesDataAccess:
    """Typed queries over the plant's tables through a connection pool."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        catalog_ttl: float = 10.0,
        time_zone: str = "UTC",
        rollups: bool = True,
    ):
        """``time_zone``: whose days, weeks and months the local buckets are; ``rollups``: read aggregates from
        rollups where they hold (False: always raw rows, as a benchmark's baseline)."""
        self._pool = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            open=True,
            name="timeseries",
            kwargs={"autocommit": True},
            configure=_serial_statements if rollups else None,
        )
        self._catalog: Catalog | None = None
        self._catalog_loaded = 0.0
        self._catalog_ttl = catalog_ttl
        self._catalog_lock = threading.Lock()
        self._newest: tuple[float, datetime | None] | None = None
        self._first: dict[str, tuple[float, datetime | None]] = {}
        self._fleet_sql: dict[tuple, str] = {}
        self.time_zone = time_zone
        self.rollups = rollups
        self._coverage_seen: dict[str, tuple[float, Coverage]] = {}

    def close(self) -> None:
        self._pool.close()

    def connection(self):
        """A pooled connection (a context manager) for read statements composed elsewhere from this
        catalog's names, such as the RL samplers' (``rl/simulation/data_provider.py``)."""
        return self._pool.connection()

    # -- catalog -----------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self.refresh_catalog()
        return self._catalog

    def refresh_catalog(self) -> Catalog:
        with self._catalog_lock, self._pool.connection() as conn:
            self._catalog = introspect(conn)
            self._catalog_loaded = time.monotonic()
            self._fleet_sql.clear()
        logger.info(
            "catalog: %d equipment tables of %d types", len(self._catalog.equipment), len(self._catalog.types())
        )
        return self._catalog

    def _table(self, equipment_id: object) -> EquipmentTable:
        try:
            return self.catalog.table(equipment_id)
        except UnknownEquipment:
            # A table may have been created since we looked (seeding, a new meter); look again, rarely.
            if time.monotonic() - self._catalog_loaded < self._catalog_ttl:
                raise
            return self.refresh_catalog().table(equipment_id)

    def metric(self, equipment_id: object, metric: object) -> MetricColumn:
        """The catalog's column ``metric`` of ``equipment_id`` (unit included), or a typed error."""
        self._table(equipment_id)
        return self.catalog.metric(equipment_id, metric)

    def _fleet_statement(self, conn, key: tuple, build) -> str:
        """The text of a statement over many tables, composed once per ``key``.

        Composing a UNION over 60 tables with ``psycopg.sql`` costs tens of
        milliseconds; the text depends only on the catalog, so it is kept.
        Re-sent identical text is also prepared by psycopg after a few uses,
        so PostgreSQL plans it once per connection.
        """
        text = self._fleet_sql.get(key)
        if text is None:
            text = self._fleet_sql[key] = build().as_string(conn)
        return text

    # -- equipment ----------------------------------------------------------

    def list_equipment(self, equipment_type: str | None = None) -> list[EquipmentInfo]:
        ids = self.catalog.ids_of_type(equipment_type) if equipment_type is not None else sorted(self.catalog.equipment)
        return [self.equipment(eq_id) for eq_id in ids]

    def equipment_types(self) -> dict[str, int]:
        return {t: len(ids) for t, ids in self.catalog.types().items()}

    def equipment(self, equipment_id: str) -> EquipmentInfo:
        table = self._table(equipment_id)
        meta = table.metadata
        install = meta.get("install_date")
        return EquipmentInfo(
            equipment_id=table.equipment_id,
            equipment_type=table.equipment_type,
            display_name=table.display_name,
            building=meta.get("building"),
            zone=meta.get("zone"),
            rated_capacity=meta.get("rated_capacity"),
            rated_unit=meta.get("rated_unit"),
            install_date=install.isoformat() if install else None,
            criticality=meta.get("criticality"),
            metrics=list(table.metrics.values()),
        )

    def metrics(self, equipment_id: str) -> list[MetricColumn]:
        return list(self._table(equipment_id).metrics.values())

    # -- readings -----------------------------------------------------------

    def latest(self, equipment_id: str, metrics: list[str] | None = None) -> Reading | None:
        """The newest row of ``equipment_id`` (only ``metrics`` if given), or None for an empty table."""
        table = self._table(equipment_id)
        columns = [self.metric(equipment_id, m) for m in metrics] if metrics else list(table.metrics.values())
        query = sql.SQL('SELECT "timestamp", {} FROM {} ORDER BY "timestamp" DESC LIMIT 1').format(
            sql.SQL(", ").join(sql.Identifier(c.name) for c in columns), sql.Identifier(table.equipment_id)
        )
        with self._pool.connection() as conn:
            row = conn.execute(query).fetchone()
        if row is None:
            return None
        return Reading(
            equipment_id=table.equipment_id,
            timestamp=row[0],
            values={c.name: _num(v) for c, v in zip(columns, row[1:], strict=True)},
            units={c.name: c.unit for c in columns},
        )

    def series(
        self,
        equipment_id: str,
        metric: str,
        start: datetime,
        end: datetime,
        bucket: str = "1h",
        aggregation: str = "avg",
        *,
        time_zone: str | None = None,
    ) -> Series:
        """Values of ``metric`` in ``[start, end)``: raw rows, or buckets aggregated (days, weeks and months
        of ``time_zone``, by default the plant's).

        ``delta`` is for cumulative counters (``energy_kwh``, ``run_hours``): the
        increase over each bucket, measured from the last reading before it,
        so the deltas of consecutive buckets add up to the total increase.
        """
        column = self.metric(equipment_id, metric)
        _check_window(start, end)
        if bucket not in BUCKET_CHOICES:
            raise InvalidQuery("bucket", f"must be one of {', '.join(BUCKET_CHOICES)}, got {bucket!r}")
        if aggregation not in AGGREGATIONS:
            raise InvalidQuery("agg", f"must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}")
        table, col = sql.Identifier(equipment_id), sql.Identifier(column.name)
        raw = bucket == "raw"
        params = {"start": start, "end": end, "width": BUCKETS.get(bucket), "origin": BUCKET_ORIGIN,
                  "zone": time_zone or self.time_zone, "limit": MAX_POINTS + 1}  # fmt: skip
        if raw:
            query = sql.SQL(
                'SELECT "timestamp", {c} FROM {t} WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s '
                'ORDER BY "timestamp" LIMIT %(limit)s'
            ).format(c=col, t=table)
            rows = self._rows(query, params)
        else:
            _check_points(bucket, end - start)
            raw_query = _bucket_query(table, col, aggregation, _bucket_sql(bucket))
            plan = self._plan([equipment_id], start, end, bucket=bucket, time_zone=params["zone"])

            def planned() -> str:
                parts = reading.parts_sql(equipment_id, column.name, plan.shape)
                check = reading.coverage_check_sql([equipment_id], plan.shape)
                return _parts_bucket_query(parts, table, col, aggregation, _bucket_sql(bucket, "t"), check).as_string()

            key = ("series", equipment_id, column.name, bucket, aggregation, plan and plan.shape)
            rows = self._planned_rows(key, planned, plan, params, raw_query)
        if raw and len(rows) > MAX_POINTS:
            raise InvalidQuery("bucket", f"more than {MAX_POINTS} raw rows in this window; use a bucket")
        return Series(
            equipment_id,
            column.name,
            column.unit,
            bucket,
            "raw" if raw else aggregation,
            start,
            end,
            [(ts, _num(v)) for ts, v in rows],
        )

    def counter_increase(self, equipment_id: str, metric: str, start: datetime, end: datetime) -> float | None:
        """How much a cumulative counter (``energy_kwh``) rose over ``[start, end)``.

        Measured like the ``delta`` buckets of :meth:`series`: the last reading
        before ``end`` minus the last reading before ``start`` (or, with no
        reading before the window, its first reading). None without readings.
        """
        return self.counter_increases([equipment_id], metric, start, end)[equipment_id]

    def counter_increases(self, equipment_ids: list[str], metric: str, start: datetime, end: datetime):
        """:meth:`counter_increase` for several equipment in one statement: ``{id: increase or None}``."""
        _check_window(start, end)
        part = sql.SQL(
            "SELECT {id}::text, "
            '(SELECT {c} FROM {t} WHERE "timestamp" < %(end)s ORDER BY "timestamp" DESC LIMIT 1)::float8 - coalesce('
            '(SELECT {c} FROM {t} WHERE "timestamp" < %(start)s ORDER BY "timestamp" DESC LIMIT 1), '
            '(SELECT {c} FROM {t} WHERE "timestamp" >= %(start)s ORDER BY "timestamp" LIMIT 1))::float8'
        )
        rows = self._per_table("increase", equipment_ids, metric, part, {"start": start, "end": end})
        return dict(rows)

    def _per_table(self, key: str, equipment_ids: list[str], metric: str, part: sql.SQL, params: dict) -> list:
        """One ``part`` per equipment (``{id}``, ``{c}``, ``{t}`` filled from the catalog), as one UNION ALL."""
        columns = [self.metric(eq, metric) for eq in equipment_ids]

        def build() -> sql.Composed:
            return sql.SQL(" UNION ALL ").join(
                part.format(id=sql.Literal(eq), c=sql.Identifier(col.name), t=sql.Identifier(eq))
                for eq, col in zip(equipment_ids, columns, strict=True)
            )

        with self._pool.connection() as conn:
            query = self._fleet_statement(conn, (key, tuple(equipment_ids), metric), build)
            return conn.execute(query, params).fetchall()

    def window_aggregates(
        self, equipment_ids: list[str], metric: str, start: datetime, end: datetime
    ) -> dict[str, WindowAggregate]:
        """Count, mean, min and max of ``metric`` over ``[start, end)`` for many equipment in one statement.

        What a fleet ranked over a window needs ("which pump vibrated most yesterday"), without the sorts
        that :meth:`stats`' percentiles cost per table.
        """
        _check_window(start, end)
        part = sql.SQL(
            "SELECT {id}::text, count({c}), avg({c})::float8, min({c})::float8, max({c})::float8 FROM {t} "
            'WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s'
        )
        if not equipment_ids:
            return {}
        plan = self._plan(equipment_ids, start, end)
        params = {"start": start, "end": end}
        if plan is None or not plan.uses_rollups:
            rows = self._per_table("window", equipment_ids, metric, part, params)
        else:
            columns = [self.metric(eq, metric) for eq in equipment_ids]

            def planned() -> str:
                union = sql.SQL(" UNION ALL ").join(
                    sql.SQL(
                        "SELECT {id}::text AS id, coalesce(sum(n), 0) AS n, sum(s) / nullif(sum(n), 0) AS mean, "
                        "min(mn)::float8 AS low, max(mx)::float8 AS high FROM {parts} AS p"
                    ).format(id=sql.Literal(eq), parts=reading.parts_sql(eq, col.name, plan.shape))
                    for eq, col in zip(equipment_ids, columns, strict=True)
                )
                check = reading.coverage_check_sql(equipment_ids, plan.shape)
                return sql.SQL("SELECT q.*, {} FROM ({}) AS q").format(check, union).as_string()

            def fallback() -> list:
                return self._per_table("window", equipment_ids, metric, part, params)

            key = ("window", tuple(equipment_ids), metric, plan.shape)
            rows = self._planned_rows(key, planned, plan, params, fallback)
        return {eq: WindowAggregate(int(n), _num(mean), _num(low), _num(high)) for eq, n, mean, low, high in rows}

    def profile(
        self, equipment_id: str, metrics: list[str], start: datetime, end: datetime, *, days: int = 7
    ) -> dict[str, Profile]:
        """Each of ``metrics`` over ``[start, end)`` and over the same clock hours of the ``days`` days before.

        One statement: the window's rows and each earlier day's like window, one index range scan each. What a
        diagnosis compares a reading with ("its usual for this hour"), the daily load cycle included.
        """
        _check_window(start, end)
        if not 1 <= days <= 31:
            raise InvalidQuery("days", f"must be between 1 and 31, got {days}")
        table = self._table(equipment_id)
        columns = [self.metric(equipment_id, m) for m in dict.fromkeys(metrics)]
        if not columns:
            return {}
        per_column = sql.SQL(", ").join(
            sql.SQL(
                "avg({c}) FILTER (WHERE d = 0)::float8, min({c}) FILTER (WHERE d = 0)::float8, "
                "max({c}) FILTER (WHERE d = 0)::float8, "
                '(array_agg({c} ORDER BY "timestamp" DESC) FILTER (WHERE d = 0 AND {c} IS NOT NULL))[1]::float8, '
                "avg({c}) FILTER (WHERE d > 0)::float8, stddev_samp({c}) FILTER (WHERE d > 0)::float8, "
                "count(DISTINCT d) FILTER (WHERE d > 0 AND {c} IS NOT NULL), count({c}) FILTER (WHERE d = 0)"
            ).format(c=sql.Identifier(c.name))
            for c in columns
        )
        names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
        query = sql.SQL(
            'WITH w AS MATERIALIZED (SELECT 0 AS d, "timestamp", {names} FROM {t} '
            'WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s '
            'UNION ALL SELECT k.d, b."timestamp", {b_names} FROM generate_series(1, %(days)s) AS k(d) JOIN {t} b '
            "ON b.\"timestamp\" >= %(start)s - k.d * interval '24 hours' "
            "AND b.\"timestamp\" < %(end)s - k.d * interval '24 hours') "
            "SELECT {per_column} FROM w"
        ).format(
            names=names,
            b_names=sql.SQL(", ").join(sql.SQL("b.{}").format(sql.Identifier(c.name)) for c in columns),
            t=sql.Identifier(table.equipment_id),
            per_column=per_column,
        )
        try:
            plans = [self._plan([equipment_id], start - k * DAY, end - k * DAY) for k in range(days + 1)]
        except OverflowError:  # a window reaching year 1: raw rows answer it (they are all there is)
            plans = [None]
        params = {"start": start, "end": end, "days": days}
        bound, shapes = None, [p.shape for p in plans if p is not None]
        if len(shapes) == len(plans) and any(p.uses_rollups for p in plans):
            bound = {name: v for k, plan in enumerate(plans) for name, v in plan.params(f"w{k}_").items()}
            # One check for every window: each grain read covered up to the latest bucket any window reads.
            windows = range(len(plans))
            bound["hour_end"] = max(bound[f"w{k}_hour_end"] for k in windows)
            bound["d1"], bound["day_zone"] = max(bound[f"w{k}_d1"] for k in windows), plans[0].day_zone
            widest = Shape(max(s.day for s in shapes), max(s.hours for s in shapes), 0)

        def planned() -> str:
            each = [reading.profile_sql(equipment_id, c.name, shapes) for c in columns]
            joined = sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(q, sql.Identifier(f"m{i}")) for i, q in enumerate(each)
            )
            check = reading.coverage_check_sql([equipment_id], widest)
            return sql.SQL("SELECT *, {} FROM {}").format(check, joined).as_string()

        key = ("profile", equipment_id, tuple(c.name for c in columns), tuple(shapes))
        row = self._planned_rows(key, planned, bound, params, query)[0]
        found = {}
        for i, c in enumerate(columns):
            mean, low, high, last, usual, spread, usual_days, count = row[8 * i : 8 * i + 8]
            found[c.name] = Profile(
                c.name, c.unit, int(count), _num(mean), _num(low), _num(high), _num(last), _num(usual),
                _num(spread), int(usual_days),
            )  # fmt: skip
        return found

    def first_reading(self, equipment_id: str, max_age: float = 60.0) -> datetime | None:
        """When ``equipment_id``'s data starts (its oldest row), or None for an empty table; cached ``max_age``
        seconds (it moves only when old rows are deleted)."""
        cached = self._first.get(equipment_id)
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1]
        query = sql.SQL('SELECT min("timestamp") FROM {}').format(
            sql.Identifier(self._table(equipment_id).equipment_id)
        )
        with self._pool.connection() as conn:
            first = conn.execute(query).fetchone()[0]
        self._first[equipment_id] = (time.monotonic(), first)
        return first

    def newest_reading(self, max_age: float = 5.0) -> datetime | None:
        """The newest timestamp in the plant (the first table of each type), cached for ``max_age`` seconds.

        The orchestrator's "now": the wall clock on a live plant, the end of
        the data on one seeded up to a fixed date.
        """
        cached = self._newest
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1]
        readings = [self.latest(ids[0]) for ids in self.catalog.types().values()]
        newest = max((r.timestamp for r in readings if r is not None), default=None)
        self._newest = (time.monotonic(), newest)
        return newest

    def stats(
        self, equipment_id: str, metric: str, start: datetime, end: datetime, *, percentiles: bool = True
    ) -> Stats:
        """Summary statistics of ``metric`` over ``[start, end)``.

        Percentiles need every reading: with ``percentiles=False`` they are None and the rest is read from
        rollups where they hold (what a spoken answer needs, in milliseconds over years).
        """
        column = self.metric(equipment_id, metric)
        _check_window(start, end)
        c, t = sql.Identifier(column.name), sql.Identifier(equipment_id)
        params = {"start": start, "end": end}
        quantiles = sql.SQL(
            "percentile_cont(0.05) WITHIN GROUP (ORDER BY {c}), percentile_cont(0.5) WITHIN GROUP (ORDER BY {c}), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY {c}), "
        ).format(c=c)
        raw_query = sql.SQL(
            "SELECT count({c}), avg({c}), min({c}), max({c}), stddev_samp({c}), {quantiles}"
            '(array_agg({c} ORDER BY "timestamp"))[1], (array_agg({c} ORDER BY "timestamp" DESC))[1] '
            'FROM {t} WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s'
        ).format(c=c, t=t, quantiles=quantiles if percentiles else sql.SQL(""))
        if percentiles:
            row = self._rows(raw_query, params)[0]
            return Stats(equipment_id, column.name, column.unit, start, end, int(row[0]), *map(_num, row[1:]))
        plan = self._plan([equipment_id], start, end)

        def planned() -> str:
            parts = reading.parts_sql(equipment_id, column.name, plan.shape)
            return reading.stats_sql(parts, reading.coverage_check_sql([equipment_id], plan.shape)).as_string()

        key = ("stats", equipment_id, column.name, plan and plan.shape)
        n, mean, low, high, spread, first, last = self._planned_rows(key, planned, plan, params, raw_query)[0]
        return Stats(
            equipment_id, column.name, column.unit, start, end, int(n), *map(_num, (mean, low, high, spread)),
            None, None, None, _num(first), _num(last),
        )  # fmt: skip

    # -- rollups --------------------------------------------------------------

    def _rows(self, query, params: dict) -> list:
        with self._pool.connection() as conn:
            return conn.execute(query, params).fetchall()

    def _planned_rows(self, key: tuple, planned, plan: WindowPlan | dict | None, params: dict, fallback) -> list:
        """Rows of the rollup statement ``planned()`` (its text cached under ``key``) over ``plan`` (or plans'
        bound parameters), or of ``fallback`` (a raw statement, or a function giving rows) where no rollup helps
        or the rollups changed under the plan.

        A rollup statement's rows end with its coverage check; a row that says False (rollups rebuilt since we
        looked) or no row at all means the answer is read from raw rows instead.
        """
        if isinstance(plan, WindowPlan):
            plan = plan.params() if plan.uses_rollups else None
        if plan is not None:
            with self._pool.connection() as conn:
                text = self._fleet_sql.get(key)
                if text is None:
                    text = self._fleet_sql[key] = planned()
                try:
                    rows = conn.execute(text, {**params, **plan}).fetchall()
                except psycopg.errors.UndefinedTable:
                    logger.warning("rollups vanished under a query; reading raw rows")
                    rows = [(False,)]
            if rows and all(row[-1] for row in rows):
                return [row[:-1] for row in rows]
            if rows:
                logger.info("rollups changed under a plan; reading raw rows and looking again")
                self._coverage_seen.clear()
        return fallback() if callable(fallback) else self._rows(fallback, params)

    def _plan(
        self, equipment_ids: list[str], start: datetime, end: datetime, bucket: str | None = None, time_zone=None
    ) -> WindowPlan | None:
        """How to cut ``[start, end)`` for buckets ``bucket`` (None: one aggregate over the window), the same
        for every equipment given (their least coverage); None when rollups cannot serve these buckets."""
        if not self.rollups or (bucket is not None and bucket not in _HOURLY_BUCKETS | LOCAL_BUCKETS.keys()):
            return None
        seen = [self._coverage(eq) for eq in equipment_ids]
        zones = {c.day_zone for c in seen}
        common = Coverage(
            hour=None if any(c.hour is None for c in seen) else min(c.hour for c in seen),
            day=None if len(zones) != 1 or any(c.day is None for c in seen) else min(c.day for c in seen),
            day_zone=zones.pop() if len(zones) == 1 else None,
        )
        try:
            if bucket is None:
                return plan_window(start, end, common, day_zone=common.day_zone)
            if bucket in _HOURLY_BUCKETS:
                return plan_window(start, end, common)
            return plan_window(start, end, common, hours=days_are_whole_hours(time_zone), day_zone=time_zone)
        except OverflowError:  # a window at the calendar's ends (year 1, year 9999): raw rows answer it
            return None

    def _coverage(self, equipment_id: str) -> Coverage:
        """How far ``equipment_id``'s rollups reach, as last read (re-read after ``catalog_ttl`` seconds: a stale
        answer costs speed, not exactness, since every statement checks the state again)."""
        now = time.monotonic()
        cached = self._coverage_seen.get(equipment_id)
        if cached is not None and now - cached[0] < self._catalog_ttl:
            return cached[1]
        found: dict[str, Coverage] = {}
        try:
            with self._pool.connection() as conn:
                rows = conn.execute(
                    "SELECT equipment_id, grain, time_zone, through FROM cc_rollups.state WHERE equipment_id = ANY(%s)",
                    (list(self.catalog.equipment),),
                ).fetchall()
        except psycopg.errors.UndefinedTable:
            rows = []  # no rollups in this database (yet): raw rows answer everything
        for eq, grain, zone, through in rows:
            had = found.get(eq, NO_COVERAGE)
            found[eq] = Coverage(
                hour=through if grain == "hour" else had.hour,
                day=through if grain == "day" else had.day,
                day_zone=zone if grain == "day" else had.day_zone,
            )
        for eq in self.catalog.equipment:
            self._coverage_seen[eq] = (now, found.get(eq, NO_COVERAGE))
        return self._coverage_seen.get(equipment_id, (now, NO_COVERAGE))[1]

    # -- anomalies ----------------------------------------------------------

    def detect_anomalies(
        self,
        equipment_id: str,
        metrics: list[str] | None = None,
        *,
        baseline: timedelta = timedelta(days=7),
        recent: timedelta = timedelta(minutes=15),
        z_threshold: float = Z_THRESHOLD,
    ) -> list[Anomaly]:
        """Anomalies of one equipment now (see the module docstring for the method)."""
        table = self._table(equipment_id)
        columns = [self.metric(equipment_id, m) for m in metrics] if metrics else list(table.metrics.values())
        return self._scan([table], columns, baseline, recent, z_threshold)

    def anomaly_scan(
        self,
        equipment_type: str,
        *,
        baseline: timedelta = timedelta(days=7),
        recent: timedelta = timedelta(minutes=15),
        z_threshold: float = Z_THRESHOLD,
    ) -> list[Anomaly]:
        """Anomalies across every equipment of ``equipment_type``, most severe first."""
        tables = [self.catalog.table(eq) for eq in self.catalog.ids_of_type(equipment_type)]
        found: list[Anomaly] = []
        for columns, group in _by_columns(tables).items():  # one statement per column layout (normally one)
            found += self._scan(group, list(columns), baseline, recent, z_threshold)
        return sorted(found, key=lambda a: (SEVERITIES.index(a.severity), -abs(a.robust_z or 0.0)))

    def _scan(self, tables, columns, baseline, recent, z_threshold) -> list[Anomaly]:
        """Judge ``columns`` of every table in ``tables`` with one statement: one row of statistics per table."""
        columns = [c for c in columns if c.name not in _STATUS_METRICS]
        if not columns:
            return []
        key = ("scan", tuple(t.equipment_id for t in tables), tuple(c.name for c in columns))
        params = {"days": max(1, baseline.days), "recent": recent, "hour_window": timedelta(hours=1)}
        with self._pool.connection() as conn:
            build = lambda: sql.SQL(" UNION ALL ").join(_anomaly_stats_query(t, columns) for t in tables)  # noqa: E731
            rows = conn.execute(self._fleet_statement(conn, key, build), params).fetchall()
        by_id = {t.equipment_id: t for t in tables}
        return [a for row in rows if row[1] is not None for a in _anomalies(by_id[row[0]], columns, row, z_threshold)]

    # -- alerts -------------------------------------------------------------

    def alerts(
        self,
        *,
        active_only: bool = False,
        severity: str | list[str] | None = None,
        equipment_id: str | list[str] | None = None,
        equipment_type: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        acknowledged: bool | None = None,
        limit: int = 100,
    ) -> list[AlertRow]:
        """Alerts, newest first: active only, by severity, equipment (one id or several) or type, raised in
        ``[start, end)``, acknowledged or not (None: either)."""
        if not 1 <= limit <= 10_000:
            raise InvalidQuery("limit", f"must be between 1 and 10000, got {limit}")
        params = self._alert_filter(active_only, severity, equipment_id, equipment_type, start, end, acknowledged)
        query = f"""
            SELECT a.id, a.equipment_id, coalesce(e.equipment_type, ''), coalesce(e.display_name, a.equipment_id),
                   a.severity, a.metric, a.value, a.threshold, a.message, a.raised_at, a.cleared_at, a.acknowledged
            FROM alerts a LEFT JOIN equipment e USING (equipment_id)
            WHERE {_ALERT_WHERE}
            ORDER BY a.raised_at DESC, a.id DESC
            LIMIT %(limit)s
        """
        with self._pool.connection() as conn:
            return [AlertRow(*row) for row in conn.execute(query, {**params, "limit": limit})]

    def alert_counts(
        self,
        *,
        active_only: bool = False,
        severity: str | list[str] | None = None,
        equipment_id: str | list[str] | None = None,
        equipment_type: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        acknowledged: bool | None = None,
    ) -> dict[str, int]:
        """How many alerts match (the filters of :meth:`alerts`), by severity, every severity present."""
        params = self._alert_filter(active_only, severity, equipment_id, equipment_type, start, end, acknowledged)
        query = f"""
            SELECT a.severity, count(*) FROM alerts a LEFT JOIN equipment e USING (equipment_id)
            WHERE {_ALERT_WHERE} GROUP BY a.severity
        """
        with self._pool.connection() as conn:
            counts = dict(conn.execute(query, params).fetchall())
        return {s: counts.get(s, 0) for s in SEVERITIES}

    def _alert_filter(
        self, active_only, severity, equipment_id, equipment_type, start, end, acknowledged=None
    ) -> dict[str, object]:
        """Validated bind parameters for ``_ALERT_WHERE``."""
        severities = [severity] if isinstance(severity, str) else list(severity or [])
        for s in severities:
            if s not in SEVERITIES:
                raise InvalidQuery("severity", f"must be one of {', '.join(SEVERITIES)}, got {s!r}")
        ids = [equipment_id] if isinstance(equipment_id, str) else list(equipment_id or [])
        for eq in ids:
            self._table(eq)
        if equipment_type is not None:
            self.catalog.ids_of_type(equipment_type)
        if start and end:
            _check_window(start, end)
        return {
            "active": active_only,
            "severities": severities,
            "ids": ids,
            "type": equipment_type,
            "start": start,
            "end": end,
            "acknowledged": acknowledged,
        }

    # -- fleet --------------------------------------------------------------

    def fleet_latest(
        self,
        equipment_type: str,
        metric: str,
        *,
        descending: bool = True,
        limit: int | None = None,
        z_threshold: float = Z_THRESHOLD,
    ) -> list[FleetValue]:
        """The latest ``metric`` of every equipment of a type, ranked, each flagged if abnormal.

        Abnormal means its alarm limit is broken, or it sits far from its
        running peers (robust z-score beyond ``z_threshold`` against the fleet's median/MAD).
        """
        ids = self.catalog.ids_of_type(equipment_type)
        columns = [self.metric(eq_id, metric) for eq_id in ids]
        status = [self.catalog.equipment[eq_id].has_running_status for eq_id in ids]

        def build() -> sql.Composed:
            return sql.SQL(" UNION ALL ").join(
                sql.SQL(
                    '(SELECT {id}::text, "timestamp", {c}::float8, {s} FROM {t} ORDER BY "timestamp" DESC LIMIT 1)'
                ).format(
                    id=sql.Literal(eq_id),
                    c=sql.Identifier(col.name),
                    t=sql.Identifier(eq_id),
                    s=sql.SQL("running_status::float8") if has_status else sql.SQL("NULL::float8"),
                )
                for eq_id, col, has_status in zip(ids, columns, status, strict=True)
            )

        with self._pool.connection() as conn:
            rows = conn.execute(self._fleet_statement(conn, ("fleet", tuple(ids), metric), build)).fetchall()
        values = _rank_fleet(self.catalog, equipment_type, metric, columns[0].unit, rows, z_threshold)
        values.sort(key=lambda v: v.value, reverse=descending)
        return values[:limit] if limit else values

    def fleet_abnormal(self, equipment_type: str, metric: str) -> list[FleetValue]:
        return [v for v in self.fleet_latest(equipment_type, metric) if v.abnormal]


# --------------------------------------------------------------------------- helpers


def _serial_statements(conn: psycopg.Connection) -> None:
    """Read rollups in this connection's own process: a fleet's statement (a few index scans per table) costs
    enough for PostgreSQL to start parallel workers and JIT-compile it, which took longer than the reading
    (a 112-meter year: 350 ms with them, 230 ms without, on two cores). Long raw scans, now rare, go serial."""
    conn.execute("SET max_parallel_workers_per_gather = 0")
    conn.execute("SET jit = off")


def _num(value) -> float | None:
    return None if value is None else float(value)


def _check_window(start: datetime, end: datetime) -> None:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise InvalidQuery(name, "must be a timezone-aware datetime")
    if start >= end:
        raise InvalidQuery("start", f"must be before end ({start.isoformat()} >= {end.isoformat()})")


def bucket_width(bucket: str) -> timedelta:
    """A bucket's width, a month's the shortest one's (so a count of buckets is never an undercount); not raw."""
    return BUCKETS.get(bucket) or SHORTEST_MONTH


def _check_points(bucket: str, span: timedelta) -> None:
    """Refuse buckets that would give more than ``MAX_POINTS`` over ``span``, naming wider ones that fit."""
    if span / bucket_width(bucket) <= MAX_POINTS:
        return
    wider = [b for b in BUCKET_CHOICES[BUCKET_CHOICES.index(bucket) + 1 :] if span / bucket_width(b) <= MAX_POINTS]
    advice = "use wider buckets" if wider else "use a shorter window"
    raise InvalidQuery("bucket", f"{bucket} buckets over this window exceed {MAX_POINTS} points; {advice}")


def _bucket_sql(bucket: str, column: str = "timestamp") -> sql.Composable:
    """The bucket of each row: ``date_trunc`` in the plant's zone (``%(zone)s``) for days, weeks and months,
    ``date_bin`` from ``BUCKET_ORIGIN`` for shorter widths."""
    if bucket in LOCAL_BUCKETS:
        return sql.SQL("date_trunc({field}, {c}, %(zone)s)").format(
            field=sql.Literal(LOCAL_BUCKETS[bucket]), c=sql.Identifier(column)
        )
    return sql.SQL("date_bin(%(width)s, {c}, %(origin)s)").format(c=sql.Identifier(column))


def _parts_bucket_query(
    parts: sql.Composable,
    table: sql.Identifier,
    col: sql.Identifier,
    aggregation: str,
    bucket: sql.Composable,
    check: sql.Composable,
) -> sql.Composed:
    """``_bucket_query`` over parts (``reading.parts_sql``) instead of rows, each row ending with ``check``: the
    same buckets, the same values."""
    if aggregation != "delta":
        return sql.SQL(
            "SELECT {b} AS bucket, " + reading.COMBINE[aggregation] + ", {check} "
            "FROM {parts} AS p GROUP BY bucket ORDER BY bucket"
        ).format(b=bucket, parts=parts, check=check)
    return sql.SQL(
        "WITH b AS (SELECT {b} AS bucket, "
        + reading.COMBINE["last"]
        + " AS last_value, "
        + reading.COMBINE["first"]
        + " AS first_value FROM {parts} AS p GROUP BY bucket), "
        'before AS (SELECT {c} AS v FROM {t} WHERE "timestamp" < %(start)s ORDER BY "timestamp" DESC LIMIT 1) '
        "SELECT bucket, last_value - coalesce(lag(last_value) OVER (ORDER BY bucket), "
        "(SELECT v FROM before), first_value), {check} FROM b ORDER BY bucket"
    ).format(b=bucket, parts=parts, c=col, t=table, check=check)


def _bucket_query(table: sql.Identifier, col: sql.Identifier, aggregation: str, bucket: sql.Composable) -> sql.Composed:
    if aggregation != "delta":
        return sql.SQL(
            "SELECT {b} AS bucket, " + _AGG_SQL[aggregation] + " "
            'FROM {t} WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s GROUP BY bucket ORDER BY bucket'
        ).format(b=bucket, c=col, t=table)
    # Increase per bucket = its last reading minus the previous bucket's (or the reading before the window),
    # whatever the bucket's shape: the lag runs over the buckets in order.
    return sql.SQL(
        "WITH b AS (SELECT {b} AS bucket, "
        '(array_agg({c} ORDER BY "timestamp" DESC))[1] AS last_value, '
        '(array_agg({c} ORDER BY "timestamp"))[1] AS first_value '
        'FROM {t} WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s GROUP BY bucket), '
        'before AS (SELECT {c} AS v FROM {t} WHERE "timestamp" < %(start)s ORDER BY "timestamp" DESC LIMIT 1) '
        "SELECT bucket, last_value - coalesce(lag(last_value) OVER (ORDER BY bucket), "
        "(SELECT v FROM before), first_value) FROM b ORDER BY bucket"
    ).format(b=bucket, c=col, t=table)


def _by_columns(tables: list[EquipmentTable]) -> dict[tuple[MetricColumn, ...], list[EquipmentTable]]:
    groups: dict[tuple[MetricColumn, ...], list[EquipmentTable]] = {}
    for table in tables:
        groups.setdefault(tuple(table.metrics.values()), []).append(table)
    return groups


def _anomaly_stats_query(table: EquipmentTable, columns: list[MetricColumn]) -> sql.Composed:
    """One row for ``table``: id, latest timestamp, running now, recent row count, then per column
    (latest, recent mean, recent range, baseline median, baseline MAD).

    Rows: the recent window, and the same hour (±1 h) on each previous day, one
    index range scan each; for equipment with a running status only running
    rows count. Three aggregate passes over them give every statistic.
    """
    t = sql.Identifier(table.equipment_id)
    latest_ts = sql.SQL('(SELECT "timestamp" FROM latest)')
    ran = sql.SQL("running_status >= 0.5") if table.has_running_status else sql.SQL("true")
    status = sql.SQL("(SELECT running_status FROM latest)::float8") if table.has_running_status else sql.SQL("NULL")
    cols = [sql.Identifier(c.name) for c in columns]

    def each(template: str) -> sql.Composed:
        """``template`` for every column: {c} is the column, {i} {mean} {range} its aliases."""
        return sql.SQL(", ").join(
            sql.SQL(template).format(
                c=c, i=sql.Identifier(f"c{i}"), mean=sql.Identifier(f"c{i}_mean"), range=sql.Identifier(f"c{i}_range")
            )
            for i, c in enumerate(cols)
        )

    return sql.SQL(
        '(WITH latest AS (SELECT * FROM {t} ORDER BY "timestamp" DESC LIMIT 1), '
        "w AS MATERIALIZED ("
        'SELECT true AS recent, r.* FROM {t} r WHERE r."timestamp" > {latest_ts} - %(recent)s AND {ran} '
        "UNION ALL "
        "SELECT false, b.* FROM generate_series(1, %(days)s) AS k(d) JOIN {t} b "
        "ON b.\"timestamp\" > {latest_ts} - d * interval '1 day' - %(hour_window)s "
        "AND b.\"timestamp\" <= {latest_ts} - d * interval '1 day' + %(hour_window)s WHERE {ran}), "
        "med AS (SELECT {medians} FROM w WHERE NOT recent) "
        "SELECT {id}, {latest_ts}, {status}, rec.n, {per_column} FROM "
        "(SELECT count(*) AS n, {recents} FROM w WHERE recent) rec, med, "
        "(SELECT {mads} FROM w, med m WHERE NOT w.recent) mad, latest)"
    ).format(
        t=t,
        latest_ts=latest_ts,
        ran=ran,
        status=status,
        id=sql.Literal(table.equipment_id),
        medians=each("percentile_cont(0.5) WITHIN GROUP (ORDER BY {c}) AS {i}"),
        recents=each("avg({c})::float8 AS {mean}, (max({c}) - min({c}))::float8 AS {range}"),
        mads=each("percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(w.{c} - m.{i})) AS {i}"),
        per_column=each("latest.{c}::float8, rec.{mean}, rec.{range}, med.{i}, mad.{i}"),
    )


def _anomalies(table: EquipmentTable, columns: list[MetricColumn], row: tuple, z_threshold: float) -> list[Anomaly]:
    """Judge each column from its statistics row (see :func:`_anomaly_stats_query`)."""
    detected_at, running_now, recent_rows = row[1], row[2], int(row[3])
    is_running = running_now is None or running_now >= 0.5
    found = []
    for i, column in enumerate(columns):
        latest, recent_mean, recent_range, median, mad = row[4 + 5 * i : 9 + 5 * i]
        verdict = _judge(
            table.equipment_type, column.name, latest, recent_mean, recent_range, median, mad, recent_rows,
            is_running, z_threshold,
        )  # fmt: skip
        if verdict is not None:
            kind, value, z, threshold, severity = verdict
            found.append(Anomaly(
                table.equipment_id, column.name, column.unit, kind, round(value, 3),
                None if median is None else round(median, 3), None if z is None else round(z, 2),
                threshold, severity, detected_at,
            ))  # fmt: skip
    return found


def _judge(
    equipment_type: str,
    metric: str,
    latest,
    recent_mean,
    recent_range,
    median,
    mad,
    recent_rows: int,
    is_running: bool,
    z_threshold: float,
):
    """(kind, value, z, threshold, severity) if one metric's numbers are anomalous, else None."""
    if latest is None:
        return None
    limit = limit_for(equipment_type, metric)
    if limit and limit.violated_by(latest, running=is_running):
        threshold = limit.high if limit.high is not None and latest > limit.high else limit.low
        return "limit", latest, None, threshold, limit.severity
    if median is None or mad is None or recent_mean is None or not is_running:
        return None
    if recent_rows >= 10 and recent_range == 0 and mad > 0:
        return "stuck", latest, None, None, "medium"
    z = robust_z(recent_mean, median=median, mad=mad)
    if abs(z) > z_threshold:
        return "deviation", recent_mean, z, None, "high" if abs(z) > 2 * z_threshold else "medium"
    return None


def robust_z(value: float, *, median: float, mad: float) -> float:
    """The robust z-score ``0.6745 · (value − median) / MAD`` (Iglewicz & Hoaglin).

    A floor on MAD keeps near-constant signals (a standby unit at 0 kW) from flagging noise.
    """
    return 0.6745 * (value - median) / max(mad, 0.01 * abs(median), 1e-6)


def _rank_fleet(
    catalog: Catalog, equipment_type: str, metric: str, unit: str, rows: list[tuple], z_threshold: float
) -> list[FleetValue]:
    limit = limit_for(equipment_type, metric)
    running_values = [r[2] for r in rows if r[2] is not None and (r[3] is None or r[3] >= 0.5)]
    median = statistics.median(running_values) if running_values else None
    mad = statistics.median(abs(v - median) for v in running_values) if running_values else None
    values = []
    for eq_id, ts, value, status in rows:
        if value is None:
            continue
        running = None if status is None else status >= 0.5
        reason = None
        if limit and limit.violated_by(value, running=running is not False):
            reason = (
                f"outside limit ({'>' if limit.high is not None and value > limit.high else '<'} "
                f"{limit.high if limit.high is not None and value > limit.high else limit.low})"
            )
        elif running is not False and median is not None and len(running_values) >= 4:
            z = robust_z(value, median=median, mad=mad)
            if abs(z) > z_threshold:
                reason = f"far from fleet median {median:.1f} (robust z {z:.1f})"
        values.append(
            FleetValue(
                eq_id, catalog.equipment[eq_id].display_name, ts, value, unit, running, reason is not None, reason
            )
        )
    return values


@functools.cache
def get_timeseries_access() -> TimeSeriesDataAccess:
    """The process-wide instance for the configured database, built on first use (after any fork)."""
    from django.conf import settings

    from industrial.database.connection import timeseries_conninfo

    return TimeSeriesDataAccess(
        timeseries_conninfo(),
        min_size=settings.TIMESERIES_POOL_MIN_SIZE,
        max_size=settings.TIMESERIES_POOL_MAX_SIZE,
        time_zone=settings.PLANT_TIME_ZONE,
        rollups=settings.TIMESERIES_ROLLUPS,
    )
