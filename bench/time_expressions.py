"""How well the well-kept time-expression libraries read the plant's time phrases, against our own grammar.

    /tmp/timelibs/bin/python bench/time_expressions.py              # every library importable here
    .venv/bin/python bench/time_expressions.py --only ours           # the project's parse_window
    /tmp/timelibs/bin/python bench/time_expressions.py --only dateparser,ctparse --repeat 5 --show-misses

The libraries live in a scratch venv, not in the project (python3.11 -m venv /tmp/timelibs;
/tmp/timelibs/bin/pip install dateparser ctparse timefhuman parsedatetime datefinder
recognizers-text-suite "emoji<2"; recognizers-text 1.0.2a2 imports emoji.UNICODE_EMOJI, gone in emoji 2).
A library that is not importable is skipped with a note.

Every labelled phrase in ``tests/data/time_phrases.jsonl`` (an operator question, an anchor ``now``
and plant zone, and the expected ``[start, end)`` in UTC from /tmp/work/understanding_spec.md, or
no window) is read by each library. Each adapter gets the best out of its library: the plant-local
wall time as reference ("relative base"), a preference for the past where the library has one, its
ranges and granularities where it reports them. What a library returns is then turned into a window
by the same rules for all (see ``window``):

- a range is used as given (in plant wall time), its end clipped to now;
- a single point becomes ``[point, now)`` when the question asks for a rolling span ("the last 3
  hours", "the past day"; a point in the future there, as parsedatetime reads "2 hours", is mirrored
  to the same distance back), and ``[start of its period, now)`` when it says "since"/"so far";
- otherwise a point becomes the period the library says it has: a minute for a clock time, the part of
  day for a part-of-day tag (mapped to the plant's 06-12/12-18/18-22/22-06 hours), or the covering
  day, week (from Monday), month or year; a future answer steps back by a day (clock time, part of
  day), a week (a day within the next 7) or a year, as a past-preferring setting would have;
- a bare duration (ctparse, timefhuman, recognizers) in a rolling question becomes ``[now - duration, now)``.

Wall times are made UTC with zoneinfo, so a library's day or week is DST-correct; its own wall-clock
arithmetic ("24 hours ago" as a wall time) is kept as it is. No library can say "a time phrase I could
not read" ("since the big storm"): that family is scored strictly, and ``invented`` counts the windows
a library made up where none was expected. Latency is per phrase, warm (after a first call), over
``--repeat`` calls each; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import calendar
import importlib.metadata
import json
import logging
import re
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from common import ROOT, machine, percentiles, setup_django

DATA = ROOT / "tests" / "data" / "time_phrases.jsonl"
FAMILIES = ("relative", "calendar", "part_of_day", "clock", "dates", "dst", "not_understood", "no_window")
PARTS_OF_DAY = {"morning": (6, 12), "afternoon": (12, 18), "evening": (18, 22), "night": (22, 30)}
NOTHING, UNREADABLE = "no window", "not understood"  # what a reader can say besides a window

_COUNT = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|half an?)"
_UNIT = r"(?:minute|min|hour|hr|day|week|fortnight|month|quarter|year)s?"
ROLLING = re.compile(
    rf"\b(?:the (?:last|past|previous) (?:{_COUNT} )?|(?:last|past|previous) {_COUNT} ){_UNIT}\b", re.I
)
SINCE = re.compile(r"\b(?:since|so far)\b", re.I)
BETWEEN = re.compile(r"\b(?:between|from)\b", re.I)


# --------------------------------------------------------------------------- cases and readings


@dataclass(frozen=True)
class Case:
    text: str
    now: datetime  # aware, UTC
    zone: ZoneInfo
    family: str
    expected: object  # (start, end) aware UTC, NOTHING or UNREADABLE

    @property
    def local_now(self) -> datetime:
        """The anchor as a naive plant wall time: what the libraries take as their reference."""
        return self.now.astimezone(self.zone).replace(tzinfo=None)


@dataclass(frozen=True)
class Span:
    """A range the library gave, in naive wall time; ``end`` None for an open "since" range."""

    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class Point:
    """One wall time and the period the library says it stands for (minute, day, ..., or a part of day)."""

    at: datetime
    grain: str


@dataclass(frozen=True)
class Duration:
    delta: timedelta = timedelta(0)
    months: int = 0


@dataclass(frozen=True)
class UtcSpan:
    """A window already in UTC (the project's own grammar)."""

    start: datetime
    end: datetime


def load_cases(path: Path) -> list[Case]:
    def instant(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    cases = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row.get("not_understood"):
            expected = UNREADABLE
        else:
            expected = (instant(row["start"]), instant(row["end"])) if row["start"] else NOTHING
        cases.append(Case(row["text"], instant(row["now"]), ZoneInfo(row["zone"]), row["family"], expected))
    return cases


# --------------------------------------------------------------------------- readings to windows


def add_months(moment: datetime, months: int) -> datetime:
    y, m = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    return moment.replace(year=y, month=m + 1, day=min(moment.day, calendar.monthrange(y, m + 1)[1]))


def cover(point: Point) -> tuple[datetime, datetime]:
    """The wall-time period a point stands for."""
    at, grain = point.at, point.grain
    day = datetime.combine(at.date(), clock_time())
    if grain in PARTS_OF_DAY:
        first, last = PARTS_OF_DAY[grain]
        return day + timedelta(hours=first), day + timedelta(hours=last)
    if grain == "minute":
        start = at.replace(second=0, microsecond=0)
        return start, start + timedelta(minutes=1)
    if grain == "day":
        return day, day + timedelta(days=1)
    if grain == "week":
        monday = day - timedelta(days=at.weekday())
        return monday, monday + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    first_month = {"month": at.month, "quarter": (at.month - 1) // 3 * 3 + 1, "year": 1}[grain]
    start = day.replace(month=first_month, day=1)
    return start, add_months(start, months)


def step_back(point: Point, now: datetime) -> Point:
    """A future answer moved to its most recent past occurrence (a day, a week or a year back)."""
    for _ in range(3):
        if cover(point)[0] <= now:
            return point
        if point.grain == "minute" or point.grain in PARTS_OF_DAY:
            back = timedelta(days=1)
        elif point.grain == "day" and point.at - now <= timedelta(days=7):
            back = timedelta(days=7)
        else:
            back = point.at - add_months(point.at, -12)
        point = Point(point.at - back, point.grain)
    return point


def to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone).astimezone(UTC)


def clipped(start: datetime, end: datetime, case: Case) -> object:
    end = min(end, case.now)
    return (start, end) if start < end else NOTHING


def window(reading: object, case: Case, *, literal: bool = False) -> object:
    """(start, end) in UTC, NOTHING or UNREADABLE, by the rules in the module docstring.

    ``literal``: take a library's dates as they come (no stepping back, no mirroring).
    """
    if isinstance(reading, str):
        return reading
    if isinstance(reading, UtcSpan):
        return reading.start, reading.end
    if isinstance(reading, Duration):
        return rolling_back(reading, case) if ROLLING.search(case.text) else NOTHING
    if isinstance(reading, Span):
        end = case.now if reading.end is None else to_utc(reading.end, case.zone)
        return clipped(to_utc(reading.start, case.zone), end, case)
    start, end = point_window(reading, case, literal)
    return clipped(to_utc(start, case.zone), to_utc(end, case.zone), case)


def point_window(point: Point, case: Case, literal: bool) -> tuple[datetime, datetime]:
    now = case.local_now
    if ROLLING.search(case.text):
        return (point.at if literal else now - abs(now - point.at)), now
    if not literal:
        point = step_back(point, now)
    if SINCE.search(case.text):
        return cover(point)[0], now
    return cover(point)


def rolling_back(duration: Duration, case: Case) -> object:
    if duration.months:
        start = to_utc(add_months(case.local_now, -duration.months), case.zone)
    else:
        start = case.now - abs(duration.delta)
    return clipped(start, case.now, case)


def longest(found: list, text_of) -> object:
    return max(found, key=lambda item: len(text_of(item)))


# --------------------------------------------------------------------------- adapters


class Adapter:
    """One library: ``prepare`` imports it (ImportError: skipped), ``read`` returns a reading for a case."""

    name = ""
    distribution = ""
    interpretation = ""
    literal = False  # --literal

    def version(self) -> str:
        return importlib.metadata.version(self.distribution)

    def prepare(self) -> None:
        raise NotImplementedError

    def read(self, case: Case) -> object:
        raise NotImplementedError

    def predict(self, case: Case) -> object:
        return window(self.read(case), case, literal=self.literal)


class DateParser(Adapter):
    name, distribution = "dateparser", "dateparser"
    interpretation = (
        "search_dates (languages en, RELATIVE_BASE plant wall time, PREFER_DATES_FROM past) finds the phrases; "
        "the longest found is re-read with DateDataParser (RETURN_TIME_AS_PERIOD) for its period "
        "(time -> minute, day/week/month/year, part_of_day -> the plant's hours); two found after "
        "'between'/'from' make a range."
    )

    def prepare(self) -> None:
        from dateparser.date import DateDataParser
        from dateparser.search import search_dates

        self.search, self.reader = search_dates, DateDataParser
        self.settings = {"PREFER_DATES_FROM": "past", "RETURN_TIME_AS_PERIOD": True}
        self.periods = {"time": "minute", "day": "day", "week": "week", "month": "month", "year": "year"}

    def read(self, case: Case) -> object:
        base = {**self.settings, "RELATIVE_BASE": case.local_now}
        found = self.search(case.text, languages=["en"], settings=base) or []
        if not found:
            return NOTHING
        if len(found) >= 2 and BETWEEN.search(case.text) and found[0][1] < found[1][1]:
            return Span(found[0][1], found[1][1])
        phrase, at = longest(found, lambda item: item[0])
        data = self.reader(languages=["en"], settings=base).get_date_data(phrase)  # its settings hold the anchor
        if data.date_obj is None:
            return Point(at, "minute")
        grain = data.part_of_day.value if data.period == "part_of_day" else self.periods[data.period]
        return Point(data.date_obj, grain)


class CtParse(Adapter):
    name, distribution = "ctparse", "ctparse"
    interpretation = (
        "ctparse(text, ts=plant wall time); Interval -> range (a bound with an hour is exact, a date bound "
        "covers its day); Time with a date: an hour -> minute, a part of day named morning/afternoon/evening/"
        "night -> the plant's hours (other PODs keep ctparse's own hours), a month or year alone -> that "
        "period, else the day; Duration -> rolling span when asked. It prefers the future; answers are "
        "stepped back."
    )

    def prepare(self) -> None:
        import ctparse
        from ctparse.types import Duration as CtDuration
        from ctparse.types import Interval

        logging.getLogger("ctparse").setLevel(logging.CRITICAL)
        self.parse, self.duration_type, self.interval_type = ctparse.ctparse, CtDuration, Interval

    def read(self, case: Case) -> object:
        parsed = self.parse(case.text, ts=case.local_now, timeout=1.0)
        if parsed is None:
            return NOTHING
        res = parsed.resolution
        if isinstance(res, self.duration_type):
            return self.duration(res)
        if isinstance(res, self.interval_type):
            return self.interval(res)
        return self.time(res)

    @staticmethod
    def duration(res) -> Duration:
        unit = res.unit.value
        if unit == "months":
            return Duration(months=res.value)
        return Duration(timedelta(**{"days" if unit == "nights" else unit: res.value}))

    @staticmethod
    def bound(t, *, end: bool) -> datetime | None:
        if None in (t.year, t.month, t.day):
            return None
        if t.hour is not None:
            return datetime(t.year, t.month, t.day, t.hour, t.minute or 0)
        return datetime(t.year, t.month, t.day) + timedelta(days=1 if end else 0)

    def interval(self, res) -> object:
        start = res.t_from and self.bound(res.t_from, end=False)
        end = res.t_to and self.bound(res.t_to, end=True)
        if start is None:
            return NOTHING
        return Span(start, end) if end is None or start < end else NOTHING

    def time(self, t) -> object:
        if t.year is not None and t.month is not None and t.day is None:
            return Point(datetime(t.year, t.month, 1), "month")
        if t.year is not None and t.month is None:
            return Point(datetime(t.year, 1, 1), "year")
        if None in (t.year, t.month, t.day):
            return NOTHING
        day = datetime(t.year, t.month, t.day)
        if t.hour is not None:
            return Point(day.replace(hour=t.hour, minute=t.minute or 0), "minute")
        if t.POD in PARTS_OF_DAY:
            return Point(day, t.POD)
        if t.POD:
            return Span(self.bound(t.start, end=False), self.bound(t.end, end=False) + timedelta(minutes=1))
        return Point(day, "day")


class TimeFHuman(Adapter):
    name, distribution = "timefhuman", "timefhuman"
    interpretation = (
        "timefhuman(text, tfhConfig(now=plant wall time, direction=previous, infer_datetimes=False)); the "
        "longest match: tuple -> range (a date end covers its day), date -> day, datetime/time -> minute "
        "(a time today, stepped back if still to come), timedelta -> rolling span when asked."
    )

    def prepare(self) -> None:
        from timefhuman import Direction, tfhConfig, timefhuman

        self.parse, self.config, self.previous = timefhuman, tfhConfig, Direction.previous

    def read(self, case: Case) -> object:
        config = self.config(
            now=case.local_now, direction=self.previous, infer_datetimes=False, return_matched_text=True
        )
        found = self.parse(case.text, config=config)
        if not found:
            return NOTHING
        _, _, value = longest(found, lambda item: item[0])
        return self.value(value[0] if isinstance(value, list) else value, case)

    def value(self, value, case: Case) -> object:
        if isinstance(value, tuple):
            start, end = (self.value(v, case) for v in value)
            if not isinstance(start, Point) or not isinstance(end, Point):
                return NOTHING
            end_at = cover(end)[1] if end.grain == "day" else end.at
            return Span(start.at, end_at) if start.at < end_at else NOTHING
        if isinstance(value, timedelta):
            return Duration(value)
        if isinstance(value, datetime):
            return Point(value, "minute")
        if isinstance(value, date):
            return Point(datetime.combine(value, clock_time()), "day")
        if isinstance(value, clock_time):
            return Point(datetime.combine(case.local_now.date(), value), "minute")
        return NOTHING


class ParseDateTime(Adapter):
    name, distribution = "parsedatetime", "parsedatetime"
    interpretation = (
        "Calendar(VERSION_CONTEXT_STYLE).nlp(text, sourceTime=plant wall time); the longest match, its "
        "pdtContext accuracy as the period: hour/minute/second/half-day -> minute, day, week, month, year; "
        "'now' -> no window. No ranges, no past preference (answers are stepped back)."
    )

    def prepare(self) -> None:
        import parsedatetime

        self.calendar = parsedatetime.Calendar(version=parsedatetime.VERSION_CONTEXT_STYLE)
        ctx = parsedatetime.pdtContext
        self.grains = [
            (ctx.ACU_HOUR | ctx.ACU_MIN | ctx.ACU_SEC | ctx.ACU_HALFDAY, "minute"),
            (ctx.ACU_DAY, "day"),
            (ctx.ACU_WEEK, "week"),
            (ctx.ACU_MONTH, "month"),
            (ctx.ACU_YEAR, "year"),
        ]
        self.now_flag = ctx.ACU_NOW

    def read(self, case: Case) -> object:
        found = self.calendar.nlp(case.text, sourceTime=case.local_now)
        if not found:
            return NOTHING
        at, context, *_ = longest(found, lambda item: item[4])
        if context.accuracy & self.now_flag:
            return NOTHING
        grain = next((name for flags, name in self.grains if context.accuracy & flags), "day")
        return Point(at, grain)


class Recognizers(Adapter):
    name, distribution = "recognizers-text", "recognizers-text-date-time"
    interpretation = (
        "DateTimeRecognizer(English) DateTimeModel.parse(text, reference=plant wall time); the longest "
        "result; of its alternative values the latest that has begun (else the first): date -> day, "
        "daterange/datetimerange -> range (Mod 'since' -> open range), a timex part of day TMO/TAF/TEV/TNI "
        "-> the plant's hours, time/timerange -> today (stepped back if to come), datetime -> minute, "
        "duration -> rolling span when asked."
    )
    PODS = {"MO": "morning", "AF": "afternoon", "EV": "evening", "NI": "night"}

    def prepare(self) -> None:
        from recognizers_date_time import DateTimeRecognizer
        from recognizers_text import Culture

        self.model = DateTimeRecognizer(Culture.English).get_datetime_model(Culture.English)

    def read(self, case: Case) -> object:
        results = [r for r in self.model.parse(case.text, case.local_now) if r.resolution]
        if not results:
            return NOTHING
        best = longest(results, lambda r: r.text)
        readings = [self.value(v, case) for v in best.resolution.get("values", [])]
        readings = [r for r in readings if r is not NOTHING]
        started = [r for r in readings if not isinstance(r, Point | Span) or self.start(r) <= case.local_now]
        if started:
            return max(started, key=lambda r: self.start(r) if isinstance(r, Point | Span) else datetime.min)
        return (readings or [NOTHING])[0]

    @staticmethod
    def start(reading: Point | Span) -> datetime:
        return reading.start if isinstance(reading, Span) else cover(reading)[0]

    def value(self, value: dict, case: Case) -> object:
        kind, today = value.get("type"), case.local_now.date()
        if kind == "duration":
            return Duration(timedelta(seconds=float(value["value"])))
        if kind == "date":
            return Point(datetime.fromisoformat(value["value"]), "day")
        if kind in ("datetime", "time"):
            return Point(self.wall(value["value"], today), "minute")
        pod = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(MO|AF|EV|NI)", value.get("timex", ""))
        if pod:
            return Point(datetime.fromisoformat(pod[1]), self.PODS[pod[2]])
        if kind in ("daterange", "datetimerange", "timerange") and "start" in value:
            return self.span(value, today)
        return NOTHING

    def span(self, value: dict, today: date) -> object:
        start = self.wall(value["start"], today)
        if value.get("Mod") in ("since", "after") or "end" not in value:
            return Point(start, "minute") if value["type"] == "timerange" else Span(start, None)
        end = self.wall(value["end"], today)
        if value["type"] == "timerange" and start > datetime.combine(today, clock_time()):
            start, end = start - timedelta(days=1), end - timedelta(days=1)  # checked against now by window()
        return Span(start, end) if start < end else NOTHING

    @staticmethod
    def wall(text: str, today: date) -> datetime:
        if re.fullmatch(r"\d{2}:\d{2}(:\d{2})?", text):
            return datetime.combine(today, clock_time.fromisoformat(text))
        return datetime.fromisoformat(text)


class DateFinder(Adapter):
    name, distribution = "datefinder", "datefinder"
    interpretation = (
        "find_dates(text, source=True, base_date=plant wall time); the longest match; it reports no "
        "granularity, so a match with a clock in it (h:mm, am/pm) is a minute and any other a day."
    )

    def prepare(self) -> None:
        import datefinder

        self.find = datefinder.find_dates

    def read(self, case: Case) -> object:
        found = list(self.find(case.text, source=True, base_date=case.local_now))
        if not found:
            return NOTHING
        at, source = longest(found, lambda item: item[1])
        grain = "minute" if re.search(r"\d:\d|\d\s*[ap]\.?m\b", source, re.I) else "day"
        return Point(at, grain)


class Ours(Adapter):
    name, distribution = "ours", ""
    interpretation = (
        "layer2.understanding.time_windows.parse_window(text=normalise(text), now, zone) on the question as "
        "the intent parser normalises it; a result without a window is 'not understood', None is 'no window'."
    )

    def version(self) -> str:
        return "working tree"

    def prepare(self) -> None:
        try:
            self.load()
        except Exception as error:
            if isinstance(error, ImportError):
                raise
            setup_django()  # a module that wants Django configured first
            self.load()

    def load(self) -> None:
        from layer2.understanding.intent import normalise
        from layer2.understanding.time_windows import parse_window

        self.parse, self.normalise = parse_window, normalise

    def read(self, case: Case) -> object:
        result = self.parse(text=self.normalise(case.text), now=case.now, zone=case.zone)
        if result is None:
            return NOTHING
        found = getattr(result, "window", result)  # TimePhrase(.window) or WindowResult(.start/.end)
        if getattr(result, "not_understood", None) or found is None or getattr(found, "start", None) is None:
            return UNREADABLE
        return UtcSpan(found.start.astimezone(UTC), found.end.astimezone(UTC))


ADAPTERS = [Ours, DateParser, CtParse, TimeFHuman, ParseDateTime, Recognizers, DateFinder]


# --------------------------------------------------------------------------- measuring


def timed_predictions(adapter: Adapter, cases: list[Case], repeat: int) -> tuple[list, list[float]]:
    predictions, samples = [], []
    for case in cases:
        predictions.append(adapter.predict(case))  # the first call also warms the library up
        for _ in range(repeat):
            started = time.perf_counter()
            adapter.predict(case)
            samples.append(time.perf_counter() - started)
    return predictions, samples


def scores(cases: list[Case], predictions: list) -> dict:
    right, seen = defaultdict(int), defaultdict(int)
    for case, got in zip(cases, predictions, strict=True):
        seen[case.family] += 1
        right[case.family] += got == case.expected
    invented = sum(
        isinstance(got, tuple) and isinstance(c.expected, str) for c, got in zip(cases, predictions, strict=True)
    )
    return {
        "accuracy_pct": pct(sum(right.values()), len(cases)),
        "families": {family: pct(right[family], seen[family]) for family in FAMILIES if seen[family]},
        "invented_windows": invented,
    }


def pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def measure(adapter: Adapter, cases: list[Case], repeat: int, show_misses: bool) -> dict:
    predictions, samples = timed_predictions(adapter, cases, repeat)
    if show_misses:
        for case, got in zip(cases, predictions, strict=True):
            if got != case.expected:
                print(f"miss {adapter.name:16} {case.family:14} {case.text!r}: want {said(case.expected, case)}, "
                      f"got {said(got, case)}", file=sys.stderr)  # fmt: skip
    return {"version": adapter.version(), **scores(cases, predictions), **percentiles(samples, 0.5, 0.99)}


def said(answer: object, case: Case) -> str:
    if isinstance(answer, str):
        return answer
    start, end = (t.astimezone(case.zone).strftime("%a %m-%d %H:%M") for t in answer)
    return f"[{start}, {end}) {case.zone.key}"


# --------------------------------------------------------------------------- report


def table(results: dict, cases: list[Case]) -> str:
    counts = defaultdict(int)
    for case in cases:
        counts[case.family] += 1
    heads = ["library", "version", "exact%", *(f"{f} ({counts[f]})" for f in FAMILIES), "invented", "p50 ms", "p99 ms"]
    rows = [heads]
    for name, r in results.items():
        families = [f"{r['families'].get(f, 0):g}" for f in FAMILIES]
        rows.append([name, r["version"], f"{r['accuracy_pct']:g}", *families, str(r["invented_windows"]),
                     f"{r['p50_ms']:g}", f"{r['p99_ms']:g}"])  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(heads))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def parse_args() -> argparse.Namespace:
    usage = "\n\n".join(__doc__.split("\n\n")[:2])  # the summary and how to run it
    parser = argparse.ArgumentParser(description=usage, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="labelled phrases (JSON lines)")
    names = ", ".join(a.name for a in ADAPTERS)
    parser.add_argument("--only", default="", help=f"comma-separated readers to run ({names}); default all")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per phrase after the first (default 20)")
    parser.add_argument("--show-misses", action="store_true", help="print every wrong window to stderr")
    parser.add_argument("--literal", action="store_true", help="no stepping back of future answers, no mirroring")
    return parser.parse_args()


def chosen(only: str) -> list[Adapter]:
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    unknown = wanted - {a.name for a in ADAPTERS}
    if unknown:
        sys.exit(f"unknown reader(s): {', '.join(sorted(unknown))}")
    return [a() for a in ADAPTERS if not wanted or a.name in wanted]


def main() -> None:
    args = parse_args()
    if args.repeat < 1:
        sys.exit("--repeat must be at least 1")
    cases = load_cases(args.data)
    results, skipped = {}, {}
    for adapter in chosen(args.only):
        adapter.literal = args.literal
        try:
            adapter.prepare()
        except ImportError as error:
            skipped[adapter.name] = f"not importable here: {error}"
            print(f"skipped {adapter.name}: {skipped[adapter.name]}", file=sys.stderr)
            continue
        print(f"{adapter.name}: {adapter.interpretation}", file=sys.stderr)
        results[adapter.name] = measure(adapter, cases, args.repeat, args.show_misses)
    print(f"{len(cases)} phrases from {args.data.name}; % exact [start, end) per family (phrases in brackets)")
    print(table(results, cases))
    summary = {"bench": "time_expressions", "machine": machine(), "date": datetime.now(UTC).date().isoformat(),
               "phrases": len(cases), "literal": args.literal, "libraries": results, "skipped": skipped}  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    warnings.filterwarnings("ignore")  # dateparser's and ctparse's deprecation chatter
    main()
