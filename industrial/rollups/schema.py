"""Where rollups live and what a rollup row holds.

Schema ``cc_rollups`` (apart from the plant's tables, so the catalog never
mistakes a rollup for equipment), per equipment ``<id>__hour`` (UTC hours)
and ``<id>__day`` (days of one time zone, recorded in ``state``). A row is one
bucket: per metric the count of readings, their sum and ``m2`` (the sum of
squared deviations from the bucket's mean: what a standard deviation needs,
and combined across buckets exactly, Chan et al. 1979), min, max, and the
first and last reading (for counter deltas). ``state`` says how far each is
exact: every raw row with ``"timestamp" < through`` is in it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg
from psycopg import sql

SCHEMA = "cc_rollups"
GRAINS = ("hour", "day")
PARTS = ("n", "sum", "m2", "min", "max", "first", "last")
_IDENTIFIER_LIMIT = 63  # PostgreSQL truncates longer names, which could make two tables one
_VALUE_TYPES = frozenset({"smallint", "integer", "bigint", "real", "double precision", "numeric"})

STATE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.state (
    equipment_id text NOT NULL,
    grain        text NOT NULL CHECK (grain IN ('hour', 'day')),
    time_zone    text NOT NULL,
    through      timestamptz NOT NULL,
    PRIMARY KEY (equipment_id, grain)
);
"""


@dataclass(frozen=True)
class Metric:
    """A metric column as rollups need it: its name and its SQL type (a catalog type name)."""

    name: str
    data_type: str

    def __post_init__(self) -> None:
        if self.data_type not in _VALUE_TYPES:
            raise ValueError(f"{self.name}: rollups hold numeric columns only, not {self.data_type!r}")


def _bounded(name: str) -> str:
    """``name``, or when PostgreSQL would truncate it, a prefix and a digest of it (still unique)."""
    if len(name.encode()) <= _IDENTIFIER_LIMIT:
        return name
    return f"{name[:48]}_{hashlib.sha1(name.encode()).hexdigest()[:12]}"


def table(equipment_id: str, grain: str) -> sql.Identifier:
    """The rollup table of ``equipment_id`` (a catalog name) at ``grain``."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}, got {grain!r}")
    return sql.Identifier(SCHEMA, _bounded(f"{equipment_id}__{grain}"))


def column(metric: str, part: str) -> sql.Identifier:
    """The column holding ``part`` (one of ``PARTS``) of ``metric``."""
    return sql.Identifier(_bounded(f"{metric}__{part}"))


def create_table_sql(equipment_id: str, grain: str, metrics: list[Metric]) -> sql.Composed:
    columns = [sql.SQL("bucket timestamptz PRIMARY KEY")]
    for m in metrics:
        value_type = sql.SQL(m.data_type)  # from the catalog's fixed set of type names, never typed by a user
        columns += [
            sql.SQL("{} integer NOT NULL").format(column(m.name, "n")),
            sql.SQL("{} double precision NOT NULL").format(column(m.name, "sum")),
            sql.SQL("{} double precision NOT NULL").format(column(m.name, "m2")),
            *(sql.SQL("{} {}").format(column(m.name, p), value_type) for p in ("min", "max", "first", "last")),
        ]
    return sql.SQL("CREATE TABLE {} ({})").format(table(equipment_id, grain), sql.SQL(", ").join(columns))


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the schema and the state table if absent (serialized: IF NOT EXISTS still races)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('cc_rollups:schema'))")
        conn.execute(STATE_DDL)


def reset_tables(conn: psycopg.Connection, equipment_id: str, metrics: list[Metric], grains=GRAINS) -> None:
    """Drop and recreate ``equipment_id``'s rollup tables at ``grains``, forgetting their state (in the caller's
    transaction). A reader that planned with the old state gets an error and reads raw rows instead."""
    for grain in grains:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table(equipment_id, grain)))
        conn.execute(create_table_sql(equipment_id, grain, metrics))
    conn.execute(
        f"DELETE FROM {SCHEMA}.state WHERE equipment_id = %s AND grain = ANY(%s)", (equipment_id, list(grains))
    )


def drop_tables(conn: psycopg.Connection, equipment_ids: list[str]) -> None:
    """Drop every rollup of ``equipment_ids`` and their state (with the raw tables, on a rebuild)."""
    if conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.state",)).fetchone()[0] is None:
        return
    for equipment_id in equipment_ids:
        for grain in GRAINS:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table(equipment_id, grain)))
    conn.execute(f"DELETE FROM {SCHEMA}.state WHERE equipment_id = ANY(%s)", (equipment_ids,))


def disk_bytes(conn: psycopg.Connection) -> tuple[int, int]:
    """(bytes of the plant's tables with their indexes, bytes of every rollup with its index)."""
    row = conn.execute(
        """SELECT coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE n.nspname = current_schema()), 0),
                  coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE n.nspname = %s), 0)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND (n.nspname = %s OR (n.nspname = current_schema()
                 AND c.relname NOT IN ('equipment', 'alerts')))""",
        (SCHEMA, SCHEMA),
    ).fetchone()
    return int(row[0]), int(row[1])
