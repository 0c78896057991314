"""Time phrases on the plant's clock: "since 7 am" becomes a ``[start, end)`` window in UTC.

Every calendar word is resolved in the plant's own time zone (the
``PLANT_TIME_ZONE`` setting) at wall-clock time and only then converted to
UTC, so "yesterday" is 23 or 25 hours long across a DST change while "the
last 24 hours" is always 24. ``now`` (the orchestrator's: just after the
newest reading) is the anchor; windows never reach past it.

The meanings are fixed here, in one place:

- parts of the day: morning 06-12, afternoon 12-18, evening 18-22, night 22-06;
  "last night" is yesterday 18:00 to 06:00 today, "overnight" 22:00 to 06:00;
- weeks start on Monday; quarters are calendar quarters;
- "last week / month / quarter / year" is the previous calendar period, but
  "the last / past month" and "the last N months" roll back from now;
- a weekday ("on Tuesday") is the most recent one before today, a date ("on 3
  November") or month ("in March") the most recent that has begun;
- a clock time is today's, or yesterday's if today's is still to come; "at
  10:30" is the reading of that minute;
- "the last N <unit>s" takes any positive count of any unit, whole or not
  ("the last 2.5 weeks", "the last million days"); a window reaching back
  before :data:`EARLIEST` (1900) begins there and keeps the words asked, and
  "the last 0 days" is not understood.

A phrase that looks like a time but cannot be read ("since the big storm",
"during the last shutdown") comes back as a :class:`TimePhrase` without a
window, so the answer can say what it did not understand instead of
answering for "now". The well-kept parsers (dateparser, ctparse,
timefhuman, recognizers-text) were measured on the labelled phrases in
``tests/data/time_phrases.jsonl`` (``bench/time_expressions.py``,
``docs/benchmarks.md``) before this grammar was kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

PARTS_OF_DAY = {"morning": (6, 12), "afternoon": (12, 18), "evening": (18, 22), "night": (22, 30)}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")  # fmt: skip
_MONTH = (
    r"(?P<month>january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|aug|sept?|oct|nov|dec)"
)
_WEEKDAY = r"(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_CLOCK = (
    r"(?P<h{n}>\d{{1,2}})(?:(?:[:.]| )(?P<m{n}>[0-5]\d)(?! ?(?:%|percent|degrees|minutes?|mins?|hours?|days?|kw)))?"
    r"(?: ?(?P<ap{n}>[ap]m|o'?clock))?"
)
_UNIT = r"(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|fortnights?|months?|quarters?|years?)"
_AMOUNT = r"(?P<n>\d+(?:\.\d+)?|an?|one|a couple of|couple of|a few|few|several)"
UNIT_DELTAS = {
    "minute": relativedelta(minutes=1),
    "hour": relativedelta(hours=1),
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "fortnight": relativedelta(weeks=2),
    "month": relativedelta(months=1),
    "quarter": relativedelta(months=3),
    "year": relativedelta(years=1),
}
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""Where a window reaching back further than this begins (see ``_rolled_back``)."""
_AMOUNTS = {"a": 1, "an": 1, "one": 1, "a couple of": 2, "couple of": 2, "a few": 3, "few": 3, "several": 3}


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC, with the words an operator would use for it (in plant time)."""

    start: datetime
    end: datetime
    label: str
    point: bool = False  # one minute: "the reading at 10:30"


@dataclass(frozen=True)
class TimePhrase:
    """A time phrase found in a question: its window, or None where it could not be read."""

    text: str
    span: tuple[int, int]
    window: Window | None
    ahead: bool = False  # read, but a time still to come on the plant's clock ("7:30 this morning" at 3 am)


@dataclass(frozen=True)
class _Clock:
    """Plant-local wall time and the anchor, with the calendar arithmetic every rule needs."""

    now: datetime
    zone: ZoneInfo

    @property
    def local(self) -> datetime:
        return self.now.astimezone(self.zone)

    @property
    def today(self) -> date:
        return self.local.date()

    def at(self, day: date, hour: int = 0, minute: int = 0) -> datetime:
        """Wall time ``hour:minute`` on ``day`` in the plant, in UTC (DST handled by zoneinfo)."""
        extra, hour = divmod(hour, 24)
        day = day + timedelta(days=extra)
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone).astimezone(UTC)

    def window(self, start: datetime, end: datetime, label: str, *, point: bool = False) -> Window | None:
        if start >= self.now:
            return _AHEAD
        end = min(end, self.now)
        return Window(start, end, label, point) if start < end else None


# --------------------------------------------------------------------------- entry point


def parse_window(*, text: str, now: datetime, zone: ZoneInfo) -> TimePhrase | None:
    """The time phrase in normalised ``text`` (see ``intent.normalise``) at ``now`` in ``zone``, or None."""
    clock = _Clock(now, zone)
    text = _spoken_clock(text)
    for pattern, rule in _rules():
        for m in pattern.finditer(text):
            window = rule(m, clock)
            if window is _AHEAD:
                return TimePhrase(m.group(0).strip(), m.span(), None, ahead=True)
            if window is not _SKIP:
                return TimePhrase(m.group(0).strip(), m.span(), window)
    return None


_SKIP = Window(datetime.min.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC), "")
"""A rule's answer for "these words are not a time after all" (at 90 percent): try the next one."""
_AHEAD = Window(datetime.max.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC), "")
"""A rule's answer for a time that has not come yet ("this evening" in the morning)."""


# --------------------------------------------------------------------------- pieces


def _clock_of(m: re.Match, n: int) -> tuple[int, int] | None:
    """(hour, minute) of clock ``n`` in the match, 24-hour; None if it is not a time of day."""
    hour = int(m.group(f"h{n}"))
    minute = int(m.group(f"m{n}") or 0)
    marker = m.group(f"ap{n}") or ""
    if marker in ("am", "pm"):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if marker == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def _is_clock(m: re.Match, n: int) -> bool:
    """Whether clock ``n`` was said as a time (am/pm, o'clock, minutes) rather than a bare number."""
    return bool(m.group(f"ap{n}") or m.group(f"m{n}"))


def _said_clock(hour: int, minute: int) -> str:
    return f"{(hour % 12) or 12}:{minute:02d} {'am' if hour < 12 else 'pm'}"


def _weekday_index(word: str) -> int:
    return next(i for i, name in enumerate(WEEKDAYS) if name.startswith(word[:3]))


def _month_index(word: str) -> int:
    return next(i for i, name in enumerate(MONTHS, start=1) if name.startswith(word[:3]))


def _last_weekday(clock: _Clock, weekday: int) -> date:
    """The most recent ``weekday`` strictly before today."""
    return clock.today - timedelta(days=(clock.today.weekday() - weekday) % 7 or 7)


def _day_words(day: date, clock: _Clock) -> str:
    if day == clock.today:
        return "today"
    if day == clock.today - timedelta(days=1):
        return "yesterday"
    return f"on {day.strftime('%A')} {day.day} {day.strftime('%B')}"


def _day_of(m: re.Match, clock: _Clock) -> date | None:
    """The day a match names through its ``day`` / ``weekday`` groups; None if it names none."""
    groups = m.groupdict()
    if groups.get("tday"):
        return clock.today
    if groups.get("pday"):
        return clock.today - timedelta(days=1)
    if groups.get("weekday"):
        return _last_weekday(clock, _weekday_index(groups["weekday"]))
    word = groups.get("day") or ""
    if "before" in word:
        return clock.today - timedelta(days=2)
    if word in ("yesterday", "last"):
        return clock.today - timedelta(days=1)
    if word in ("today", "this"):
        return clock.today
    return None


def _recent_clock(clock: _Clock, day: date | None, hour: int, minute: int) -> date:
    """The day of a clock time with no day said: today, or yesterday if today's is still to come."""
    if day is not None:
        return day
    return clock.today if clock.at(clock.today, hour, minute) < clock.now else clock.today - timedelta(days=1)


def _count(amount: str | None) -> float:
    """The number said; any count beyond 10^18 reaches before any calendar, so it is read as that."""
    if not amount:
        return 1.0
    return float(_AMOUNTS[amount]) if amount in _AMOUNTS else min(float(amount), 1e18)


def _unit(word: str) -> str:
    word = word.rstrip("s") if word not in ("hrs", "mins") else word[:-1]
    return {"min": "minute", "hr": "hour"}.get(word, word)


# --------------------------------------------------------------------------- rules


def _spoken_clock(text: str) -> str:
    """ "quarter past 7" -> "7:15", "half past 11" -> "11:30", "quarter to 8" -> "7:45", "noon" after at -> "12:00"."""
    text = re.sub(r"\b(?:a )?quarter past (\d{1,2})\b", r"\1:15", text)
    text = re.sub(r"\bhalf past (\d{1,2})\b", r"\1:30", text)
    text = re.sub(r"\b(?:a )?quarter to (\d{1,2})\b", lambda m: f"{(int(m.group(1)) - 1) % 24}:45", text)
    return re.sub(r"\b(at|since|from|by) (?:noon|midday)\b", r"\1 12:00", text)


def _between(m: re.Match, clock: _Clock) -> Window | None:
    first, second = _clock_of(m, 1), _clock_of(m, 2)
    if not (_is_clock(m, 1) or _is_clock(m, 2) or m.group("part") or m.group("day") or m.group("weekday")):
        return _SKIP  # "between 10 and 20 percent"
    if m.group("part") in ("afternoon", "evening", "night") and first and second and second[0] < 12:
        first, second = _later_in_day(first, m.group("part")), _later_in_day(second, m.group("part"))
    if first is None or second is None:
        return None
    if not m.group("ap1") and m.group("ap2") == "pm" and first[0] < 12 and first[0] + 12 <= second[0]:
        first = (first[0] + 12, first[1])  # "between 1 and 3 pm"
    day = _recent_clock(clock, _day_of(m, clock), *first)
    end_hour = second[0] + (24 if second <= first else 0)
    label = f"between {_said_clock(*first)} and {_said_clock(*second)} {_day_words(day, clock)}"
    return clock.window(clock.at(day, *first), clock.at(day, end_hour, second[1]), label)


def _at(m: re.Match, clock: _Clock) -> Window | None:
    if not (_is_clock(m, 1) or m.group("part") or m.group("day") or m.group("weekday")):
        return _SKIP  # "at 90 percent"
    said = _later_in_day(_clock_of(m, 1), m.group("part"))
    if said is None:
        return None
    hour, minute = said
    day = _recent_clock(clock, _day_of(m, clock), hour, minute)
    start = clock.at(day, hour, minute)
    label = f"at {_said_clock(hour, minute)} {_day_words(day, clock)}"
    return clock.window(start, start + READING_MINUTE, label, point=True)


def _later_in_day(said: tuple[int, int] | None, part: str | None) -> tuple[int, int] | None:
    """ "7 this evening" is 19:00."""
    if said and part in ("afternoon", "evening", "night") and said[0] < 12:
        return said[0] + 12, said[1]
    return said


def _since_clock(m: re.Match, clock: _Clock) -> Window | None:
    if not (_is_clock(m, 1) or m.group("day") or m.group("weekday") or m.group("part")):
        return _SKIP
    said = _later_in_day(_clock_of(m, 1), m.group("part"))
    if said is None:
        return None
    day = _recent_clock(clock, _day_of(m, clock), *said)
    label = f"since {_said_clock(*said)}" + ("" if day == clock.today else f" {_day_words(day, clock)}")
    return clock.window(clock.at(day, *said), clock.now, label)


def _since_named(m: re.Match, clock: _Clock) -> Window | None:
    """Since midnight / noon / a weekday / yesterday (evening) / this morning / last night."""
    what = m.group("what")
    if what in ("midnight", "noon", "midday"):
        hour = 0 if what == "midnight" else 12
        day = _recent_clock(clock, None, hour, 0)
        return clock.window(clock.at(day, hour), clock.now, f"since {what}")
    for pattern, rule in _day_rules():
        if inner := pattern.fullmatch(what):
            window = rule(inner, clock)
            if window is None:
                return None
            return clock.window(window.start, clock.now, f"since {window.label.removeprefix('on ')}")
    return None


def _part_of_day(m: re.Match, clock: _Clock) -> Window | None:
    part = m.group("part")
    day = _day_of(m, clock) or clock.today
    if part == "tonight":
        part = "evening"
    first, last = PARTS_OF_DAY[part]
    words = _day_words(day, clock)
    label = {"today": f"this {part}", "yesterday": f"yesterday {part}"}.get(words, f"{words} {part}")
    return clock.window(clock.at(day, first), clock.at(day, last), label)


def _last_night(m: re.Match, clock: _Clock) -> Window | None:
    yesterday = clock.today - timedelta(days=1)
    overnight = "overnight" in m.group(0)
    return clock.window(
        clock.at(yesterday, 22 if overnight else 18),
        clock.at(clock.today, 6),
        "overnight" if overnight else "last night",
    )


def _whole_day(m: re.Match, clock: _Clock) -> Window | None:
    day = _day_of(m, clock)
    if day == clock.today:
        return clock.window(clock.at(day), clock.now, "today")
    return clock.window(clock.at(day), clock.at(day + timedelta(days=1)), _day_words(day, clock))


def _date(m: re.Match, clock: _Clock) -> Window | None:
    if m.group("month") == "may" and not re.match(r"(?:on|of|the) |\d+(?:st|nd|rd|th)", m.group(0)):
        return _SKIP  # "pump 3 may be hot"
    month = _month_index(m.group("month")) if m.group("month") else clock.today.month
    year = int(m.group("year")) if m.group("year") else clock.today.year
    try:
        day = date(year, month, int(m.group("dom")))
        if not m.group("year") and day > clock.today:
            day = day - relativedelta(years=1) if m.group("month") else day - relativedelta(months=1)
    except ValueError:
        return None
    label = f"on {day.day} {day.strftime('%B')} {day.year}"
    return clock.window(clock.at(day), clock.at(day + timedelta(days=1)), label)


def _month(m: re.Match, clock: _Clock) -> Window | None:
    month = _month_index(m.group("month"))
    year = int(m.group("year")) if m.group("year") else clock.today.year
    if not m.group("year") and date(year, month, 1) > clock.today:
        year -= 1
    first = date(year, month, 1)
    label = f"in {first.strftime('%B')}" + (f" {year}" if year != clock.today.year else "")
    return clock.window(clock.at(first), clock.at(first + relativedelta(months=1)), label)


def _weekend(m: re.Match, clock: _Clock) -> Window | None:
    today = clock.today
    saturday = today - timedelta(days=(today.weekday() - 5) % 7)  # the latest Saturday, today included
    this = m.group("which") == "this"
    if not this and saturday + timedelta(days=2) > today:
        saturday -= timedelta(days=7)  # "last weekend": the latest one that is over
    label = "this weekend" if this else "last weekend"
    return clock.window(clock.at(saturday), clock.at(saturday + timedelta(days=2)), label)


def _period_start(unit: str, today: date) -> date:
    if unit == "week":
        return today - timedelta(days=today.weekday())
    if unit == "month":
        return today.replace(day=1)
    if unit == "quarter":
        return today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    return today.replace(month=1, day=1)


def _calendar_period(m: re.Match, clock: _Clock) -> Window | None:
    unit = {"ytd": "year", "mtd": "month", "wtd": "week", "qtd": "quarter"}.get(m.group("period"), m.group("period"))
    start = _period_start(unit, clock.today)
    if m.group("which") in ("last", "previous", "prior"):
        return clock.window(clock.at(start - UNIT_DELTAS[unit]), clock.at(start), f"last {unit}")
    return clock.window(clock.at(start), clock.now, f"this {unit}")


def _rolling(m: re.Match, clock: _Clock) -> Window | None:
    said, unit = m.group("n"), _unit(m.group("unit"))
    count = _count(said)
    if count <= 0:
        return None  # "the last 0 days" asks for no time at all: not understood, never "now"
    return clock.window(_rolled_back(clock, count, unit), clock.now, _rolling_label(_number(said, count), unit))


_CALENDAR_MONTHS = {"month": 1, "quarter": 3, "year": 12}
_FIXED = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "fortnight": timedelta(weeks=2),
}
_MEAN_MONTH = timedelta(days=365.2425 / 12)  # the Gregorian calendar's: what a fraction of a month is worth


def _rolled_back(clock: _Clock, count: float, unit: str) -> datetime:
    """``now`` less ``count`` units, never before :data:`EARLIEST`.

    Months, quarters and years are stepped on the plant's wall clock (a
    fraction is whole months and a share of a mean month); the rest are fixed
    lengths. A count reaching past year 1 cannot be computed at all, and any
    reaching past the floor covers no data a plant can hold, so both start at
    the floor: the window keeps the words asked, and the answer is over the
    data that exists (the voice says where it starts).
    """
    try:
        if unit in _CALENDAR_MONTHS:
            months = count * _CALENDAR_MONTHS[unit]
            local = clock.local - relativedelta(months=int(months)) - _MEAN_MONTH * (months - int(months))
            start = local.astimezone(UTC)
        else:
            start = clock.now - _FIXED[unit] * count
    except (OverflowError, ValueError):  # before year 1 (datetime's, dateutil's or timedelta's own limit)
        return EARLIEST
    return max(start, EARLIEST)


def _number(said: str | None, count: float) -> str:
    """The count as said ("1000000", "2.5"; digits kept exactly however many); "1" for "a", "3" for "a few"."""
    if said and said.isdigit():
        return said.lstrip("0") or "0"
    return str(int(count)) if count == int(count) else str(count)


def _rolling_label(number: str, unit: str) -> str:
    if number == "0.5":
        return f"last half {unit}"
    if (number, unit) == ("1", "day"):
        return "last 24 hours"
    return f"last {number} {unit}s" if number != "1" else f"last {unit}"


def _ago(m: re.Match, clock: _Clock) -> Window | None:
    said, unit = m.group("n"), _unit(m.group("unit"))
    count = int(_count(said))
    number = _number(said, count) if said and said.isdigit() else str(count)
    words = f"{number} {unit}{'s' if number != '1' else ''} ago"
    point = unit in ("minute", "hour")
    try:
        if point:
            start = clock.now - READING_MINUTE - _FIXED[unit] * count
        else:  # a day on the plant's wall clock
            start = clock.at((clock.local - UNIT_DELTAS[unit] * count).date())
    except (OverflowError, ValueError):  # before year 1
        start = EARLIEST
    if start <= EARLIEST:  # further back than any data: that moment's reading is none, said as asked
        return clock.window(EARLIEST, EARLIEST + (READING_MINUTE if point else timedelta(days=1)), words, point=point)
    if point:
        return clock.window(start, start + READING_MINUTE, words, point=True)
    day = start.astimezone(clock.zone).date()
    return clock.window(start, clock.at(day + timedelta(days=1)), _day_words(day, clock))


def _half_hour(m: re.Match, clock: _Clock) -> Window | None:
    delta = timedelta(minutes=30) if "hour" in m.group(0) else timedelta(hours=12)
    return clock.window(clock.now - delta, clock.now, f"last half {'hour' if 'hour' in m.group(0) else 'day'}")


def _unreadable(m: re.Match, clock: _Clock) -> Window | None:
    """Time words no rule above could read ("since the big storm", "since lunchtime"): not understood."""
    if re.fullmatch(rf"(?:{_TIME_NOUNS})s?", m.group("what")):
        return _SKIP
    return None


# --------------------------------------------------------------------------- grammar

READING_MINUTE = timedelta(minutes=1)
_TIME_NOUNS = (
    r"minute|min|hour|hr|day|week|fortnight|month|quarter|year|morning|afternoon|evening|night|midnight"
    r"|noon|weekend|start|beginning|end|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)
_DAY = r"(?P<day>today|yesterday|the day before yesterday|day before yesterday)"
_PART = r"(?P<part>morning|afternoon|evening|night)"
_DAY_OR_PART = rf"(?: (?:(?P<tday>this) |(?P<pday>yesterday) |last )?{_PART}| (?:on |last )?{_WEEKDAY}| {_DAY})?"
_PERIOD = r"(?P<period>week|month|quarter|year)"


@cache
def _day_rules() -> list[tuple[re.Pattern[str], Callable[[re.Match, _Clock], Window | None]]]:
    """A day or part of a day said alone: what "since ..." may name."""
    return _compiled(
        (
            (r"last night|overnight", _last_night),
            (rf"(?:(?:the )?{_DAY}|(?:last )?{_WEEKDAY}|this) {_PART}", _part_of_day),
            (rf"(?:the )?{_DAY}|(?:last )?{_WEEKDAY}", _whole_day),
        )
    )


@cache
def _rules() -> list[tuple[re.Pattern[str], Callable[[re.Match, _Clock], Window | None]]]:
    """Every rule, most specific first; the first whose words match (and do not skip) wins. Compiled once,
    on first use."""
    amount = _AMOUNT
    clock1, clock2 = _CLOCK.format(n=1), _CLOCK.format(n=2)
    return _compiled(
        (
            (rf"\b(?:between|from) {clock1} (?:and|to|till|until) {clock2}{_DAY_OR_PART}\b", _between),
            (rf"\b(?:since|from) {clock1}{_DAY_OR_PART}\b", _since_clock),
            (r"\bsince (?:the )?(?:start|beginning) of (?:the |this )?" + _PERIOD + r"\b", _to_date),
            (
                r"\bsince (?P<what>midnight|noon|midday|(?:the )?day before yesterday|yesterday(?: (?:morning"
                r"|afternoon|evening|night))?|last night|this (?:morning|afternoon|evening)"
                r"|(?:last )?(?:mon|tues|wednes|thurs|fri|satur|sun)day(?: (?:morning|afternoon|evening|night))?)\b",
                _since_named,
            ),
            (rf"\b(?:at|around|about) {clock1}{_DAY_OR_PART}\b", _at),
            (rf"\b{amount} (?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?) ago\b", _ago),
            (
                r"\b(?:the )?(?:last|past|previous) half (?:an? )?(?:hour|day)\b|\bhalf an hour\b|\bhalf a day\b",
                _half_hour,
            ),
            (r"\b(?:last night|overnight|(?:during|in|over|through) the night)\b", _last_night),
            (rf"\b(?:(?:the )?{_DAY}|{_WEEKDAY}|this|yesterday) {_PART}\b", _part_of_day),
            (r"\b(?P<part>tonight)\b", _part_of_day),
            (r"\b(?:(?P<which>this|last|past|previous) |over the |at the |on the )weekend\b", _weekend),
            (rf"(?<!the )(?<!past )\b(?P<which>this|current|last|previous|prior) {_PERIOD}\b", _calendar_period),
            (r"\b(?P<period>week|month|quarter|year) to date\b", _to_date),
            (r"\b(?P<which>)(?P<period>ytd|mtd|wtd|qtd)\b", _calendar_period),
            (rf"\b(?:the )?(?:last|past|previous|recent) (?:{amount} )?{_UNIT}\b", _rolling),
            (rf"\b(?:for|over|in|within|during|of) (?:the )?{amount} {_UNIT}\b", _rolling),
            (rf"\b{amount.replace('an?|', '')} {_UNIT}\b(?! ago)", _rolling),
            (r"\ba fortnight\b", _fortnight),
            (
                rf"\b(?:on |of )?(?:the )?(?P<dom>\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MONTH}(?: (?P<year>20\d\d))?\b",
                _date,
            ),
            (rf"\b(?:on )?{_MONTH} (?:the )?(?P<dom>\d{{1,2}})(?:st|nd|rd|th)?(?: (?P<year>20\d\d))?\b", _date),
            (rf"\b(?:in|during|for|over|throughout|of) (?:the month of )?{_MONTH}(?: (?P<year>20\d\d))?\b", _month),
            (r"\bon the (?P<dom>\d{1,2})(?:st|nd|rd|th)\b(?P<month>)(?P<year>)", _date),
            (rf"\b(?:on |last |this past )?{_WEEKDAY}\b", _whole_day),
            (rf"\b(?:so far )?{_DAY}\b", _whole_day),
            (
                r"\b(?:since|during|before|after|throughout|until|till|when) (?:the|our|my|that|last|this|a|an)"
                r" (?P<what>\w+)(?: \w+)?",
                _unreadable,
            ),
            (
                r"\b(?:since|until|till|during) (?!(?:the|a|an|this|that|last|our|my|then|when|now)\b)"
                r"(?P<what>[a-z]+)\b",
                _unreadable,
            ),
            (
                r"\b(?:before|after|during|around) (?P<what>lunch\w*|breakfast|dinner|tea ?time|shift change|startup"
                r"|shutdown|maintenance)\b",
                _unreadable,
            ),
        )
    )


def _to_date(m: re.Match, clock: _Clock) -> Window | None:
    """ "month to date", "since the start of the week": the calendar period so far."""
    unit = m.group("period")
    return clock.window(clock.at(_period_start(unit, clock.today)), clock.now, f"this {unit}")


def _fortnight(m: re.Match, clock: _Clock) -> Window | None:
    return clock.window(clock.now - timedelta(weeks=2), clock.now, "last 2 weeks")


def _compiled(rules: tuple[tuple[str, Callable], ...]) -> list[tuple[re.Pattern[str], Callable]]:
    return [(re.compile(pattern), rule) for pattern, rule in rules]
