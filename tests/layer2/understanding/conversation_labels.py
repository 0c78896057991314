"""The labelled conversations (tests/data/conversations.jsonl) and how each turn is checked.

Each line is ``{"kind": "followup", "id", "turns": [{"transcript", "expect"}, ...]}``,
labelled at the anchor of ``labels.py`` (now = 2026-03-02T00:01Z, plant zone
Asia/Singapore) over a plant of the contract's full shape, independently of
the parser. ``expect`` uses the fields of ``labels.py``; ``equipment_ids`` may
instead be ``{"ranked": N}``: the N-th unit (1-based) of the most recent
ranking turn, whose order this module computes from the database (latest
readings, by the labelled metric and order).

Shared by tests/layer2/understanding/test_conversations.py and bench/understanding.py;
it imports nothing from the project but ``labels.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.layer2.understanding.labels import NOW, understood

CONVERSATIONS_PATH = Path(__file__).resolve().parents[2] / "data" / "conversations.jsonl"


def load_conversations(path: Path = CONVERSATIONS_PATH) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ranking(expect: dict, db, catalog_ids: dict[str, list[str]]) -> list[str]:
    """The ids of ``expect``'s equipment type ordered by the latest reading of its metric before the anchor."""
    metric = expect["metrics"][0]
    values = []
    for eq_id in catalog_ids[expect["equipment_type"]]:
        row = db.execute(
            f'SELECT {metric} FROM {eq_id} WHERE "timestamp" < %s ORDER BY "timestamp" DESC LIMIT 1', (NOW,)
        ).fetchone()
        if row and row[0] is not None:
            values.append((float(row[0]), eq_id))
    descending = (expect.get("filters") or {}).get("order", "desc") != "asc"
    values.sort(key=lambda v: (-v[0], v[1]) if descending else (v[0], v[1]))
    return [eq_id for _, eq_id in values]


def turn_misses(turn: dict, parsed, ranked_before: list[str] | None) -> list[str]:
    """The fields of ``turn``'s expect that ``parsed`` gets wrong; ``{"ranked": N}`` is read from ``ranked_before``."""
    expect = dict(turn["expect"])
    ids = expect.get("equipment_ids")
    if isinstance(ids, dict):
        position = ids["ranked"]
        if not ranked_before or len(ranked_before) < abs(position):
            return ["equipment_ids (no ranking to refer to)"]
        expect["equipment_ids"] = [ranked_before[position - 1] if position > 0 else ranked_before[-1]]
    return understood(expect, parsed)


def is_ranking(turn: dict) -> bool:
    expect = turn["expect"]
    return expect.get("intent_type") == "ranking" and bool(expect.get("metrics")) and "equipment_type" in expect
