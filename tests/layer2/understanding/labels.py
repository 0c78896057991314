"""The labelled understanding questions (tests/data/understanding_questions.jsonl) and how answers are checked.

Each line is ``{"kind", "transcript", "expect", "truth"?}``. ``expect`` holds only
the fields the question determines, in the API form of the intent. The labels
follow the understanding semantics of issue 12 (one anchor, now =
2026-03-02T00:01Z, plant zone Asia/Singapore) and were written from those
semantics, independently of the parser. ``truth`` holds
SQL queries, each returning the one number the spoken answer must contain, with
the decimals it is spoken to.

Shared by tests/layer2/understanding/test_understanding_kinds.py,
tests/layer2/answering/test_understanding_numbers.py and bench/understanding.py;
it imports nothing from the project.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

QUESTIONS_PATH = Path(__file__).resolve().parents[2] / "data" / "understanding_questions.jsonl"
KINDS = ("speech", "everyday_words", "windows", "aggregations", "fleet", "alert_history", "honest")
NOW = datetime(2026, 3, 2, 0, 1, tzinfo=UTC)  # the labels' anchor: Monday 2 March 2026, 08:01 in the plant
ZONE = "Asia/Singapore"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def load_questions(path: Path = QUESTIONS_PATH) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------- understanding
def understood(expect: dict, parsed) -> list[str]:
    """The names of the fields of ``expect`` that ``parsed`` (a ``ParsedQuery``) gets wrong; [] if none.

    ``widgets`` is a property of the answer, not of the parse, and is skipped here.
    """
    intent = parsed.intent.to_dict()
    return [name for name, want in expect.items() if name != "widgets" and not _same(name, want, intent, parsed)]


def parsed_value(name: str, parsed):
    """What ``parsed`` holds for field ``name``, in the form ``expect`` uses (for failure messages)."""
    intent = parsed.intent.to_dict()
    if name == "unknown_equipment":
        return sorted(u.mentioned for u in parsed.unresolved)
    if name == "window":
        return intent.get("time_range")
    return intent.get(name)


def _same(name: str, want, intent: dict, parsed) -> bool:
    if name == "unknown_equipment":
        return sorted(u.mentioned for u in parsed.unresolved) == sorted(want)
    if name == "not_understood":
        return bool(intent.get("not_understood")) is bool(want)
    if name in ("equipment_ids", "metrics", "aggregations"):
        got = intent.get(name)
        return got is not None and set(got) == set(want)
    if name == "window":
        return _same_window(want, intent.get("time_range") or {})
    if name == "filters":
        got = intent.get("filters") or {}
        return all(key in got and _same_filter(key, value, got[key]) for key, value in want.items())
    return intent.get(name) == want


def _same_window(want, got: dict) -> bool:
    if want == "now":
        return got.get("label") == "now"
    return got.get("start") == want["start"] and got.get("end") == want["end"]


def _same_filter(key: str, want, got) -> bool:
    if key == "severity":
        return isinstance(got, list | tuple) and sorted(got) == sorted(want)
    if key == "threshold":
        return (
            isinstance(got, dict)
            and got.get("op") == want["op"]
            and isinstance(got.get("value"), int | float)
            and float(got["value"]) == float(want["value"])
        )
    return got == want


# ---------------------------------------------------------------- answers
def needs_answer(question: dict) -> bool:
    """Whether the answer to ``question`` is checked: it has truth numbers, forbids widgets or is refused."""
    expect = question["expect"]
    return bool(question.get("truth")) or expect.get("widgets") == "none" or bool(expect.get("refusal"))


def said(value: float, decimals: int = 1) -> str:
    """``value`` as speech writes it: rounded to ``decimals``, and no "-0.0"."""
    text = f"{value:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text


def spoken_numbers(text: str) -> list[str]:
    """The numbers in ``text`` as written ("12,340.5" counts as 12340.5)."""
    return NUMBER.findall(_THOUSANDS.sub("", text))


def expected_numbers(truth: dict, db) -> list[str]:
    """The numbers the answer must say: each truth query on ``db`` (a psycopg connection), rounded as spoken."""
    numbers = []
    for query, decimals in zip(truth["sql"], truth["decimals"], strict=True):
        rows = db.execute(query).fetchall()
        if len(rows) != 1 or len(rows[0]) != 1 or rows[0][0] is None:
            raise ValueError(f"truth query must return one number, got {rows!r}: {query}")
        numbers.append(said(float(rows[0][0]), decimals))
    return numbers


def answer_misses(question: dict, body: dict, db) -> list[str]:
    """What is wrong with ``body`` (the orchestrate API's JSON) for ``question``; [] if nothing.

    Every truth number must be among the spoken numbers (a signed change may be
    spoken by its size: "dropped by 1.5"); no widget may be shown where the label
    says so or the question is refused.
    """
    expect = question["expect"]
    misses = []
    if question.get("truth"):
        spoken = set(spoken_numbers(body.get("voice_response", "")))
        for number in expected_numbers(question["truth"], db):
            if number not in spoken and number.lstrip("-") not in spoken:
                misses.append(f"{number} not said")
    if (expect.get("widgets") == "none" or expect.get("refusal")) and body.get("widgets"):
        misses.append(f"{len(body['widgets'])} widget(s) shown")
    return misses
