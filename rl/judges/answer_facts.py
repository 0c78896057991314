"""What the plant's database says behind an answer: the values its spoken numbers should be.

The offline judge (``rl/judges/offline.py``) reads them again through
``TimeSeriesDataAccess``, independently of the orchestrator, *as of the
answer*: a windowed aggregate over the intent's own ``[start, end)``, a
counter's increase over it, and for a latest reading, any reading in a few
minutes around the window's end (the orchestrator's "now" is the plant's
newest reading, and on a live plant a table may have a reading slightly
newer or older than that). Answers whose numbers are counts of things that
change (alerts, anomalies, fleet summaries) are not checked.

A spoken number is a *claim* when it is said as a value: not the 1 of
"Chiller 1", the 3 of "top 3", the 12 of "last 12 hours", nor a number in the
"I couldn't find chiller 15" sentence (``layer2/answering/voice.py`` words these). A
claim is true when some fact rounds to it by the speech rule (as many
decimals as were said).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from industrial.errors import UnknownName
from industrial.plant.spec import limit_for
from industrial.timeseries.access import TimeSeriesDataAccess
from layer2.answering.diagnosis import USUAL_DAYS as DIAGNOSIS_USUAL_DAYS  # "usual": the same hours over these days
from layer2.answering.voice import MAX_SPOKEN, MAX_SPOKEN_METRICS  # the answer speaks of no more than these
from layer2.planning.planner import primary_metric
from rl.experiences.records import Experience

NUMBER = re.compile(r"(?<![A-Za-z])-?\d+(?:\.\d+)?")  # not the 2 of "co2"
UNRESOLVED = re.compile(r"I couldn't find [^.]*\.(?: The closest are [^.]*\.)?")
NOT_CLAIMS = re.compile(
    r"\b\d{1,2}:\d{2} ?(?:am|pm)\b|\bon \d{1,2} [A-Z][a-z]+(?: \d{4})?|\bThe data starts on [^.]*\."
    r"|\b\d+ (?:minutes?|hours?|days?|weeks?|months?|years?) ago\b"
)  # clock times, dates and "2 hours ago" in the plant's words for a window
NOT_VALUES = ("top", "bottom", "last", "the", "of")  # "top 3", "the last 12 hours", "3 of 12"
RATE_SUFFIXES = ("_kw", "_kva", "_m3h", "_kg_h")  # a rate's total over a window is its integral
LATEST_BEFORE = timedelta(minutes=2)  # a latest reading may be this much older than the window's end
LATEST_AFTER = timedelta(minutes=1)  # or this much newer (a reading written while the answer was made)
VALUE_INTENTS = ("status", "trend", "comparison", "energy", "summary")


@dataclass(frozen=True)
class Fact:
    equipment_id: str | None  # None for a fleet total
    metric: str
    value: float
    # latest | avg | min | max | sum | delta; a diagnosis's mean | last | usual | limit | peer_median | count
    kind: str


@dataclass(frozen=True)
class NumberCheck:
    checked: bool  # False: the answer's numbers are not ones this module recomputes
    claims: list[str]  # numbers said as values
    false: list[str]  # claims no fact supports
    facts: list[Fact]


def spoken_claims(text: str, names: list[str] = ()) -> list[str]:
    """The numbers ``text`` says as values (see the module docstring), in order."""
    text = NOT_CLAIMS.sub(" ", UNRESOLVED.sub(" ", text))
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    claims = []
    for match in NUMBER.finditer(text):
        words = text[: match.start()].split()
        before = words[-1] if words else ""
        if before[:1].isupper() or before.lower() in NOT_VALUES:
            continue
        claims.append(match.group())
    return claims


def supports(claim: str, value: float) -> bool:
    """Does ``value``, rounded to the decimals ``claim`` was said with, give ``claim``?"""
    decimals = len(claim.partition(".")[2])
    return abs(float(claim) - value) <= 0.5 * 10**-decimals + 1e-9


class AnswerFacts:
    """Re-reads, through the access layer, the values behind an experience's answer."""

    def __init__(self, access: TimeSeriesDataAccess):
        self.access = access

    def check_numbers(self, experience: Experience) -> NumberCheck:
        facts = self.facts(experience)
        if facts is None:
            return NumberCheck(False, [], [], [])
        claims = spoken_claims(experience.voice_response, self.names(experience))
        false = [c for c in claims if not any(supports(c, f.value) for f in facts)]
        return NumberCheck(True, claims, false, facts)

    def names(self, experience: Experience) -> list[str]:
        """Display names the answer may say (the intent's equipment and its type's fleet)."""
        catalog, intent = self.access.catalog, experience.intent
        ids = [i for i in intent["equipment_ids"] if i in catalog.equipment]
        if intent.get("equipment_type") in catalog.types():
            ids += catalog.ids_of_type(intent["equipment_type"])
        return [catalog.equipment[i].display_name for i in dict.fromkeys(ids)]

    def equipment_type(self, equipment_id: str) -> str | None:
        table = self.access.catalog.equipment.get(equipment_id)
        return table.equipment_type if table else None

    def active_alerts(self, experience: Experience) -> int:
        """Active alerts on what the question is about (the intent's equipment, else its type, else the plant), now."""
        access, intent = self.access, experience.intent
        ids = [i for i in intent["equipment_ids"] if i in access.catalog.equipment]
        if ids:
            return sum(access.alert_counts(active_only=True, equipment_id=ids).values())
        if intent.get("equipment_type") in access.catalog.types():
            return sum(access.alert_counts(active_only=True, equipment_type=intent["equipment_type"]).values())
        return sum(access.alert_counts(active_only=True).values())

    def facts(self, experience: Experience) -> list[Fact] | None:
        """The values the spoken numbers may be, or None when this kind of answer is not checked."""
        intent, catalog = experience.intent, self.access.catalog
        start, end = (datetime.fromisoformat(intent["time_range"][k].replace("Z", "+00:00")) for k in ("start", "end"))
        ids = [i for i in intent["equipment_ids"] if i in catalog.equipment][:MAX_SPOKEN]
        eq_type, metrics = intent.get("equipment_type"), intent["metrics"]
        try:
            if intent["intent_type"] == "diagnosis" and "diagnosis" in experience.data_summary:
                return self._diagnosis_facts(experience.data_summary["diagnosis"], intent)
            if ids and intent["intent_type"] in VALUE_INTENTS:
                return [f for eq in ids for f in self._equipment_facts(eq, metrics, intent, start, end)]
            if intent["intent_type"] == "ranking" and (intent.get("filters") or {}).get("threshold"):
                return None  # a count of what is past a threshold: a count of things that change
            if intent["intent_type"] == "ranking" and eq_type in catalog.types():
                metric = (metrics or [primary_metric(list(catalog.table(catalog.ids_of_type(eq_type)[0]).metrics))])[0]
                if intent["time_range"]["label"] != "now" and intent["aggregation"] != "latest":
                    return [f for eq in catalog.ids_of_type(eq_type) for f in self._windowed(eq, metric, intent)]
                return [f for eq in catalog.ids_of_type(eq_type) for f in self._latest(eq, metric, end)]
            if intent["intent_type"] == "energy" and eq_type in catalog.types() and metrics:
                increases = self.access.counter_increases(catalog.ids_of_type(eq_type), metrics[0], start, end)
                known = [v for v in increases.values() if v is not None]
                return [Fact(None, metrics[0], sum(known), "delta")] if known else []
        except UnknownName:  # a metric the type lacks: nothing could have been said about it
            return []
        return None

    def _diagnosis_facts(self, diagnosis: dict, intent: dict) -> list[Fact]:
        """A diagnosis's numbers re-read over its episode: each metric's newest, mean, extremes and usual level,
        the symptom's alarm limits, its peers' median, and the unit's alerts in the window asked."""
        eq, metric = diagnosis["equipment_id"], diagnosis["symptom"]["metric"]
        table = self.access.catalog.table(eq)
        start, end = (datetime.fromisoformat(diagnosis[k]) for k in ("start", "end"))
        metrics = [metric, *(d["metric"] for d in diagnosis["drivers"])]
        if "running_status" in table.metrics:
            metrics.append("running_status")
        facts = []
        for p in self.access.profile(eq, metrics, start, end, days=DIAGNOSIS_USUAL_DAYS).values():
            for kind in ("mean", "min", "max", "last", "usual"):
                if (value := getattr(p, kind)) is not None:
                    facts.append(Fact(eq, p.metric, value * 100 if p.metric == "running_status" else value, kind))
        limit = limit_for(table.equipment_type, metric)
        facts += [Fact(eq, metric, v, "limit") for v in (limit.low, limit.high) if v is not None] if limit else []
        peers = [i for i in self.access.catalog.ids_of_type(table.equipment_type) if i != eq]
        means = [
            a.mean for a in self.access.window_aggregates(peers, metric, start, end).values() if a.mean is not None
        ]
        if means:
            facts += [Fact(None, metric, statistics.median(means), "peer_median"), Fact(None, "", len(means), "count")]
        window = [datetime.fromisoformat(intent["time_range"][k].replace("Z", "+00:00")) for k in ("start", "end")]
        alerts = self.access.alerts(equipment_id=eq, start=window[0], end=window[1], limit=10_000)
        return [*facts, Fact(eq, "", len(alerts), "count")]

    def _equipment_facts(self, eq: str, metrics: list[str], intent: dict, start: datetime, end: datetime):
        table = self.access.catalog.table(eq)
        spoken = [m for m in metrics if m in table.metrics][:MAX_SPOKEN_METRICS]
        facts = []
        for metric in spoken or [primary_metric(list(table.metrics))]:
            facts += self._latest(eq, metric, end)
            if intent["time_range"]["label"] != "now":
                facts += self._windowed(eq, metric, intent)
        return facts

    def _windowed(self, eq: str, metric: str, intent: dict) -> list[Fact]:
        """The window's aggregates the answer may speak of: every aggregation the intent asked for."""
        start, end = (datetime.fromisoformat(intent["time_range"][k].replace("Z", "+00:00")) for k in ("start", "end"))
        facts = []
        for aggregation in intent.get("aggregations") or [intent["aggregation"]]:
            if aggregation in ("latest", "count"):
                continue
            if aggregation == "delta":
                value = self.access.counter_increase(eq, metric, start, end)
            else:
                stats = self.access.stats(eq, metric, start, end, percentiles=False)
                hours = stats.count / 60
                integral = None if stats.mean is None else stats.mean * hours
                value = {"avg": stats.mean, "min": stats.min, "max": stats.max, "runtime": integral}.get(aggregation)
                if aggregation == "sum":
                    value = integral if metric.endswith(RATE_SUFFIXES) else stats.mean
            if value is not None:
                facts.append(Fact(eq, metric, value, aggregation))
        return facts

    def _latest(self, eq: str, metric: str, end: datetime) -> list[Fact]:
        series = self.access.series(eq, metric, end - LATEST_BEFORE, end + LATEST_AFTER, bucket="raw")
        values = [v for _, v in series.points if v is not None]
        if not values:  # a table that stopped reporting: its newest reading was the latest then too
            reading = self.access.latest(eq, [metric])
            if reading is not None and reading.timestamp < end and reading.values[metric] is not None:
                values = [reading.values[metric]]
        return [Fact(eq, metric, v, "latest") for v in values]
