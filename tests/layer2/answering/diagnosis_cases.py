"""Labelled diagnosis cases: the faults the demo generator injected, asked about as operators ask.

    python -m tests.layer2.answering.diagnosis_cases            # rebuild tests/data/diagnosis_cases.jsonl
    python -m tests.layer2.answering.diagnosis_cases --phrasings held_out.jsonl --out held_out_cases.jsonl

The plant is ``DIAGNOSIS_PLAN`` (4 of each type, 4 days to 2026-03-02T00:00Z,
seed 11, fault rate 0.6). Ground truth is the generator's own fault schedule
(``industrial.plant.generator``: kind, metric, day), matched to the alert each
fault raised in the 24 hours before the end; the diagnosis under test never
reads it. Each fault gets one question naming its metric (a phrasing of
``tests/data/diagnosis_phrasings.jsonl`` for the type, metric and way it is
off, present tense if the alert is still active) and one generic "what's wrong
with X" question.

``expect`` per case: the unit, the symptom metric, the cause kind the
diagnosis should rank first (``stuck_sensor`` for a stuck sensor,
``sensor_spike`` for spikes, ``unit_fault`` for overheating, a vibration
rise or a pressure drop: the generator moves no other metric with them, so no
driver or peer explains them), and the metrics a full answer relates.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data"
CASES_PATH = DATA / "diagnosis_cases.jsonl"
PHRASINGS_PATH = DATA / "diagnosis_phrasings.jsonl"
PLAN_END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DIAGNOSIS_PLAN = {"days": 4, "count": 5, "seed": 11, "fault_rate": 0.9, "end": PLAN_END}
CAUSE_OF_FAULT = {"sensor_stuck": "stuck_sensor", "sensor_spike": "sensor_spike", "overheating": "unit_fault",
                  "vibration_rise": "unit_fault", "pressure_drop": "unit_fault"}  # fmt: skip
RELATES = re.compile(r"\b(?:limit|usual|alerts?|running|stopped|ran)\b")


def seed_plan():
    from industrial.plant.seeding import SeedPlan
    from industrial.plant.spec import EQUIPMENT_TYPES

    p = DIAGNOSIS_PLAN
    counts = {t.name: p["count"] for t in EQUIPMENT_TYPES}
    return SeedPlan(days=p["days"], counts=counts, seed=p["seed"], end=p["end"], fault_rate=p["fault_rate"])


def load_cases(path: Path = CASES_PATH) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def injected_faults(plan) -> list[dict]:
    """Every fault of ``plan`` that raised an alert in the last 24 hours: unit, kind, metric, raised, cleared."""
    import numpy as np

    from industrial.plant import generator

    end = int(plan.end.timestamp())
    start = end - int(plan.days * 86_400)
    found = []
    for eq, number in plan.equipment():
        block = generator.generate_block(eq, number, seed=plan.seed, start=start, end=end, fault_rate=plan.fault_rate)
        points = 86_400 // generator.READING_SECONDS
        kinds = {}
        for day in np.arange((start // generator.DAY), end // generator.DAY + 1):
            for fault in generator._day_faults(eq, number, plan.seed, int(day), points, plan.fault_rate):
                kinds[(fault.metric, int(day))] = fault.kind
        for alert in block.alerts:
            if alert.raised_at < end - 86_400:
                continue
            kind = kinds.get((alert.metric, alert.raised_at // generator.DAY))
            if kind is None:
                continue
            found.append({"equipment_id": alert.equipment_id, "equipment_type": eq.name, "number": number,
                          "kind": kind, "metric": alert.metric, "raised_at": alert.raised_at,
                          "active": alert.cleared_at is None})  # fmt: skip
    return found


def newest_per_unit(faults: list[dict]) -> dict[str, dict]:
    newest: dict[str, dict] = {}
    for f in sorted(faults, key=lambda f: f["raised_at"]):
        newest[f["equipment_id"]] = f
    return newest


def build_cases(phrasings: list[dict]) -> list[dict]:
    from zoneinfo import ZoneInfo

    from layer2.understanding.time_windows import parse_window

    plan = seed_plan()
    faults = injected_faults(plan)
    newest = newest_per_unit(faults)
    now = plan.end + timedelta(minutes=1)
    cases = []
    for f in faults:
        direction = _direction(f)
        tense = "present" if f["active"] else "past"
        raised = datetime.fromtimestamp(f["raised_at"], UTC)
        options = [
            p
            for p in phrasings
            if p["equipment_type"] == f["equipment_type"] and p["metric"] == f["metric"]
            and p["direction"] in (direction, None) and (p["tense"] == tense or not f["active"])
            and _window_holds(p["template"], raised, now, parse_window, ZoneInfo("Asia/Singapore"))
        ]  # fmt: skip
        if options:
            cases.append(_case(f, _pick(options, f), f["metric"], f["kind"]))
        if newest[f["equipment_id"]] is f:
            zone = ZoneInfo("Asia/Singapore")
            generic = [p for p in phrasings if p["equipment_type"] == f["equipment_type"] and p["metric"] is None
                       and p["tense"] == tense and _window_holds(p["template"], raised, now, parse_window, zone)
                       ]  # fmt: skip
            if generic:
                cases.append(_case(f, _pick(generic, f), f["metric"], f["kind"]))
    return cases


def _direction(fault: dict) -> str:
    if fault["kind"] == "sensor_stuck":
        return "flat"
    if fault["kind"] == "pressure_drop":
        return "low"
    from industrial.plant.spec import limit_for

    limit = limit_for(fault["equipment_type"], fault["metric"])
    return "low" if limit and limit.high is None else "high"


def _window_holds(template: str, raised: datetime, now: datetime, parse_window, zone) -> bool:
    """A phrasing's own time words ("this morning") must cover when the fault's alert was raised."""
    phrase = parse_window(text=template.replace("{n}", "1").lower(), now=now, zone=zone)
    return phrase is None or (phrase.window is not None and phrase.window.start <= raised < phrase.window.end)


def _pick(options: list[dict], fault: dict) -> dict:
    key = f"{fault['equipment_id']}:{fault['raised_at']}:{len(options)}".encode()
    return options[int(hashlib.sha256(key).hexdigest(), 16) % len(options)]


def _case(fault: dict, phrasing: dict, metric: str, kind: str) -> dict:
    return {
        "transcript": phrasing["template"].replace("{n}", str(fault["number"])),
        "generic": phrasing["metric"] is None,
        "expect": {
            "intent_type": "diagnosis",
            "equipment_ids": [fault["equipment_id"]],
            "symptom": metric,
            "cause": CAUSE_OF_FAULT[kind],
        },
        "truth": {"fault": kind, "raised_at": fault["raised_at"], "active": fault["active"]},
    }


def bar_misses(body: dict, experience, access) -> list[str]:
    """What the answer lacks of the issue's bar."""
    spoken, diagnosis = body["voice_response"], experience.data_summary["diagnosis"]
    name = access.catalog.table(diagnosis["equipment_id"]).display_name
    labels = [diagnosis["symptom"]["label"], *(d["label"] for d in diagnosis["drivers"])]
    misses = [] if name in spoken else [f"{name} not named"]
    reported = [label for label in labels if re.search(rf"\b{re.escape(label)}\b", spoken)]
    if len(reported) + (" is running" in spoken or " is stopped" in spoken or " ran " in spoken) < 2:
        misses.append(f"fewer than two metrics reported ({reported})")
    if not RELATES.search(spoken):
        misses.append("related to no limit, usual level, alert or running state")
    from rl.judges.answer_facts import AnswerFacts

    check = AnswerFacts(access).check_numbers(experience)
    if not check.checked or check.false:
        misses.append(f"numbers not the data's: {check.false}")
    return misses


def diagnosed_misses(case: dict, body: dict, experience) -> list[str]:
    """What the answer gets wrong of the injected fault: the kind read, the unit, the symptom, the first cause."""
    intent, diagnosis = body["intent"], experience.data_summary.get("diagnosis")
    if intent["intent_type"] != "diagnosis" or diagnosis is None:
        return [f"read as {intent['intent_type']}"]
    expect = case["expect"]
    found = {"equipment_ids": intent["equipment_ids"][:1], "symptom": diagnosis["symptom"]["metric"],
             "cause": diagnosis["causes"][0]["kind"]}  # fmt: skip
    return [f"{k} {v!r}, want {expect[k]!r}" for k, v in found.items() if v != expect[k]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phrasings", type=Path, default=PHRASINGS_PATH, help="phrasings (JSON Lines) to ask with")
    parser.add_argument("--out", type=Path, default=CASES_PATH, help="where to write the cases")
    args = parser.parse_args()
    import django

    django.setup()
    phrasings = [json.loads(line) for line in args.phrasings.read_text().splitlines() if line.strip()]
    cases = build_cases(phrasings)
    args.out.write_text("".join(json.dumps(c) + "\n" for c in cases))
    print(f"{len(cases)} cases ({sum(c['generic'] for c in cases)} generic) -> {args.out}")


if __name__ == "__main__":
    main()
