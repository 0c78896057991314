"""The time grammar on the labelled time phrases (tests/data/time_phrases.jsonl).

The windows were computed with zoneinfo alone from the meanings in
``layer2/understanding/time_windows.py``'s docstring, at several anchors and
zones, DST changes included (a "yesterday" of 23 or 25 hours).
"""

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

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
