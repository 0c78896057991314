"""A simulated operator population with hidden widget preferences, for measuring learning.

Each simulated person has a role (operator, engineer, manager;
``layer2.understanding.roles.ROLES``) and asks questions drawn from templates over
the plant's catalog. The role is known to the system, as a logged-in user's
profile makes it (``Question.role``, passed to the orchestrator). What they find
useful is a hidden utility per widget type and size, by intent type, role
and equipment type, that deliberately disagrees with the rule priors
(``layer2.planning.planner.PRIORS``): operators want gauges and alert lists,
engineers want trends and tables in large sizes, managers want KPIs and
summaries, small. Their feedback is noisy: a thumb that follows the plan's
quality through logistic noise, and (most of the time) a rich evaluation
with per-widget scores, size verdicts (a wrong size says which way: towards
the size the person wants, as the console's "too big"/"too small" does) and
missing widgets, as the LLM judge would give. A fixed seed gives the same
people, questions and noise (the direction draws nothing).

How they use an answer without rating it (``SimulatedViewing``, the dwell
model): each widget stays on screen for a time that grows with its hidden
utility, ``base_ms · exp(sensitivity · u + N(0, noise))``, a widget worth
more than 0.5 is expanded now and then, and a poor plan is now and then asked
again in other words. Its own generator, so the feedback stream of a seed is
the same with it or without.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from django.utils import timezone

from layer2.feedback import record_feedback
from layer2.orchestrator import Answer
from layer2.planning.widgets import CATALOG, SIZES
from layer2.understanding.intent import PlantVocabulary
from layer2.understanding.roles import ROLES
from layer2.understanding.vocabulary import resolve_metric
from rl.experiences.records import Feedback, ImplicitSignals, WidgetFeedback, WidgetSignals
from rl.tier1.service import feedback_received

ROLE_SHARES = (0.4, 0.4, 0.2)

# Hidden utility of each widget type by intent type (−1 useless .. +1 exactly right).
BASE_UTILITY: dict[str, dict[str, float]] = {
    "status": {"gauge": 0.8, "trend_line": 0.6, "alerts_list": 0.4, "kpi": 0.2, "anomaly_timeline": 0.1,
               "table": -0.6, "text_summary": -0.3},
    "trend": {"trend_line": 0.9, "table": 0.6, "anomaly_timeline": 0.5, "kpi": -0.3, "gauge": -0.4,
              "alerts_list": -0.2, "text_summary": -0.4},
    "comparison": {"table": 0.8, "comparison": 0.6, "bar_ranking": 0.1, "kpi": -0.3, "alerts_list": -0.3,
                   "text_summary": -0.2},
    "ranking": {"status_grid": 0.8, "bar_ranking": 0.5, "table": 0.2, "kpi": -0.4, "alerts_list": -0.3,
                "text_summary": -0.3},
    "anomaly": {"status_grid": 0.8, "alerts_list": 0.7, "anomaly_timeline": 0.3, "bar_ranking": 0.3,
                "table": -0.2, "kpi": -0.3, "text_summary": -0.2},
    "alerts": {"anomaly_timeline": 0.8, "alerts_list": 0.6, "status_grid": 0.4, "kpi": -0.2, "table": -0.3,
               "text_summary": -0.3},
    "summary": {"text_summary": 0.7, "status_grid": 0.5, "kpi": 0.2, "bar_ranking": 0.3, "alerts_list": 0.3,
                "table": -0.4},
    "energy": {"bar_ranking": 0.8, "trend_line": 0.5, "kpi": 0.1, "table": 0.0, "comparison": 0.3,
               "text_summary": -0.3},
}  # fmt: skip
ROLE_BONUS = {
    "operator": {"gauge": 0.3, "alerts_list": 0.3, "status_grid": 0.2, "table": -0.2},
    "engineer": {"table": 0.5, "trend_line": 0.3, "anomaly_timeline": 0.4, "gauge": -0.4, "text_summary": -0.4},
    "manager": {"kpi": 0.5, "text_summary": 0.6, "table": -0.5, "anomaly_timeline": -0.4},
}
EQUIPMENT_BONUS = {
    ("transformer", "gauge"): 0.3, ("ups", "gauge"): 0.3, ("energy_meter", "trend_line"): 0.2,
    ("pump", "anomaly_timeline"): 0.3, ("motor", "anomaly_timeline"): 0.3, ("air_compressor", "anomaly_timeline"): 0.3,
    ("chiller", "trend_line"): 0.2, ("boiler", "gauge"): 0.2,
}  # fmt: skip
ROLE_SIZE_SHIFT = {"operator": 0, "engineer": 1, "manager": -1}  # steps from the widget's middle size
SIZE_MISS = 0.35  # utility lost when a widget is not in the size the person wants


def preferred_size(role: str, widget_type: str) -> str:
    sizes = CATALOG[widget_type].sizes
    middle = (len(sizes) - 1) // 2
    return sizes[max(0, min(len(sizes) - 1, middle + ROLE_SIZE_SHIFT[role]))]


def utility(role: str, intent_type: str, equipment_type: str | None, widget_type: str, size: str) -> float:
    """The hidden value (about −1.5..1.5) of showing ``widget_type`` at ``size`` to this person."""
    value = BASE_UTILITY.get(intent_type, {}).get(widget_type, -0.5)
    value += ROLE_BONUS[role].get(widget_type, 0.0) + EQUIPMENT_BONUS.get((equipment_type, widget_type), 0.0)
    return value - (0.0 if size == preferred_size(role, widget_type) else SIZE_MISS)


@dataclass(frozen=True)
class Question:
    transcript: str
    role: str


class QuestionBank:
    """Questions in the ways operators ask them, over the plant's real ids."""

    TEMPLATES = (
        "show {eq} {metric}", "what is {eq} {metric} right now", "trend of {eq} {metric} over the last 24 hours",
        "{eq} {metric} today", "compare {eq} and {eq2} {metric}", "top 3 {types} by {metric}",
        "which {types} have abnormal readings", "any alerts on the {types}", "how are the {types} doing",
        "how much energy did {meter} use today", "show critical alerts",
    )  # fmt: skip
    METRIC_WORDS = {"power": "power", "temp": "temperature", "vibration_mm_s": "vibration", "load_percent": "load"}
    SPOKEN_METRICS = ("power", "temperature", "load", "vibration", "pressure")

    def __init__(self, vocabulary: PlantVocabulary, seed: int):
        self.vocabulary = vocabulary
        self.rng = np.random.default_rng(seed)

    def draw(self) -> Question:
        rng = self.rng
        role = str(rng.choice(ROLES, p=ROLE_SHARES))
        types = sorted(self.vocabulary.ids_by_type)
        eq_type = str(rng.choice(types))
        ids = self.vocabulary.ids_by_type[eq_type]
        eq, eq2 = (rng.choice(ids, size=2, replace=len(ids) < 2)).tolist()
        meters = self.vocabulary.ids_by_type.get("energy_meter", ids)
        template = str(rng.choice(self.TEMPLATES))
        transcript = template.format(
            eq=_spoken(eq), eq2=_spoken(eq2), types=eq_type.replace("_", " ") + "s", meter=_spoken(rng.choice(meters)),
            metric=self._metric_word(eq_type, str(rng.choice(self.SPOKEN_METRICS))),
        )  # fmt: skip
        return Question(transcript, role)

    def _metric_word(self, equipment_type: str, word: str) -> str:
        """``word`` if the type has such a metric, else the first that it has: operators ask what exists.

        (What a type lacks gets "it has no ..." and no widgets, which would teach the learners nothing.)
        The draw is made either way, so the question stream stays that of the same seed.
        """
        available = self.vocabulary.metrics_by_type.get(equipment_type, [])

        def has(w: str) -> bool:
            phrase = next((p for p in self.vocabulary.phrases if p.pattern.fullmatch(w)), None)
            return phrase is not None and bool(resolve_metric(phrase.candidates, available))

        return word if has(word) else next((w for w in self.SPOKEN_METRICS if has(w)), word)


def _spoken(equipment_id: str) -> str:
    name, number = equipment_id.rsplit("_", 1)
    return f"{name.replace('_', ' ')} {int(number)}"


class SimulatedOperators:
    """Turns an answer into the feedback its (hidden-preference) asker would give."""

    def __init__(self, seed: int, rich_share: float = 0.7, noise: float = 0.35):
        self.rng = np.random.default_rng(seed)
        self.rich_share = rich_share
        self.noise = noise

    def quality(self, question: Question, answer: Answer) -> float:
        """Noise-free plan quality in 0..1: the mean appropriateness of what was shown."""
        if not answer.widgets:
            return 0.0
        intent = answer.intent
        return float(np.mean([_sigmoid(2 * utility(question.role, intent.intent_type, intent.equipment_type,
                                                   w.widget_type, w.size)) for w in answer.widgets]))  # fmt: skip

    def feedback(self, question: Question, answer: Answer, offered: list[str]) -> Feedback:
        rng, intent = self.rng, answer.intent
        judged = []
        for i, w in enumerate(answer.widgets):
            u = utility(question.role, intent.intent_type, intent.equipment_type, w.widget_type, w.size)
            score = _sigmoid(2 * u + rng.normal(0, self.noise * 2))
            wanted_size = preferred_size(question.role, w.widget_type)
            right_size = w.size == wanted_size
            judged.append(WidgetFeedback(i, w.widget_type, round(score, 3), right_size, [], [],
                                         None if right_size else _direction(w.size, wanted_size)))  # fmt: skip
        shown = {w.widget_type for w in answer.widgets}
        wanted = sorted(
            (t for t in set(offered) - shown
             if utility(question.role, intent.intent_type, intent.equipment_type, t, preferred_size(question.role, t))
             >= 0.7),
            key=lambda t: -BASE_UTILITY.get(intent.intent_type, {}).get(t, 0),
        )[:2]  # fmt: skip
        mean = np.mean([j.appropriateness_score for j in judged]) if judged else 0.0
        rating = "up" if mean - 0.12 * len(wanted) + rng.normal(0, self.noise / 2) > 0.5 else "down"
        if rng.random() >= self.rich_share:
            return Feedback(rating, received_at=timezone.now(), source="operator")
        return Feedback(
            rating,
            evaluation_confidence=round(float(rng.uniform(0.6, 1.0)), 3),
            evaluation_reasoning="simulated evaluation",
            query_understanding=f"{question.role} asking a {intent.intent_type} question",
            per_widget_feedback=judged,
            missing_widgets=wanted,
            received_at=timezone.now(),
            source="judge:simulated",
        )


class SimulatedViewing:
    """How the simulated asker uses an answer, as the console would report it (see the module docstring)."""

    def __init__(
        self,
        seed: int,
        base_ms: float = 4000.0,
        sensitivity: float = 1.0,
        noise: float = 0.6,
        rephrase_below: float = 0.6,
    ):
        self.rng = np.random.default_rng([seed, 1])  # apart from SimulatedOperators' draws
        self.base_ms = base_ms
        self.sensitivity = sensitivity
        self.noise = noise
        self.rephrase_below = rephrase_below

    def signals(self, question: Question, answer: Answer) -> ImplicitSignals:
        """The console's report: per widget, time on screen, expansions and hovers; the time to the next question."""
        rng, intent, widgets = self.rng, answer.intent, []
        for i, w in enumerate(answer.widgets):
            u = utility(question.role, intent.intent_type, intent.equipment_type, w.widget_type, w.size)
            visible = self.base_ms * math.exp(self.sensitivity * u + rng.normal(0, self.noise))
            expansions = int(u > 0.5 and rng.random() < 0.3)
            widgets.append(WidgetSignals(i, w.widget_type, round(visible, 1), expansions, int(rng.poisson(2))))
        reading = sum(w.visible_ms for w in widgets) / max(len(widgets), 1)
        next_question = round(reading + float(rng.exponential(3000.0)), 1)
        return ImplicitSignals(widgets=widgets, next_question_after_ms=next_question, reported_at=timezone.now())

    def rephrases(self, quality: float) -> bool:
        """Whether the asker, served a plan of this quality (0..1), asks again in other words."""
        return bool(self.rng.random() < max(0.0, self.rephrase_below - quality))


def _direction(shown: str, wanted: str) -> str:
    """Which way the person says a wrong size is off: towards the size they want."""
    return "larger" if SIZES.index(wanted) > SIZES.index(shown) else "smaller"


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def ask_and_rate(*, orchestrator, people: SimulatedOperators, question: Question, role_known: bool = True):
    """One simulated interaction through the real path: (answer, feedback, experience with it recorded).

    The orchestrator answers (told the role unless ``role_known`` is off),
    the asker judges what was shown against what was offered, and the
    feedback goes the way the feedback endpoint sends an operator's: recorded,
    then learned by this process's Tier 1 service if one is installed.
    """
    answer = orchestrator.answer(question.transcript, question.role if role_known else None)
    offered = sorted({c.widget_type for c in orchestrator.buffer.get(answer.query_id).candidates})
    feedback = people.feedback(question, answer, offered)
    experience = record_feedback(buffer=orchestrator.buffer, query_id=answer.query_id, feedback=feedback)
    feedback_received(experience)
    return answer, feedback, experience
