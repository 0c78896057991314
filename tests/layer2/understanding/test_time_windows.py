"""The time grammar on the labelled time phrases (tests/data/time_phrases.jsonl).

The windows were computed with zoneinfo alone from the meanings in
``layer2/understanding/time_windows.py``'s docstring, at several anchors and
zones, DST changes included (a "yesterday" of 23 or 25 hours).
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta

from layer2.understanding.intent import normalise
from layer2.understanding.time_windows import parse_window

PHRASES = [json.loads(line) for line in (Path(__file__).parents[2] / "data" / "time_phrases.jsonl").open()]


def _window(phrase: dict) -> tuple[str | None, str | None] | str:
    now = datetime.fromisoformat(phrase["now"].replace("Z", "+00:00"))
    found = parse_window(text=normalise(phrase["text"]), now=now, zone=ZoneInfo(phrase["zone"]))
    if found is None:
        return "none"
    if found.window is None:
        return "not understood"
    return tuple(t.isoformat().replace("+00:00", "Z") for t in (found.window.start, found.window.end))


def _expected(phrase: dict) -> tuple[str | None, str | None] | str:
    if phrase.get("not_understood"):
        return "not understood"
    return "none" if phrase["start"] is None else (phrase["start"], phrase["end"])


def test_the_set_covers_dst_and_every_family():
    assert len(PHRASES) >= 90
    assert {p["family"] for p in PHRASES} >= {"relative", "calendar", "clock", "dst"}
    assert len({p["zone"] for p in PHRASES}) >= 4


def test_at_least_97_percent_of_windows_are_exact():
    misses = [(p["text"], p["zone"], _window(p), _expected(p)) for p in PHRASES if _window(p) != _expected(p)]
    assert 1 - len(misses) / len(PHRASES) >= 0.97, misses


@pytest.mark.parametrize(
    "phrase", [p for p in PHRASES if p["family"] == "dst"], ids=lambda p: f"{p['zone']}:{p['text']}"
)
def test_windows_across_dst_changes_are_exact(phrase):
    assert _window(phrase) == _expected(phrase)


def test_a_time_phrase_that_cannot_be_read_is_reported_not_replaced():
    at = datetime.fromisoformat("2026-03-02T00:01:00+00:00")
    found = parse_window(text="chiller 1 power since the big storm", now=at, zone=ZoneInfo("Asia/Singapore"))
    assert found is not None and found.window is None and found.text == "since the big storm"


def test_an_unknown_plant_time_zone_fails_the_system_check(settings):
    from layer2.apps import plant_time_zone_check

    settings.PLANT_TIME_ZONE = "Asia/Kolkata"
    assert plant_time_zone_check(None) == []
    settings.PLANT_TIME_ZONE = "Mars/Olympus_Mons"
    [error] = plant_time_zone_check(None)
    assert error.id == "layer2.E001" and "Mars/Olympus_Mons" in error.msg


# --------------------------------------------------------------------------- counts of any size (issue 14)

AT = datetime.fromisoformat("2026-03-02T00:01:00+00:00")
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # the floor of every window (time_windows.EARLIEST, its docstring)
SINGAPORE = ZoneInfo("Asia/Singapore")
HUGE = "9" * 300


def _parsed(words: str):
    found = parse_window(text=normalise(f"show chiller 1 power over {words}"), now=AT, zone=SINGAPORE)
    assert found is not None, words
    return found


@pytest.mark.parametrize(
    ("words", "label"),
    [
        ("the last 1000000 days", "last 1000000 days"),
        ("the last 99999999999999999999 days", "last 99999999999999999999 days"),
        ("the last 2000 months", "last 2000 months"),
        ("the past 10000 weeks", "last 10000 weeks"),
        ("the last 100000 years", "last 100000 years"),
        ("the last 10000 quarters", "last 10000 quarters"),
        ("the last 5000 fortnights", "last 5000 fortnights"),
        (f"the last {HUGE} hours", f"last {HUGE} hours"),
        (f"the last {HUGE} minutes", f"last {HUGE} minutes"),
        ("the last million days", "last 1000000 days"),
        ("for 2000000 years", "last 2000000 years"),
    ],
)
def test_a_window_longer_than_the_calendar_starts_at_the_floor_and_keeps_what_was_asked(words, label):
    window = _parsed(words).window
    assert window is not None, words
    assert (window.start, window.end, window.label) == (EARLIEST, AT, label)


@pytest.mark.parametrize(
    ("words", "back"),
    [
        ("the last 101 days", relativedelta(days=101)),
        ("the last 200 days", relativedelta(days=200)),
        ("the last 400 days", relativedelta(days=400)),
        ("the last two hundred days", relativedelta(days=200)),
        ("the last 150 minutes", relativedelta(minutes=150)),
        ("over the past 250 hours", relativedelta(hours=250)),
        ("the last 520 weeks", relativedelta(weeks=520)),
        ("the last 1000 months", relativedelta(months=1000)),
        ("the last 120 months", relativedelta(months=120)),
        ("the last 101 years", relativedelta(years=101)),
        ("the last 2.5 weeks", relativedelta(days=17, hours=12)),
        ("the last 1.5 years", relativedelta(months=18)),
        ("the last 0.5 quarters", None),  # a month and a half: checked below
        ("the last 3 days", relativedelta(days=3)),
        ("the last 2 months", relativedelta(months=2)),
        ("the last 24 hours", relativedelta(hours=24)),
    ],
)
def test_any_positive_count_of_any_unit_is_a_window_back_from_now(words, back):
    window = _parsed(words).window
    assert window is not None, words
    assert window.end == AT and EARLIEST <= window.start < AT
    if back is not None:
        calendar = back.months or back.years
        start = (AT.astimezone(SINGAPORE) - back).astimezone(UTC) if calendar else AT - back
        assert window.start == start, words


def test_a_fraction_of_a_calendar_unit_is_whole_months_and_a_share_of_the_next():
    window = _parsed("the last 0.5 quarters").window
    month_back = (AT.astimezone(SINGAPORE) - relativedelta(months=1)).astimezone(UTC)
    assert month_back - timedelta(days=16) < window.start < month_back - timedelta(days=14)


@pytest.mark.parametrize("words", ["the last 0 days", "the last zero hours", "the past 0 weeks", "last 0.0 months"])
def test_a_count_of_zero_is_not_understood_never_now(words):
    found = _parsed(words)
    assert found.window is None and not found.ahead and "0" in found.text


@pytest.mark.parametrize(
    "words", ["1000000 days ago", "99999999999999999999 hours ago", f"{HUGE} minutes ago", "5000000 years ago"]
)
def test_a_moment_before_the_floor_is_read_at_the_floor_with_the_words_asked(words):
    found = _parsed(words)
    assert found.window is not None and found.window.start == EARLIEST
    assert found.window.label == words  # said as asked, not as a date in 1900


def test_the_floor_is_the_one_the_grammar_documents():
    from layer2.understanding import time_windows

    assert time_windows.EARLIEST == EARLIEST
