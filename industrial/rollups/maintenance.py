"""Keeping one equipment's rollups exact: after the seeder appends, and when built for an existing database.

``store_appended`` takes the seeder's parts for the rows it just wrote. When
the stored rollups already covered every earlier row, the parts are merged
in; otherwise (rollups missing, from another time zone, or behind because
rows came from elsewhere) it catches up from raw rows in SQL instead, so an
old database is brought up to date by the next seed or follow pass.

``catch_up`` is what ``manage.py build_rollups`` runs per table: from where
each grain's state stops (or from ``since``), in chunks on bucket edges, each
chunk replacing whole buckets and moving the state in one transaction: it can
be stopped at any point and run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from industrial.rollups import schema
from industrial.rollups.parts import Parts
from industrial.rollups.schema import GRAINS, Metric
from industrial.rollups.windows import ceil_day, floor_day, floor_hour
from industrial.rollups.writing import build_range, read_state, set_state, usable, write_parts

logger = logging.getLogger(__name__)
MICROSECOND = timedelta(microseconds=1)
DEFAULT_CHUNK = timedelta(days=31)


@dataclass(frozen=True)
class Appended:
    """What the seeder just wrote to one table: the parts of its rows at each grain."""

    hour: Parts
    day: Parts
    previous_last: datetime | None  # the table's newest row before (None: the table is new)
    through: datetime  # every row before this is now written (the last row plus one interval)


def store_appended(
    conn: psycopg.Connection, *, equipment_id: str, metrics: list[Metric], time_zone: str, appended: Appended
) -> None:
    """Bring ``equipment_id``'s rollups up to ``appended.through`` (in the caller's transaction)."""
    state = read_state(conn, equipment_id)
    for grain, parts in (("hour", appended.hour), ("day", appended.day)):
        stored = state.get(grain)
        if appended.previous_last is None:
            schema.reset_tables(conn, equipment_id, metrics, [grain])
            write_parts(conn, equipment_id=equipment_id, grain=grain, metrics=metrics, parts=parts, merge_first=False)
        elif _current(stored, grain, time_zone, appended.previous_last):
            write_parts(conn, equipment_id=equipment_id, grain=grain, metrics=metrics, parts=parts, merge_first=True)
        else:
            logger.info("rollups of %s at %s were not current: rebuilding them from raw rows", equipment_id, grain)
            catch_up_grain(
                conn, equipment_id=equipment_id, metrics=metrics, grain=grain, time_zone=time_zone,
                newest=appended.through - MICROSECOND,
            )  # fmt: skip
            continue
        set_state(conn, equipment_id, grain, time_zone, appended.through)


def _current(stored, grain: str, time_zone: str, previous_last: datetime) -> bool:
    return usable(stored, grain, time_zone) and stored.through > previous_last


def catch_up(
    conn: psycopg.Connection,
    *,
    equipment_id: str,
    metrics: list[Metric],
    time_zone: str,
    since: datetime | None = None,
    chunk: timedelta = DEFAULT_CHUNK,
    on_chunk: Callable[[str, datetime, datetime], None] | None = None,
) -> int:
    """Build or refresh ``equipment_id``'s rollups at every grain from raw rows; returns the buckets written.

    Each chunk is its own transaction holding the table's seeding lock, so a seeder or a second builder waits
    rather than interleaves. ``conn`` must not be in a transaction.
    """
    newest, oldest = _extent(conn, equipment_id)
    written = 0
    if newest is None:
        return 0
    for grain in GRAINS:
        with conn.transaction():
            _lock(conn, equipment_id)
            start = _start(conn, equipment_id, grain, metrics, time_zone, oldest, since)
        for lo, hi in _chunks(grain, start, newest + MICROSECOND, time_zone, chunk):
            with conn.transaction():
                _lock(conn, equipment_id)
                written += build_range(
                    conn, equipment_id=equipment_id, grain=grain, metrics=metrics, time_zone=time_zone,
                    start=lo, end=hi,
                )  # fmt: skip
                set_state(conn, equipment_id, grain, time_zone, hi)
            if on_chunk:
                on_chunk(grain, lo, hi)
    return written


def catch_up_grain(
    conn: psycopg.Connection, *, equipment_id: str, metrics: list[Metric], grain: str, time_zone: str, newest: datetime
) -> None:
    """``catch_up`` for one grain inside the caller's transaction (the seeder's, which holds the lock)."""
    _, oldest = _extent(conn, equipment_id)
    if oldest is None:
        return
    start = _start(conn, equipment_id, grain, metrics, time_zone, oldest, None)
    end = newest + MICROSECOND
    build_range(
        conn, equipment_id=equipment_id, grain=grain, metrics=metrics, time_zone=time_zone, start=start, end=end
    )
    set_state(conn, equipment_id, grain, time_zone, end)


def _start(conn, equipment_id: str, grain: str, metrics, time_zone: str, oldest: datetime, since) -> datetime:
    """Where building resumes: the bucket holding the state's edge, or the first row's if the grain has no usable
    state (its tables are then made afresh); ``since`` moves it earlier to redo buckets whose rows changed."""
    stored = read_state(conn, equipment_id).get(grain)
    if not usable(stored, grain, time_zone):
        schema.reset_tables(conn, equipment_id, metrics, [grain])
        edge = oldest
    else:
        edge = min(stored.through, since) if since else stored.through
        edge = max(edge, oldest)
    return floor_bucket(grain, edge, time_zone)


def floor_bucket(grain: str, t: datetime, time_zone: str) -> datetime:
    return floor_hour(t) if grain == "hour" else floor_day(t, ZoneInfo(time_zone))


def _chunks(grain: str, start: datetime, end: datetime, time_zone: str, chunk: timedelta):
    """``[start, end)`` in pieces of about ``chunk``, each edge but the last on a bucket edge of ``grain``."""
    lo = start
    while lo < end:
        hi = lo + chunk
        hi = hi if grain == "hour" else ceil_day(hi, ZoneInfo(time_zone))
        hi = min(hi, end)
        yield lo, hi
        lo = hi


def _extent(conn, equipment_id: str) -> tuple[datetime | None, datetime | None]:
    """(newest, oldest) timestamp of the raw table, by its index."""
    t = sql.Identifier(equipment_id)
    newest = conn.execute(sql.SQL('SELECT max("timestamp") FROM {}').format(t)).fetchone()[0]
    oldest = conn.execute(sql.SQL('SELECT min("timestamp") FROM {}').format(t)).fetchone()[0]
    return newest, oldest


def _lock(conn, equipment_id: str) -> None:
    """The seeder's per-table lock: rollups and the rows they sum are written by one writer at a time."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"seed_plant:{equipment_id}",))


def chunk_count(conn, equipment_id: str, time_zone: str, chunk: timedelta = DEFAULT_CHUNK) -> int:
    """About how many chunks ``catch_up`` will run for ``equipment_id`` (for a progress bar)."""
    newest, oldest = _extent(conn, equipment_id)
    if newest is None:
        return 0
    state = read_state(conn, equipment_id)
    total = 0
    for grain in GRAINS:
        stored = state.get(grain)
        start = stored.through if usable(stored, grain, time_zone) else oldest
        total += max(1, -(-(newest - start) // chunk))
    return total


@dataclass
class BuildReport:
    tables: int = 0
    buckets: int = 0
    seconds: float = 0.0


def build_all(
    *,
    conninfo: str,
    tables: dict[str, list[Metric]],
    time_zone: str,
    since: datetime | None = None,
    rebuild: bool = False,
    chunk: timedelta = DEFAULT_CHUNK,
    on_start: Callable[[int], None] | None = None,
    on_chunk: Callable[[str, str, datetime, datetime], None] | None = None,
) -> BuildReport:
    """Build or refresh the rollups of ``tables`` (``{equipment id: metrics}``, from the catalog).

    ``rebuild`` drops them first; otherwise each grain resumes where its state stops. ``on_start`` hears how
    many chunks lie ahead, ``on_chunk`` each one done.
    """
    started = time.perf_counter()
    report = BuildReport()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        schema.ensure_schema(conn)
        if rebuild:
            for equipment_id, metrics in tables.items():
                with conn.transaction():
                    _lock(conn, equipment_id)
                    schema.reset_tables(conn, equipment_id, metrics)
        if on_start:
            on_start(sum(chunk_count(conn, eq, time_zone, chunk) for eq in tables))
        for equipment_id, metrics in tables.items():
            report.buckets += catch_up(
                conn, equipment_id=equipment_id, metrics=metrics, time_zone=time_zone, since=since, chunk=chunk,
                on_chunk=(lambda grain, lo, hi, eq=equipment_id: on_chunk(eq, grain, lo, hi)) if on_chunk else None,
            )  # fmt: skip
            report.tables += 1
    report.seconds = time.perf_counter() - started
    logger.info("rollups: %d tables, %d buckets written in %.1f s", report.tables, report.buckets, report.seconds)
    return report
