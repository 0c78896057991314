"""Which source answers which stretch of a window: daily rollups, hourly rollups, raw rows.

A window ``[start, end)`` is cut greedily, coarsest first: the whole local
days inside it (and inside the daily rollups' coverage), then the whole UTC
hours of what is left, then raw rows at the ragged edges. A plan's ``shape`` (how many
ranges of each source) picks the statement's text; there are few shapes, so
each text is composed once.

The plan is made from a cached view of the rollups' coverage; the statement
checks the coverage again in its own snapshot (``reading``), so a stale view
only costs speed, never exactness.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from industrial.rollups.parts import local_midnight

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EMPTY = (EPOCH, EPOCH)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Coverage:
    """How far one equipment's rollups are exact: every raw row before ``hour`` (``day``) is in them."""

    hour: datetime | None = None
    day: datetime | None = None
    day_zone: str | None = None


NO_COVERAGE = Coverage()


@dataclass(frozen=True)
class Shape:
    """How many ranges a plan reads from each source: the daily rollup (0 or 1), the hourly one, raw rows."""

    day: int
    hours: int
    raw: int


@dataclass(frozen=True)
class WindowPlan:
    day: tuple[datetime, datetime]
    hours: tuple[tuple[datetime, datetime], ...]
    raw: tuple[tuple[datetime, datetime], ...]
    day_zone: str

    @property
    def uses_rollups(self) -> bool:
        return self.day != _EMPTY or bool(self.hours)

    @property
    def shape(self) -> Shape:
        return Shape(int(self.day != _EMPTY), len(self.hours), len(self.raw))

    def params(self, prefix: str = "") -> dict[str, object]:
        """The plan as the bind parameters of ``reading.parts_sql`` and ``coverage_check_sql``: d0 d1, h0 h1 …,
        r0 r1 …, hour_end (the last hour read), day_zone (each name after ``prefix``)."""
        found: dict[str, object] = {"d0": self.day[0], "d1": self.day[1], "day_zone": self.day_zone}
        found["hour_end"] = max((hi for _, hi in self.hours), default=EPOCH)
        for source, ranges in (("h", self.hours), ("r", self.raw)):
            for i, (lo, hi) in enumerate(ranges):
                found[f"{source}{2 * i}"], found[f"{source}{2 * i + 1}"] = lo, hi
        return {prefix + name: value for name, value in found.items()}


def plan_window(
    start: datetime, end: datetime, coverage: Coverage, *, hours: bool = True, day_zone: str | None = None
) -> WindowPlan:
    """Cut ``[start, end)``: local days of ``day_zone`` (None: no days), whole hours if ``hours``, raw rows."""
    day = _EMPTY
    rest = [(start, end)]
    if day_zone is not None and coverage.day is not None and coverage.day_zone == day_zone:
        zone = ZoneInfo(day_zone)
        d0, d1 = ceil_day(start, zone), floor_day(min(end, coverage.day), zone)
        if d0 < d1:
            day, rest = (d0, d1), [(start, d0), (d1, end)]
    hour_ranges, raw = [], []
    for lo, hi in rest:
        if lo >= hi:
            continue
        h0, h1 = _ceil_hour(lo), floor_hour(min(hi, coverage.hour or lo))
        if hours and h0 < h1:
            hour_ranges.append((h0, h1))
            raw += [(lo, h0), (h1, hi)]
        else:
            raw.append((lo, hi))
    return WindowPlan(day, tuple(hour_ranges), _joined(raw), day_zone or "UTC")


def _joined(ranges: list[tuple[datetime, datetime]]) -> tuple[tuple[datetime, datetime], ...]:
    """The non-empty ranges, neighbours joined."""
    found: list[tuple[datetime, datetime]] = []
    for lo, hi in ranges:
        if lo >= hi:
            continue
        if found and found[-1][1] == lo:
            found[-1] = (found[-1][0], hi)
        else:
            found.append((lo, hi))
    return tuple(found)


def floor_hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ceil_hour(t: datetime) -> datetime:
    floor = floor_hour(t)
    return floor if floor == t else floor + HOUR


def floor_day(t: datetime, zone: ZoneInfo) -> datetime:
    """The start of the local day (in ``zone``) that holds ``t``."""
    midnight = _instant(local_midnight(t.astimezone(zone).date(), zone))
    return midnight if midnight <= t else _instant(local_midnight(t.astimezone(zone).date() - timedelta(days=1), zone))


def ceil_day(t: datetime, zone: ZoneInfo) -> datetime:
    """The first local midnight (in ``zone``) at or after ``t``."""
    floor = floor_day(t, zone)
    if floor == t:
        return t
    return _instant(local_midnight(floor.astimezone(zone).date() + timedelta(days=1), zone))


def _instant(unix_seconds: int) -> datetime:
    return datetime.fromtimestamp(unix_seconds, UTC)


@functools.cache
def days_are_whole_hours(time_zone: str) -> bool:
    """Whether every local midnight of ``time_zone`` falls on a UTC hour (so hours nest in its days), checked on
    the first of every month from 1970 to 2100; False for zones such as Asia/Kolkata."""
    zone = ZoneInfo(time_zone)
    for year in range(1970, 2101):
        for month in range(1, 13):
            midnight = datetime(year, month, 1, tzinfo=zone)
            if midnight.utcoffset() % HOUR:
                return False
    return True
