"""The statement pieces that read a window through a ``WindowPlan``: rollup buckets and raw rows as parts.

Every source yields the same columns (``t`` the part's start, ``n``, ``s`` the
sum, ``m2``, ``mn``, ``mx``, ``f`` the first and ``l`` the last reading); a raw
row is a part of one reading. The callers combine parts with the same
arithmetic whatever their source (``COMBINE``, ``stats_sql``).

A statement holds only the ranges its plan needs (so PostgreSQL plans a few
index scans, not a dozen), and one check (``coverage_check_sql``): whether,
in the statement's own snapshot, the rollups' state still covers every bucket
read. The plan is made from a cached coverage; when the check fails (rollups
rebuilt under the reader) the caller reads raw rows instead, so a stale view
costs speed, never exactness.
"""

from __future__ import annotations

from psycopg import sql

from industrial.rollups import schema
from industrial.rollups.windows import Shape

# min, max, first and last keep the column's own type (rollups store them in it), so a reading comes back
# exactly as a query over raw rows returns it.
_RAW = (
    'SELECT "timestamp" AS t, ({c} IS NOT NULL)::int AS n, {c}::float8 AS s, 0::float8 AS m2, '
    "{c} AS mn, {c} AS mx, {c} AS f, {c} AS l FROM {raw} "
    'WHERE "timestamp" >= {lo} AND "timestamp" < {hi}'
)
_ROLLUP = (
    "SELECT bucket AS t, {n} AS n, {s} AS s, {m2} AS m2, {mn} AS mn, {mx} AS mx, {f} AS f, {l} AS l "
    "FROM {rollup} WHERE bucket >= {lo} AND bucket < {hi}"
)


def parts_sql(equipment_id: str, metric: str, shape: Shape, prefix: str = "") -> sql.Composed:
    """A subquery (parenthesized) of the parts of ``metric`` of ``equipment_id`` (catalog names) over a window
    cut as ``shape``, its ranges bound by a ``WindowPlan``'s ``params(prefix)``."""

    def bounds(name: str, i: int) -> dict[str, sql.Placeholder]:
        return {"lo": sql.Placeholder(f"{prefix}{name}{2 * i}"), "hi": sql.Placeholder(f"{prefix}{name}{2 * i + 1}")}

    def rollup(grain: str, lo_hi: dict) -> sql.Composed:
        return sql.SQL(_ROLLUP).format(
            rollup=schema.table(equipment_id, grain), **lo_hi,
            n=schema.column(metric, "n"), s=schema.column(metric, "sum"), m2=schema.column(metric, "m2"),
            mn=schema.column(metric, "min"), mx=schema.column(metric, "max"),
            f=schema.column(metric, "first"), l=schema.column(metric, "last"),
        )  # fmt: skip

    raw = sql.Identifier(equipment_id)
    c = sql.Identifier(metric)
    pieces = [rollup("day", bounds("d", 0))] if shape.day else []
    pieces += [rollup("hour", bounds("h", i)) for i in range(shape.hours)]
    pieces += [sql.SQL(_RAW).format(c=c, raw=raw, **bounds("r", i)) for i in range(shape.raw)]
    return sql.SQL("({})").format(sql.SQL(" UNION ALL ").join(pieces))


def coverage_check_sql(equipment_ids: list[str], shape: Shape, prefix: str = "") -> sql.Composed:
    """True if every one of ``equipment_ids`` has each grain ``shape`` reads covered up to the plan's last bucket
    (``hour_end``, ``d1`` in ``day_zone``), in this statement's snapshot."""
    grains = []
    if shape.hours:
        grains.append(sql.SQL("(grain = 'hour' AND through >= {})").format(sql.Placeholder(prefix + "hour_end")))
    if shape.day:
        grains.append(
            sql.SQL("(grain = 'day' AND time_zone = {} AND through >= {})").format(
                sql.Placeholder(prefix + "day_zone"), sql.Placeholder(prefix + "d1")
            )
        )
    return sql.SQL(
        "((SELECT count(*) FROM cc_rollups.state WHERE equipment_id = ANY({ids}) AND ({grains})) = {expected})"
    ).format(
        ids=sql.Literal(list(equipment_ids)),
        grains=sql.SQL(" OR ").join(grains),
        expected=sql.Literal(len(equipment_ids) * len(grains)),
    )


# How parts combine, whatever their source (a bucket of nothing but NULLs counts 0 and sums to NULL).
COMBINE = {
    "avg": "sum(s) / nullif(sum(n), 0)",
    "min": "min(mn)",
    "max": "max(mx)",
    "sum": "CASE WHEN sum(n) > 0 THEN sum(s) END",
    "count": "coalesce(sum(n), 0)",
    "first": "(array_agg(f ORDER BY t))[1]",
    "last": "(array_agg(l ORDER BY t DESC))[1]",
}


def _m2_sql(mean: str, where: str = "") -> str:
    """The spread (sum of squared deviations) of the parts ``p`` ``where`` …, around the whole's ``mean``: each
    part's ``m2`` plus its count times the squared distance of its mean from the whole's (Chan, Golub & LeVeque)."""
    return f"(SELECT sum(m2) + coalesce(sum(n * power(s / nullif(n, 0) - {mean}, 2)), 0) FROM p {where})"


def stats_sql(parts: sql.Composable, check: sql.Composable) -> sql.Composed:
    """count, mean, min, max, sample standard deviation, first and last over ``parts``, then ``check``.

    The spread of the whole is each part's ``m2`` plus its count times the squared distance of its mean from
    the whole's mean: the pairwise update of Chan, Golub & LeVeque, exact where summing squares is not.
    """
    return sql.SQL(
        "WITH p AS MATERIALIZED (SELECT * FROM {parts} AS q), "
        "tot AS (SELECT coalesce(sum(n), 0) AS n, sum(s) AS s, min(mn) AS mn, max(mx) AS mx, "
        "(array_agg(f ORDER BY t))[1] AS f, (array_agg(l ORDER BY t DESC))[1] AS l FROM p) "
        "SELECT tot.n, tot.s / nullif(tot.n, 0), tot.mn, tot.mx, "
        f"CASE WHEN tot.n > 1 THEN sqrt(greatest(0, {_m2_sql('tot.s / tot.n')} / (tot.n - 1))) END, "
        "tot.f, tot.l, {check} FROM tot"
    ).format(parts=parts, check=check)


def profile_sql(equipment_id: str, metric: str, shapes: list[Shape]) -> sql.Composed:
    """A one-row subquery of ``metric`` over window 0 (mean, min, max, last, count) and windows 1… together
    (mean, sample standard deviation, how many had readings): what ``access.profile`` returns, from parts.
    Window ``k``'s plan is bound with the prefix ``w{k}_``."""
    union = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {} AS d, q.* FROM {} AS q").format(
            sql.Literal(k), parts_sql(equipment_id, metric, shape, f"w{k}_")
        )
        for k, shape in enumerate(shapes)
    )
    return sql.SQL(
        "(WITH p AS MATERIALIZED ({union}), "
        "u AS (SELECT sum(n) AS n, sum(s) / nullif(sum(n), 0) AS mean FROM p WHERE d > 0) "
        "SELECT (SELECT sum(s) / nullif(sum(n), 0) FROM p WHERE d = 0), "
        "(SELECT min(mn)::float8 FROM p WHERE d = 0), (SELECT max(mx)::float8 FROM p WHERE d = 0), "
        "(SELECT (array_agg(l ORDER BY t DESC) FILTER (WHERE l IS NOT NULL))[1]::float8 FROM p WHERE d = 0), "
        f"u.mean, CASE WHEN u.n > 1 THEN sqrt(greatest(0, {_m2_sql('u.mean', 'WHERE d > 0')} / (u.n - 1))) END, "
        "(SELECT count(DISTINCT d) FROM p WHERE d > 0 AND n > 0), "
        "(SELECT coalesce(sum(n), 0) FROM p WHERE d = 0) FROM u)"
    ).format(union=union)
