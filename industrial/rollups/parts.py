"""Bucket aggregates computed in numpy, for rows the seeder has in memory.

A ``Parts`` is a run of buckets in time order, each with per metric the
count, sum, ``m2``, min, max, first and last of its readings. Rows are parts
of one reading each, so one combining step (``_combine``) makes buckets from
rows and merges buckets split across chunks: sums add, and ``m2`` adds the
spread between the pieces' means (Chan, Golub & LeVeque), exact to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

HOUR = 3600


@dataclass(frozen=True)
class MetricParts:
    n: np.ndarray  # int64
    sum: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray
    first: np.ndarray
    last: np.ndarray


@dataclass(frozen=True)
class Parts:
    keys: np.ndarray  # each bucket's start, unix seconds, ascending
    metrics: dict[str, MetricParts]

    def __len__(self) -> int:
        return len(self.keys)

    def tail(self, start: int) -> Parts:
        """The buckets from index ``start`` on."""
        return Parts(
            self.keys[start:],
            {m: MetricParts(*(a[start:] for a in vars(p).values())) for m, p in self.metrics.items()},
        )


def from_rows(keys: np.ndarray, columns: dict[str, np.ndarray]) -> Parts:
    """Buckets of rows whose bucket starts are ``keys`` (ascending, one per row), over each column."""
    ones = np.ones(len(keys), dtype=np.int64)
    zeros = np.zeros(len(keys))
    pieces = {m: MetricParts(ones, x, zeros, x, x, x, x) for m, x in columns.items()}
    return _combine(keys, pieces)


def merge(parts: list[Parts]) -> Parts:
    """``parts`` (consecutive runs, in time order) as one run, a bucket split between two runs made whole."""
    keys = np.concatenate([p.keys for p in parts])
    names = parts[0].metrics
    pieces = {
        m: MetricParts(*(np.concatenate([getattr(p.metrics[m], f) for p in parts]) for f in vars(names[m])))
        for m in names
    }
    return _combine(keys, pieces)


def _combine(keys: np.ndarray, pieces: dict[str, MetricParts]) -> Parts:
    if len(keys) == 0:
        return Parts(keys.astype(np.int64), pieces)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)] - 1
    sizes = np.diff(np.r_[starts, len(keys)])
    combined = {}
    for m, p in pieces.items():
        n = np.add.reduceat(p.n, starts)
        total = np.add.reduceat(p.sum, starts)
        mean = np.repeat(total / n, sizes)
        m2 = np.add.reduceat(p.m2 + p.n * (p.sum / p.n - mean) ** 2, starts)
        combined[m] = MetricParts(
            n, total, m2, np.minimum.reduceat(p.min, starts), np.maximum.reduceat(p.max, starts),
            p.first[starts], p.last[ends],
        )  # fmt: skip
    return Parts(keys[starts].astype(np.int64), combined)


def hour_keys(timestamps: np.ndarray) -> np.ndarray:
    """Each row's UTC hour (unix seconds)."""
    return timestamps - timestamps % HOUR


def day_keys(timestamps: np.ndarray, time_zone: str) -> np.ndarray:
    """Each row's local midnight in ``time_zone`` (unix seconds)."""
    zone = ZoneInfo(time_zone)
    first = datetime.fromtimestamp(int(timestamps[0]), zone).date()
    last = datetime.fromtimestamp(int(timestamps[-1]), zone).date()
    midnights = np.array(
        [local_midnight(first + timedelta(days=k), zone) for k in range((last - first).days + 2)], dtype=np.int64
    )
    return midnights[np.searchsorted(midnights, timestamps, side="right") - 1]


def local_midnight(day: date, zone: ZoneInfo) -> int:
    """The instant ``day`` begins in ``zone`` (unix seconds), as PostgreSQL's ``date_trunc('day', …, zone)``
    reads it: a midnight that happens twice is the later one, one skipped by a clock change is the moment the
    day's first hour begins."""
    candidates = sorted({int(datetime.combine(day, time(0), zone).replace(fold=f).timestamp()) for f in (0, 1)})
    real = [t for t in candidates if datetime.fromtimestamp(t, zone).time() == time(0)]
    if real:
        return real[-1]
    return min(t for t in candidates if datetime.fromtimestamp(t, zone).date() == day)
