"""Candidate widgets for an intent, and the ranking step that chooses and sizes them.

``candidates()`` proposes every widget (in every allowed size) that the
intent can feed with data, each with a rule score: the widget's prior for
the intent type, less a penalty for sizes away from the preferred one. A
:class:`Ranker` then chooses at most ``MAX_WIDGETS`` *slots* (a widget type
bound to equipment and a metric), one size each, and records the
probability it had of choosing each one (its propensity), which off-policy
learning needs. It is told the asker's role (``layer2/understanding/roles.py``),
which a learned ranker may use. ``RuleRanker`` is deterministic
(propensity 1.0) and role-blind; the Tier 1 scorer
(``rl/tier1/scorer.py``) implements the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from industrial.plant.spec import limit_for
from layer2.planning.widgets import CATALOG, SIZES
from layer2.understanding.intent import Intent, PlantVocabulary
from layer2.understanding.vocabulary import resolve_metric
from rl.experiences.records import RankingDraw

MAX_WIDGETS = 4
MAX_PEERS = 6  # units on a diagnosis's peer comparison, the diagnosed one included
MIN_SCORE = 0.35
SIZE_PENALTY = 0.15  # rule score lost per size step away from the preferred size
GROUP_STEP = 0.02  # rule score lost per group of units said later (across types: each with the metrics it has)

# Prior relevance of each widget type to each intent type (0..1); absent means "not proposed".
PRIORS: dict[str, dict[str, float]] = {
    "status": {
        "kpi": 0.95,
        "trend_line": 0.7,
        "gauge": 0.6,
        "alerts_list": 0.45,
        "table": 0.4,
        "text_summary": 0.3,
        "anomaly_timeline": 0.2,
    },
    "trend": {
        "trend_line": 0.95,
        "kpi": 0.7,
        "anomaly_timeline": 0.4,
        "table": 0.35,
        "alerts_list": 0.3,
        "text_summary": 0.3,
        "gauge": 0.2,
    },
    "comparison": {
        "comparison": 0.95,
        "bar_ranking": 0.75,
        "table": 0.6,
        "alerts_list": 0.3,
        "text_summary": 0.3,
        "kpi": 0.3,
    },
    "ranking": {
        "bar_ranking": 0.95,
        "table": 0.7,
        "status_grid": 0.5,
        "alerts_list": 0.3,
        "text_summary": 0.3,
        "kpi": 0.3,
    },
    "anomaly": {
        "anomaly_timeline": 0.9,
        "status_grid": 0.75,
        "alerts_list": 0.7,
        "bar_ranking": 0.5,
        "table": 0.45,
        "text_summary": 0.4,
        "kpi": 0.35,
    },
    "alerts": {
        "alerts_list": 0.95,
        "kpi": 0.7,
        "anomaly_timeline": 0.45,
        "table": 0.4,
        "status_grid": 0.3,
        "text_summary": 0.3,
    },
    "summary": {
        "status_grid": 0.9,
        "kpi": 0.75,
        "alerts_list": 0.65,
        "bar_ranking": 0.5,
        "table": 0.45,
        "text_summary": 0.4,
    },
    "energy": {
        "kpi": 0.9,
        "trend_line": 0.85,
        "bar_ranking": 0.5,
        "comparison": 0.4,
        "table": 0.4,
        "text_summary": 0.3,
    },
    # Why a unit misbehaves: the symptom against its limit, its trend with what drives it, its alerts, its peers.
    "diagnosis": {
        "gauge": 0.9,
        "trend_line": 0.92,
        "alerts_list": 0.8,
        "comparison": 0.78,
        "kpi": 0.6,
        "anomaly_timeline": 0.45,
        "table": 0.3,
        "text_summary": 0.3,
    },
}
PREFERRED_SIZE = {
    "kpi": "small",
    "gauge": "small",
    "trend_line": "large",
    "comparison": "large",
    "bar_ranking": "medium",
    "alerts_list": "medium",
    "status_grid": "full",
    "table": "medium",
    "anomaly_timeline": "large",
    "text_summary": "medium",
}
PREFERRED_SIZE_BY_INTENT = {
    ("ranking", "bar_ranking"): "large",
    ("alerts", "alerts_list"): "full",
    ("status", "trend_line"): "medium",
    ("anomaly", "anomaly_timeline"): "full",
}
_PRIMARY_METRICS = (
    "power_consumption_kw",
    "power_output_kw",
    "output_power_kw",
    "active_power_kw",
    "load_kva",
    "steam_flow_kg_h",
)


@dataclass(frozen=True)
class Candidate:
    widget_type: str
    size: str
    equipment_ids: tuple[str, ...]
    equipment_type: str | None
    metric: str | None
    rule_score: float

    @property
    def slot(self) -> tuple:
        """What the widget shows, whatever its size: the ranking picks one size per slot."""
        return self.widget_type, self.equipment_ids, self.metric


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    propensity: float  # probability the ranker had of choosing this slot at this size
    score: float
    draw: RankingDraw | None = None  # an exploring ranker's draw, the same for every choice of one answer


class Ranker(Protocol):
    name: str

    def choose(
        self, intent: Intent, candidates: list[Candidate], max_widgets: int, role: str | None = None
    ) -> list[Choice]:
        """Choose for ``intent`` asked by someone in ``role`` (``layer2/understanding/roles.py``; None: unknown)."""
        ...


class RuleRanker:
    """The plain rule ranking: best size per slot by rule score, best slots first. Deterministic, role-blind."""

    name = "rules"

    def choose(
        self, intent: Intent, candidates: list[Candidate], max_widgets: int = MAX_WIDGETS, role: str | None = None
    ) -> list[Choice]:
        best: dict[tuple, Candidate] = {}
        for c in candidates:
            if c.slot not in best or c.rule_score > best[c.slot].rule_score:
                best[c.slot] = c
        ranked = sorted(best.values(), key=lambda c: -c.rule_score)
        return [Choice(c, 1.0, c.rule_score) for c in ranked if c.rule_score >= MIN_SCORE][:max_widgets]


def plan_length(candidates: list[Candidate], max_widgets: int = MAX_WIDGETS) -> int:
    """How many widgets the rule ranking shows for these candidates (learned rankers keep to it at most)."""
    return min(max_widgets, len({c.slot for c in candidates if c.rule_score >= MIN_SCORE}))


def primary_metric(available: list[str]) -> str | None:
    """The metric that best stands for an equipment when none was asked for (its power, usually)."""
    chosen = resolve_metric(_PRIMARY_METRICS, available)
    return chosen[0] if chosen else next((m for m in available if m != "running_status"), None)


def candidates(*, intent: Intent, vocabulary: PlantVocabulary) -> list[Candidate]:
    """Every widget, in every allowed size, that ``intent`` can supply data for."""
    ids = tuple(intent.equipment_ids)
    groups = _holders(intent, vocabulary)
    if len(groups) > 1 or (groups and groups[0][0] != ids):
        return _per_holder(intent, groups, vocabulary)
    priors = PRIORS[intent.intent_type]
    eq_type = intent.equipment_type or (vocabulary.type_of(ids[0]) if ids else None)
    available = vocabulary.metrics_by_type.get(eq_type, []) if eq_type else []
    if len({vocabulary.type_of(i) for i in ids}) > 1:  # "chiller 2 and motor 10": only what both have
        types = {vocabulary.type_of(i) for i in ids}
        available = [m for m in available if all(m in vocabulary.metrics_by_type.get(t, []) for t in types)]
    metrics = [m for m in intent.metrics if m in available] or ([primary_metric(available)] if available else [])
    slots = _slots(intent, ids, eq_type, metrics, vocabulary.ids_by_type.get(eq_type or "", []))
    proposed = []
    for widget_type, slot_ids, metric, bonus in slots:
        if widget_type not in priors:
            continue
        for size in CATALOG[widget_type].sizes:
            score = priors[widget_type] + bonus - SIZE_PENALTY * _size_distance(intent.intent_type, widget_type, size)
            proposed.append(Candidate(widget_type, size, slot_ids, eq_type, metric, round(score, 4)))
    return proposed


def _holders(intent: Intent, vocabulary: PlantVocabulary) -> list[tuple[tuple[str, ...], list[str]]]:
    """Units of several types asked for metrics not all of them have ("chiller 1 and pump 1 cop"): each
    set of units with the metrics it has, in the order the metrics were said; else none (one plan fits)."""
    ids = intent.equipment_ids
    if intent.intent_type == "diagnosis" or len({vocabulary.type_of(i) for i in ids}) < 2:
        return []
    groups: dict[tuple[str, ...], list[str]] = {}
    for metric in intent.metrics:
        holders = tuple(i for i in ids if metric in vocabulary.metrics_by_type.get(vocabulary.type_of(i), []))
        if holders:
            groups.setdefault(holders, []).append(metric)
    return list(groups.items())


def _per_holder(intent: Intent, groups, vocabulary: PlantVocabulary) -> list[Candidate]:
    """Each set of units planned with the metrics it has, as if asked alone, the first said first.

    A comparison that only one unit can join is that unit's trend. Never the units' shared metric (their
    power) in place of the one asked: that would answer another question with confidence.
    """
    proposed = []
    for rank, (holders, metrics) in enumerate(groups):
        types = {vocabulary.type_of(i) for i in holders}
        alone = "trend" if intent.intent_type == "comparison" and len(holders) == 1 else intent.intent_type
        sub = replace(intent, intent_type=alone, equipment_ids=list(holders), metrics=metrics,
                      equipment_type=types.pop() if len(types) == 1 else None)  # fmt: skip
        step = GROUP_STEP * rank
        proposed += [
            replace(c, rule_score=round(c.rule_score - step, 4)) for c in candidates(intent=sub, vocabulary=vocabulary)
        ]
    return proposed


def _slots(intent: Intent, ids: tuple[str, ...], eq_type: str | None, metrics: list[str], fleet: list[str]):
    """(widget type, equipment ids, metric, score bonus) for what the intent names."""
    first = metrics[0] if metrics else None
    slots: list[tuple[str, tuple[str, ...], str | None, float]] = []
    if len(ids) == 1:
        shown = metrics[:1] if intent.intent_type == "diagnosis" else metrics[:3]  # its driver rides in the trend
        for i, metric in enumerate(shown):
            later = -0.05 * i  # the first-named metric leads
            slots += [("kpi", ids, metric, later), ("trend_line", ids, metric, later)]
            if _gaugeable(eq_type, metric):
                slots.append(("gauge", ids, metric, later))
        slots += [("table", ids, None, 0.0), ("alerts_list", ids, None, 0.0), ("anomaly_timeline", ids, None, 0.0)]
        if intent.intent_type == "diagnosis" and first:  # does the unit stand out from its peers?
            peers = [i for i in fleet if i not in ids][: MAX_PEERS - 1]
            slots.append(("comparison", (*ids, *peers), first, 0.0))
    elif len(ids) > 1 and first is None:  # units of types with no metric in common: their alerts
        slots.append(("alerts_list", ids, None, 0.0))
    elif len(ids) > 1:
        slots += [
            ("comparison", ids, first, 0.0),
            ("bar_ranking", ids, first, 0.0),
            ("table", ids, first, 0.0),
            ("alerts_list", ids, None, 0.0),
        ]
        if intent.intent_type == "energy":
            slots.append(("kpi", ids, first, 0.0))
    elif eq_type:
        slots += [
            ("bar_ranking", (), first, 0.0),
            ("status_grid", (), first, 0.0),
            ("table", (), first, 0.0),
            ("alerts_list", (), None, 0.0),
            ("anomaly_timeline", (), None, 0.0),
            ("kpi", (), first, 0.0),
        ]
        if intent.intent_type == "energy":
            slots.append(("trend_line", (), first, -0.2))
    else:
        slots += [("alerts_list", (), None, 0.0), ("kpi", (), None, 0.0)]
    slots.append(("text_summary", ids, first, 0.0))
    return slots


def _gaugeable(eq_type: str | None, metric: str) -> bool:
    return metric.endswith("_percent") or (eq_type is not None and limit_for(eq_type, metric) is not None)


def _size_distance(intent_type: str, widget_type: str, size: str) -> int:
    preferred = PREFERRED_SIZE_BY_INTENT.get((intent_type, widget_type), PREFERRED_SIZE[widget_type])
    if preferred not in CATALOG[widget_type].sizes:
        preferred = CATALOG[widget_type].sizes[0]
    return abs(SIZES.index(size) - SIZES.index(preferred))
