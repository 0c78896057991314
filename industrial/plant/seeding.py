"""Builds (or tops up) the plant's time-series store from the generator.

Each equipment table is loaded in one transaction with ``COPY ... (FORMAT
BINARY)``: rows are packed by numpy straight into PostgreSQL's binary COPY
layout, so Python never touches a row. A new table gets its primary key after
its rows are in (one sorted index build instead of 43,200 inserts into a
btree). Re-running resumes after each table's last row, so nothing is ever
duplicated; ``replace=True`` drops and rebuilds instead. Alerts are upserted
on (equipment, metric, raised_at) so a later run can clear them.

Rollups (``industrial.rollups``) are written in the same transaction: numpy
sums each chunk's rows into hourly and daily buckets as they stream past, and
the buckets go in with COPY too, so the rows are never read back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import psycopg
from psycopg import sql

from industrial.database.copy_binary import HEADER, TRAILER, pack_rows, pg_timestamps
from industrial.plant.generator import (
    CARRIED_METRICS,
    DAY,
    READING_SECONDS,
    Block,
    CounterState,
    RaisedAlert,
    generate_block,
)
from industrial.plant.spec import DOUBLE_COLUMNS, EQUIPMENT_TYPES, TYPES_BY_NAME, EquipmentType
from industrial.rollups import parts, schema
from industrial.rollups.maintenance import Appended, store_appended
from industrial.rollups.schema import Metric

logger = logging.getLogger(__name__)

CHUNK_DAYS = 30  # rows are generated and sent a month at a time per table

SHARED_SCHEMA = """
CREATE TABLE IF NOT EXISTS equipment (
    equipment_id   text PRIMARY KEY,
    equipment_type text NOT NULL,
    display_name   text NOT NULL,
    building       text,
    zone           text,
    rated_capacity double precision,
    rated_unit     text,
    install_date   date,
    criticality    text CHECK (criticality IN ('high', 'medium', 'low'))
);
CREATE TABLE IF NOT EXISTS alerts (
    id           bigserial PRIMARY KEY,
    equipment_id text NOT NULL REFERENCES equipment (equipment_id) ON DELETE CASCADE,
    severity     text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    metric       text NOT NULL,
    value        double precision,
    threshold    double precision,
    message      text NOT NULL,
    raised_at    timestamptz NOT NULL,
    cleared_at   timestamptz,
    acknowledged boolean NOT NULL DEFAULT false,
    UNIQUE (equipment_id, metric, raised_at)
);
CREATE INDEX IF NOT EXISTS alerts_active_idx ON alerts (raised_at DESC) WHERE cleared_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_equipment_idx ON alerts (equipment_id, raised_at DESC);
CREATE INDEX IF NOT EXISTS alerts_raised_idx ON alerts (raised_at DESC);
"""


@dataclass(frozen=True)
class SeedPlan:
    """What to build. ``counts`` maps equipment type to how many of it (``None`` = the contract's count)."""

    days: float = 30.0
    counts: dict[str, int | None] = field(default_factory=lambda: {t.name: None for t in EQUIPMENT_TYPES})
    interval: int = READING_SECONDS  # seconds between rows
    seed: int = 42
    end: datetime | None = None  # None: now, floored to the interval
    fault_rate: float = 0.05
    replace: bool = False
    time_zone: str = "UTC"  # whose days the daily rollups are (PLANT_TIME_ZONE)

    def __post_init__(self) -> None:
        if self.days <= 0:
            raise ValueError(f"days must be positive, got {self.days}")
        if self.interval <= 0 or DAY % self.interval:
            raise ValueError(f"interval must be a positive divisor of 86400 s, got {self.interval}")
        unknown = sorted(set(self.counts) - set(TYPES_BY_NAME))
        if unknown:
            raise ValueError(f"unknown equipment types {unknown}; known: {sorted(TYPES_BY_NAME)}")
        for name, count in self.counts.items():
            if count is not None and not 1 <= count <= TYPES_BY_NAME[name].count:
                raise ValueError(f"{name} count must be 1..{TYPES_BY_NAME[name].count}, got {count}")
        if not 0 <= self.fault_rate <= 1:
            raise ValueError(f"fault_rate is a probability per equipment-day, got {self.fault_rate}")

    def equipment(self) -> list[tuple[EquipmentType, int]]:
        return [
            (TYPES_BY_NAME[name], n)
            for name, count in self.counts.items()
            for n in range(1, (count or TYPES_BY_NAME[name].count) + 1)
        ]

    def end_ts(self) -> int:
        end = self.end or datetime.now(UTC)
        return int(end.timestamp()) // self.interval * self.interval

    def expected_rows(self) -> int:
        return int(self.days * DAY // self.interval) * len(self.equipment())


@dataclass(frozen=True)
class TableResult:
    equipment_id: str
    rows: int
    alerts: int
    created: bool


@dataclass
class SeedReport:
    tables: int = 0
    rows: int = 0
    alerts: int = 0
    created: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def add(self, result: TableResult) -> None:
        self.tables += 1
        self.rows += result.rows
        self.alerts += result.alerts
        self.created += result.created


def seed_plant(*, conninfo: str, plan: SeedPlan, on_table: Callable[[TableResult], None] | None = None) -> SeedReport:
    """Create or top up every table of ``plan``; returns what was written."""
    started = time.perf_counter()
    end = plan.end_ts()
    start = end - int(plan.days * DAY)
    report = SeedReport()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # Losing the last commits on a crash is fine here (a re-run resumes); waiting on fsync is not.
        conn.execute("SET synchronous_commit = off")
        with conn.transaction():
            # CREATE ... IF NOT EXISTS still races with a concurrent creator: serialize it.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('seed_plant:schema'))")
            conn.execute(SHARED_SCHEMA)
        schema.ensure_schema(conn)
        if plan.replace:
            _drop(conn, plan)
        _upsert_equipment(conn, plan)
        for eq, number in plan.equipment():
            result = _seed_table(conn, eq, number, plan, start, end)
            report.add(result)
            if on_table:
                on_table(result)
    report.seconds = time.perf_counter() - started
    logger.info(
        "seeded %d tables: %d rows, %d alerts in %.1f s (%.0f rows/s)",
        report.tables,
        report.rows,
        report.alerts,
        report.seconds,
        report.rows_per_second,
    )
    return report


def follow(
    *, conninfo: str, plan: SeedPlan, should_stop: Callable[[], bool], sleep: Callable[[float], None] = time.sleep
) -> Iterator[SeedReport]:
    """Keep every table live: each interval, append the rows up to now. Yields one report per pass."""
    live = SeedPlan(**{**plan.__dict__, "end": None, "replace": False})
    while not should_stop():
        try:
            yield seed_plant(conninfo=conninfo, plan=live)
        except psycopg.OperationalError:
            # The server restarting or a network blip must not end a demo: try again next interval.
            logger.exception("follow: this pass failed; retrying at the next interval")
        now = time.time()
        sleep(plan.interval - now % plan.interval + 0.05)


# --------------------------------------------------------------------------- internals


def _drop(conn: psycopg.Connection, plan: SeedPlan) -> None:
    ids = [eq.equipment_id(n) for eq, n in plan.equipment()]
    with conn.transaction():
        for eq_id in ids:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(eq_id)))
        schema.drop_tables(conn, ids)
        conn.execute("DELETE FROM alerts WHERE equipment_id = ANY(%s)", (ids,))
    logger.info("dropped %d equipment tables for a clean rebuild", len(ids))


_BUILDINGS = {
    "chiller": ("Central Utility Plant", "Chiller Hall"),
    "cooling_tower": ("Central Utility Plant", "Roof"),
    "pump": ("Central Utility Plant", "Pump Room"),
    "boiler": ("Central Utility Plant", "Boiler House"),
    "air_compressor": ("Production Block", "Compressor Room"),
    "motor": ("Production Block", "Line"),
    "transformer": ("Main Substation", "Bay"),
    "diesel_generator": ("Power House", "Genset Bay"),
    "ups": ("Data Center", "UPS Room"),
    "energy_meter": ("Electrical", "Panel"),
    "ahu": ("Office Tower", "Floor"),
}
_CRITICALITY = {
    "chiller": "high",
    "boiler": "high",
    "transformer": "high",
    "ups": "high",
    "diesel_generator": "high",
    "air_compressor": "medium",
    "pump": "medium",
    "cooling_tower": "medium",
    "ahu": "low",
    "motor": "medium",
    "energy_meter": "low",
}


def _upsert_equipment(conn: psycopg.Connection, plan: SeedPlan) -> None:
    rng = np.random.default_rng(plan.seed)
    rows = []
    for eq, n in plan.equipment():
        building, zone = _BUILDINGS[eq.name]
        installed = date(2012 + (n * 7 + plan.seed) % 12, 1 + (n * 5) % 12, 1 + (n * 11) % 28)
        rows.append(
            (
                eq.equipment_id(n),
                eq.name,
                f"{eq.display} {n}",
                building,
                f"{zone} {1 + (n - 1) // 4}",
                round(eq.rated_capacity * float(rng.choice([0.8, 1.0, 1.2])), 1),
                eq.rated_unit,
                installed,
                _CRITICALITY[eq.name],
            )
        )
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO equipment VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (equipment_id) DO NOTHING""",
            rows,
        )


def _table_state(conn: psycopg.Connection, eq: EquipmentType, eq_id: str) -> tuple[bool, int | None, CounterState]:
    """(exists, last timestamp, counters at that row)."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (sql.Identifier(eq_id).as_string(conn),)).fetchone()[0]
    if not exists:
        return False, None, CounterState()
    carried = [m for m in eq.metrics if m in CARRIED_METRICS]
    query = sql.SQL(
        'SELECT extract(epoch FROM "timestamp")::bigint{} FROM {} ORDER BY "timestamp" DESC LIMIT 1'
    ).format(sql.SQL("").join(sql.SQL(", {}").format(sql.Identifier(m)) for m in carried), sql.Identifier(eq_id))
    row = conn.execute(query).fetchone()
    if row is None:
        return True, None, CounterState()
    return True, int(row[0]), CounterState(**dict(zip(carried, map(float, row[1:]), strict=True)))


def _seed_table(
    conn: psycopg.Connection, eq: EquipmentType, number: int, plan: SeedPlan, start: int, end: int
) -> TableResult:
    eq_id = eq.equipment_id(number)
    with conn.transaction():
        # Another seeder (a follower, a second demo) may write this table too: one at a time, and
        # read where it stands only once we hold the lock, so nobody appends rows twice.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"seed_plant:{eq_id}",))
        exists, last, state = _table_state(conn, eq, eq_id)
        if last is not None and last > start:
            start = last  # resume after the last stored row; earlier history is never rewritten
        if not exists:
            conn.execute(_create_table_sql(eq, eq_id))
        rows, alerts, hours, days = 0, [], [], []
        copy_sql = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(eq_id))
        with conn.cursor().copy(copy_sql) as copy:
            copy.write(HEADER)
            for block in _chunks(eq, number, plan, start, end, state):
                copy.write(encode_rows(eq, block))
                rows += len(block)
                alerts += block.alerts
                if len(block):
                    newest = int(block.timestamps[-1])
                    stored = _as_stored(eq, block)
                    hours.append(parts.from_rows(parts.hour_keys(block.timestamps), stored))
                    days.append(parts.from_rows(parts.day_keys(block.timestamps, plan.time_zone), stored))
            copy.write(TRAILER)
        _upsert_alerts(conn, alerts)  # after the COPY: the connection takes no other statement during one
        if not exists:
            conn.execute(sql.SQL('ALTER TABLE {} ADD PRIMARY KEY ("timestamp")').format(sql.Identifier(eq_id)))
        if rows:
            appended = Appended(
                parts.merge(hours),
                parts.merge(days),
                None if last is None else datetime.fromtimestamp(last, UTC),
                through=datetime.fromtimestamp(newest + plan.interval, UTC),  # the next row's time: none before it
            )
            store_appended(
                conn, equipment_id=eq_id, metrics=rollup_metrics(eq), time_zone=plan.time_zone, appended=appended
            )
    return TableResult(eq_id, rows, len(alerts), not exists)


def rollup_metrics(eq: EquipmentType) -> list[Metric]:
    return [Metric(m, "double precision" if m in DOUBLE_COLUMNS else "real") for m in eq.metrics]


def _as_stored(eq: EquipmentType, block: Block) -> dict[str, np.ndarray]:
    """``block``'s columns as the table stores them (``real`` columns rounded to float32), in float64: the values
    the rollups must sum to match sums over the stored rows."""
    return {
        m: np.asarray(block.columns[m], dtype=np.float64 if m in DOUBLE_COLUMNS else np.float32).astype(np.float64)
        for m in eq.metrics
    }


def _chunks(eq: EquipmentType, number: int, plan: SeedPlan, start: int, end: int, state: CounterState):
    """Blocks of at most ``CHUNK_DAYS`` covering ``(start, end]``, counters carried from one to the next.

    Memory stays flat whether a table gets a day or three years of history.
    """
    while start < end:
        chunk_end = min(end, start + CHUNK_DAYS * DAY)
        block = generate_block(
            eq, number, seed=plan.seed, start=start, end=chunk_end, interval=plan.interval,
            state=state, fault_rate=plan.fault_rate,
        )  # fmt: skip
        yield block
        start, state = chunk_end, block.state


def _create_table_sql(eq: EquipmentType, eq_id: str) -> sql.Composed:
    columns = [sql.SQL('"timestamp" timestamptz NOT NULL')] + [
        sql.SQL("{} {} NOT NULL").format(
            sql.Identifier(m), sql.SQL("double precision" if m in DOUBLE_COLUMNS else "real")
        )
        for m in eq.metrics
    ]
    return sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(eq_id), sql.SQL(", ").join(columns))


def encode_rows(eq: EquipmentType, block: Block) -> bytes:
    """``block``'s rows in PostgreSQL's binary COPY layout (no header or trailer), packed by numpy."""
    fields = [(">i8", pg_timestamps(block.timestamps))]
    fields += [(">f8" if m in DOUBLE_COLUMNS else ">f4", block.columns[m]) for m in eq.metrics]
    return pack_rows(fields)


def _upsert_alerts(conn: psycopg.Connection, alerts: list[RaisedAlert]) -> None:
    if not alerts:
        return

    def ts(seconds: int | None) -> datetime | None:
        return None if seconds is None else datetime.fromtimestamp(seconds, UTC)

    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO alerts (equipment_id, severity, metric, value, threshold, message,
                                   raised_at, cleared_at, acknowledged)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (equipment_id, metric, raised_at) DO UPDATE
               SET value = EXCLUDED.value, message = EXCLUDED.message,
                   cleared_at = EXCLUDED.cleared_at, acknowledged = EXCLUDED.acknowledged""",
            [
                (
                    a.equipment_id,
                    a.severity,
                    a.metric,
                    a.value,
                    a.threshold,
                    a.message,
                    ts(a.raised_at),
                    ts(a.cleared_at),
                    a.acknowledged,
                )
                for a in alerts
            ],
        )
