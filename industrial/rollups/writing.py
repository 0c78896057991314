"""Storing rollups: parts from the seeder, or buckets built from raw rows in SQL.

The seeder appends rows after a table's last one, so of the buckets it
writes only the first can already exist (the open bucket): that one is
merged into the stored row, the rest go in with COPY. ``build_range``
recomputes whole buckets from raw rows and replaces them, so re-running it
is harmless. Either way the state row moves in the same transaction as the
buckets it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from industrial.database.copy_binary import HEADER, TIMESTAMPTZ, TRAILER, pack_rows, pg_timestamps
from industrial.rollups import schema
from industrial.rollups.parts import Parts
from industrial.rollups.schema import Metric

_COPY_TYPES = {"real": ">f4", "double precision": ">f8"}


@dataclass(frozen=True)
class GrainState:
    time_zone: str
    through: datetime  # every raw row before this is in the grain's rollups


def usable(stored: GrainState | None, grain: str, time_zone: str) -> bool:
    """Whether a grain's stored rollups can be extended for ``time_zone``: hours are UTC's, days only the zone's."""
    return stored is not None and (grain == "hour" or stored.time_zone == time_zone)


def read_state(conn: psycopg.Connection, equipment_id: str) -> dict[str, GrainState]:
    """``equipment_id``'s rollup state by grain (empty if it has none; ``schema.ensure_schema`` ran before)."""
    rows = conn.execute(
        "SELECT grain, time_zone, through FROM cc_rollups.state WHERE equipment_id = %s", (equipment_id,)
    )
    return {grain: GrainState(zone, through) for grain, zone, through in rows}


def set_state(conn: psycopg.Connection, equipment_id: str, grain: str, time_zone: str, through: datetime) -> None:
    conn.execute(
        "INSERT INTO cc_rollups.state VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (equipment_id, grain) DO UPDATE SET time_zone = EXCLUDED.time_zone, through = EXCLUDED.through",
        (equipment_id, grain, time_zone, through),
    )


def write_parts(
    conn: psycopg.Connection, *, equipment_id: str, grain: str, metrics: list[Metric], parts: Parts, merge_first: bool
) -> None:
    """Store ``parts`` (after every stored bucket, except perhaps the first, which is merged if ``merge_first``)."""
    if not len(parts):
        return
    if merge_first:
        _merge_row(conn, equipment_id, grain, metrics, parts)
        parts = parts.tail(1)
    if not len(parts):
        return
    fields = [(TIMESTAMPTZ, pg_timestamps(parts.keys))]
    for m in metrics:
        p, value = parts.metrics[m.name], _COPY_TYPES[m.data_type]
        fields += [(">i4", p.n), (">f8", p.sum), (">f8", p.m2)]
        fields += [(value, p.min), (value, p.max), (value, p.first), (value, p.last)]
    copy_sql = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(schema.table(equipment_id, grain))
    with conn.cursor().copy(copy_sql) as copy:
        copy.write(HEADER + pack_rows(fields) + TRAILER)


def _merge_row(conn, equipment_id: str, grain: str, metrics: list[Metric], parts: Parts) -> None:
    """Insert the first bucket of ``parts``, or fold it into the stored one (which holds the earlier rows)."""
    names, values, updates = [sql.Identifier("bucket")], [datetime.fromtimestamp(int(parts.keys[0]), UTC)], []
    for m in metrics:
        p = parts.metrics[m.name]
        values += [int(p.n[0]), *(float(getattr(p, f)[0]) for f in ("sum", "m2", "min", "max", "first", "last"))]
        col = {part: schema.column(m.name, part) for part in schema.PARTS}
        names += list(col.values())
        updates.append(
            sql.SQL(
                "{n} = r.{n} + EXCLUDED.{n}, {s} = r.{s} + EXCLUDED.{s}, "
                "{m2} = r.{m2} + EXCLUDED.{m2} + CASE WHEN r.{n} > 0 AND EXCLUDED.{n} > 0 THEN "
                "power(EXCLUDED.{s} / EXCLUDED.{n} - r.{s} / r.{n}, 2) * r.{n} * EXCLUDED.{n} / (r.{n} + EXCLUDED.{n}) "
                "ELSE 0 END, {mn} = least(r.{mn}, EXCLUDED.{mn}), {mx} = greatest(r.{mx}, EXCLUDED.{mx}), "
                "{l} = EXCLUDED.{l}"
            ).format(
                n=col["n"], s=col["sum"], m2=col["m2"], mn=col["min"], mx=col["max"], l=col["last"]
            )  # the stored first reading stays: it is the earlier one
        )
    conn.execute(
        sql.SQL("INSERT INTO {} AS r ({}) VALUES ({}) ON CONFLICT (bucket) DO UPDATE SET {}").format(
            schema.table(equipment_id, grain),
            sql.SQL(", ").join(names),
            sql.SQL(", ").join(sql.Placeholder() * len(values)),
            sql.SQL(", ").join(updates),
        ),
        values,
    )


def bucket_sql(grain: str) -> sql.Composable:
    """The bucket of each raw row at ``grain`` (``%(zone)s`` the day's time zone)."""
    if grain == "hour":
        return sql.SQL("date_bin('1 hour', \"timestamp\", TIMESTAMPTZ '2000-01-03 00:00+00')")
    return sql.SQL("date_trunc('day', \"timestamp\", %(zone)s)")


def build_range(
    conn: psycopg.Connection,
    *,
    equipment_id: str,
    grain: str,
    metrics: list[Metric],
    time_zone: str,
    start: datetime,
    end: datetime,
) -> int:
    """Recompute from raw rows every bucket with rows in ``[start, end)`` (both on ``grain``'s bucket edges, or
    ``end`` past the newest row) and replace it; returns the buckets written."""
    aggregates, names, updates = [], [sql.Identifier("bucket")], []
    for m in metrics:
        c = sql.Identifier(m.name)
        aggregates.append(
            sql.SQL(
                "count({c}), coalesce(sum({c}::float8), 0), coalesce(var_pop({c}::float8) * count({c}), 0), "
                'min({c}), max({c}), (array_agg({c} ORDER BY "timestamp"))[1], '
                '(array_agg({c} ORDER BY "timestamp" DESC))[1]'
            ).format(c=c)
        )
        names += [schema.column(m.name, part) for part in schema.PARTS]
    updates = [sql.SQL("{0} = EXCLUDED.{0}").format(name) for name in names[1:]]
    query = sql.SQL(
        "INSERT INTO {rollup} ({names}) SELECT {bucket} AS b, {aggregates} FROM {raw} "
        'WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s GROUP BY b '
        "ON CONFLICT (bucket) DO UPDATE SET {updates}"
    ).format(
        rollup=schema.table(equipment_id, grain),
        names=sql.SQL(", ").join(names),
        bucket=bucket_sql(grain),
        aggregates=sql.SQL(", ").join(aggregates),
        raw=sql.Identifier(equipment_id),
        updates=sql.SQL(", ").join(updates),
    )
    return conn.execute(query, {"start": start, "end": end, "zone": time_zone}).rowcount
