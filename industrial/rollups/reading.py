"""The statement pieces that read a window through a ``WindowPlan``: rollup buckets and raw rows as parts.

Every source yields the same columns (``t`` the part's start, ``n``, ``s`` the
sum, ``m2``, ``mn``, ``mx``, ``f`` the first and ``l`` the last reading); a raw
row is a part of one reading. The callers combine parts with the same
arithmetic whatever their source (``combine_*``).

Each rollup range is cut again at the coverage the state table holds in the
statement's own snapshot, and the raw rows behind that cut fill the rest; so
the plan (made from a cached coverage) decides only what is fast, not what
is counted.
"""

from __future__ import annotations

from psycopg import sql

from industrial.rollups import schema

# min, max, first and last keep the column's own type (rollups store them in it), so a reading comes back
# exactly as a query over raw rows returns it.
_RAW = (
    'SELECT "timestamp" AS t, ({c} IS NOT NULL)::int AS n, {c}::float8 AS s, 0::float8 AS m2, '
    "{c} AS mn, {c} AS mx, {c} AS f, {c} AS l FROM {raw}"
)
_ROLLUP = "SELECT bucket AS t, {n} AS n, {s} AS s, {m2} AS m2, {mn} AS mn, {mx} AS mx, {f} AS f, {l} AS l FROM {rollup}"
# Where the state says each rollup stops being exact, in this statement's snapshot ('-infinity': nowhere yet).
_DAY_CUT = (
    "coalesce((SELECT date_trunc('day', through, {zone}) FROM cc_rollups.state "
    "WHERE equipment_id = {id} AND grain = 'day' AND time_zone = {zone}), '-infinity')"
)
_HOUR_CUT = (
    "coalesce((SELECT date_bin('1 hour', through, TIMESTAMPTZ '2000-01-03 00:00+00') FROM cc_rollups.state "
    "WHERE equipment_id = {id} AND grain = 'hour'), '-infinity')"
)


def parts_sql(equipment_id: str, metric: str, prefix: str = "") -> sql.Composed:
    """A subquery (parenthesized) of the parts of ``metric`` of ``equipment_id`` (catalog names) over the
    window a ``WindowPlan``'s ``params(prefix)`` describe."""
    c = sql.Identifier(metric)
    raw = sql.SQL(_RAW).format(c=c, raw=sql.Identifier(equipment_id))
    ident = sql.Literal(equipment_id)
    zone = sql.Placeholder(prefix + "day_zone")
    day_cut, hour_cut = sql.SQL(_DAY_CUT).format(id=ident, zone=zone), sql.SQL(_HOUR_CUT).format(id=ident)

    def rollup(grain: str) -> sql.Composed:
        return sql.SQL(_ROLLUP).format(
            rollup=schema.table(equipment_id, grain),
            n=schema.column(metric, "n"), s=schema.column(metric, "sum"), m2=schema.column(metric, "m2"),
            mn=schema.column(metric, "min"), mx=schema.column(metric, "max"),
            f=schema.column(metric, "first"), l=schema.column(metric, "last"),
        )  # fmt: skip

    pieces = []
    for grain, cut, ranges in (("day", day_cut, [("d0", "d1")]), ("hour", hour_cut, [("h0", "h1"), ("h2", "h3")])):
        for lo, hi in ranges:
            lo_p, hi_p = sql.Placeholder(prefix + lo), sql.Placeholder(prefix + hi)
            pieces.append(
                sql.SQL("{} WHERE bucket >= {} AND bucket < least({}, {})").format(rollup(grain), lo_p, hi_p, cut)
            )
            pieces.append(
                sql.SQL('{} WHERE "timestamp" >= greatest({}, {}) AND "timestamp" < {}').format(raw, lo_p, cut, hi_p)
            )
    for i in range(0, 8, 2):
        pieces.append(
            sql.SQL('{} WHERE "timestamp" >= {} AND "timestamp" < {}').format(
                raw, sql.Placeholder(f"{prefix}r{i}"), sql.Placeholder(f"{prefix}r{i + 1}")
            )
        )
    return sql.SQL("({})").format(sql.SQL(" UNION ALL ").join(pieces))


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


def stats_sql(parts: sql.Composable) -> sql.Composed:
    """count, mean, min, max, sample standard deviation, first and last over ``parts``.

    The spread of the whole is each part's ``m2`` plus its count times the squared distance of its mean from
    the whole's mean: the pairwise update of Chan, Golub & LeVeque, exact where summing squares is not.
    """
    return sql.SQL(
        "WITH p AS MATERIALIZED (SELECT * FROM {parts} AS q), "
        "tot AS (SELECT coalesce(sum(n), 0) AS n, sum(s) AS s, min(mn) AS mn, max(mx) AS mx, "
        "(array_agg(f ORDER BY t))[1] AS f, (array_agg(l ORDER BY t DESC))[1] AS l FROM p) "
        "SELECT tot.n, tot.s / nullif(tot.n, 0), tot.mn, tot.mx, "
        "CASE WHEN tot.n > 1 THEN sqrt(greatest(0, (SELECT sum(m2) + coalesce(sum(n * power(s / nullif(n, 0) "
        "- tot.s / tot.n, 2)), 0) FROM p) / (tot.n - 1))) END, tot.f, tot.l FROM tot"
    ).format(parts=parts)


def profile_sql(equipment_id: str, metric: str, windows: int) -> sql.Composed:
    """A one-row subquery of ``metric`` over window 0 (mean, min, max, last, count) and windows 1… together
    (mean, sample standard deviation, how many had readings): what ``access.profile`` returns, from parts.
    Window ``k``'s plan is bound with the prefix ``w{k}_``."""
    union = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {} AS d, q.* FROM {} AS q").format(sql.Literal(k), parts_sql(equipment_id, metric, f"w{k}_"))
        for k in range(windows)
    )
    return sql.SQL(
        "(WITH p AS MATERIALIZED ({union}), "
        "u AS (SELECT sum(n) AS n, sum(s) / nullif(sum(n), 0) AS mean FROM p WHERE d > 0) "
        "SELECT (SELECT sum(s) / nullif(sum(n), 0) FROM p WHERE d = 0), "
        "(SELECT min(mn)::float8 FROM p WHERE d = 0), (SELECT max(mx)::float8 FROM p WHERE d = 0), "
        "(SELECT (array_agg(l ORDER BY t DESC) FILTER (WHERE l IS NOT NULL))[1]::float8 FROM p WHERE d = 0), "
        "u.mean, CASE WHEN u.n > 1 THEN sqrt(greatest(0, (SELECT sum(m2) + coalesce(sum(n * power(s / nullif(n, 0) "
        "- u.mean, 2)), 0) FROM p WHERE d > 0) / (u.n - 1))) END, "
        "(SELECT count(DISTINCT d) FROM p WHERE d > 0 AND n > 0), "
        "(SELECT coalesce(sum(n), 0) FROM p WHERE d = 0) FROM u)"
    ).format(union=union)
