"""The offline judge: a deterministic rubric with no network, giving the same rich evaluation as Claude's.

For demos, tests, and runs without an API key. It scores the plan against
the intent and the data:

* **Right equipment and metric**: a widget about equipment or a metric the
  operator did not ask about scores low (``WRONG_EQUIPMENT``, ``WRONG_METRIC``).
* **Right kind of widget**: each widget type's fit to the intent type
  (``FIT``); a plan without any widget that answers the question
  (``ANSWERS``) names one as missing, if it was on offer.
* **Sensible sizes**: the size must be one the catalog allows and wide
  enough for what the widget holds (``_size_fits``); one too narrow is said
  to want a larger size (``size_direction``), where the widget has one.
* **Numbers true**: with a database (``rl/judges/answer_facts.py``), every value
  spoken and every KPI or gauge value is re-read as of the answer; one the
  data does not support makes the rating "down".
* **Alerts shown when alerts are active**: with a database, active alerts on
  what was asked about and no ``alerts_list`` make it missing.

Without a database the numbers and alerts are not checked and the confidence
is lower. The same experience always gets the same evaluation.
"""

from __future__ import annotations

import logging
from statistics import mean

from layer2.planning.widgets import is_valid, next_size
from rl.experiences.records import Experience, WidgetChoice, WidgetFeedback
from rl.judges.answer_facts import AnswerFacts, NumberCheck
from rl.judges.evaluation import Evaluation, Verdict, parse_evaluation

logger = logging.getLogger(__name__)

# How well a widget type answers an intent type: 1 the answer itself, about 0.7 useful support.
FIT: dict[str, dict[str, float]] = {
    "status": {"kpi": 1.0, "gauge": 1.0, "trend_line": 0.7, "alerts_list": 0.7, "table": 0.6,
               "anomaly_timeline": 0.5, "text_summary": 0.5},
    "trend": {"trend_line": 1.0, "comparison": 0.8, "kpi": 0.7, "anomaly_timeline": 0.6, "table": 0.5,
              "alerts_list": 0.5, "text_summary": 0.4},
    "comparison": {"comparison": 1.0, "bar_ranking": 0.8, "table": 0.8, "trend_line": 0.6, "kpi": 0.5,
                   "alerts_list": 0.5, "text_summary": 0.4},
    "ranking": {"bar_ranking": 1.0, "table": 0.8, "status_grid": 0.7, "alerts_list": 0.5, "text_summary": 0.4},
    "anomaly": {"anomaly_timeline": 1.0, "alerts_list": 0.9, "status_grid": 0.8, "trend_line": 0.6,
                "bar_ranking": 0.5, "table": 0.5, "text_summary": 0.4},
    "alerts": {"alerts_list": 1.0, "anomaly_timeline": 0.8, "kpi": 0.6, "status_grid": 0.6, "text_summary": 0.4},
    "summary": {"status_grid": 1.0, "kpi": 0.8, "alerts_list": 0.8, "text_summary": 0.7, "bar_ranking": 0.6,
                "table": 0.6},
    "energy": {"kpi": 1.0, "trend_line": 0.9, "bar_ranking": 0.7, "comparison": 0.7, "table": 0.5,
               "text_summary": 0.4},
    "diagnosis": {"trend_line": 1.0, "gauge": 1.0, "kpi": 0.9, "alerts_list": 0.9, "comparison": 0.9,
                  "anomaly_timeline": 0.8, "table": 0.5, "text_summary": 0.5},
}  # fmt: skip
UNFIT = 0.3
# The widget types that answer each intent type: a plan should hold one of them.
ANSWERS = {
    "status": ("kpi", "gauge"),
    "trend": ("trend_line",),
    "comparison": ("comparison",),
    "ranking": ("bar_ranking",),
    "anomaly": ("anomaly_timeline", "status_grid"),
    "alerts": ("alerts_list",),
    "summary": ("status_grid", "kpi"),
    "energy": ("kpi",),
    "diagnosis": ("trend_line",),
}
WRONG_EQUIPMENT = 0.15  # score factor: none of the widget's equipment was asked about
EXTRA_EQUIPMENT = 0.6  # some of it was not
FLEET_FOR_NAMED = 0.7  # a fleet-wide widget where particular equipment was named
WRONG_METRIC = 0.3
NO_DATA = 0.4
FALSE_VALUE = 0.2
MISSING_PENALTY = 0.15  # plan quality lost per missing widget
UP_THRESHOLD = 0.6  # plan quality needed for "up" (with no false number)
WIDE = 6  # rows, items or series beyond which a widget needs a large or full width
PLANT_LEVEL = ("alerts_list", "kpi", "text_summary")  # may rightly show the whole plant


class OfflineJudge:
    source = "judge:offline"

    def __init__(self, facts: AnswerFacts | None = None):
        self.facts = facts

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return 0.0

    def evaluate(self, experience: Experience) -> Verdict:
        evaluation = self.evaluation(experience)
        # Validated like any judge's, so what is posted is what the API accepts.
        return Verdict(parse_evaluation(evaluation.to_dict(), experience.widgets))

    def evaluation(self, experience: Experience) -> Evaluation:
        """The rubric's evaluation of ``experience`` (``evaluate`` also validates it against the schema)."""
        intent = experience.intent
        numbers = self.facts.check_numbers(experience) if self.facts else NumberCheck(False, [], [], [])
        judged = [self._widget(i, w, experience, numbers) for i, w in enumerate(experience.widgets)]
        alerts = self.facts.active_alerts(experience) if self.facts else None
        missing = _missing(experience, alerts)
        quality = (mean(w.appropriateness_score for w in judged) if judged else 0.0) - MISSING_PENALTY * len(missing)
        shown_false = [i for i, w in enumerate(experience.widgets) if _contradicted(i, w, experience, numbers)]
        rating = "up" if quality >= UP_THRESHOLD and not numbers.false and not shown_false else "down"
        if _declined(intent) and not experience.widgets:  # saying what it cannot do, with nothing shown, is right
            quality, rating = 1.0, "up" if not numbers.false else "down"
        return Evaluation(
            rating=rating,
            evaluation_confidence=_confidence(self.facts is not None, numbers),
            evaluation_reasoning=_reasoning(judged, quality, numbers, alerts, missing, rating, self.facts is not None),
            query_understanding=_understanding(intent, experience.voice_response),
            per_widget_feedback=judged,
            missing_widgets=missing,
            suggested_improvements=_improvements(judged, numbers, missing, alerts),
        )

    def _widget(self, index: int, w: WidgetChoice, experience: Experience, numbers: NumberCheck) -> WidgetFeedback:
        intent = experience.intent
        fit = FIT.get(intent["intent_type"], {}).get(w.widget_type, UNFIT)
        issues, strengths = [], []
        if fit >= 1.0:
            strengths.append(f"{_a(w.widget_type)} answers {_a(intent['intent_type'])} question")
        elif fit <= UNFIT:
            issues.append(f"{_a(w.widget_type)} does little for {_a(intent['intent_type'])} question")
        factor = self._equipment(w, intent, issues, strengths) * _metric(w, intent, issues, strengths)
        factor *= _data(index, w, experience, numbers, issues)
        size_ok, direction = _size_fits(index, w, experience, issues)
        return WidgetFeedback(index, w.widget_type, round(fit * factor, 3), size_ok, issues, strengths, direction)

    def _equipment(self, w: WidgetChoice, intent: dict, issues: list[str], strengths: list[str]) -> float:
        asked, shown = set(intent["equipment_ids"]), set(w.equipment_ids)
        if asked and shown and not shown & asked:
            issues.append(f"shows {', '.join(sorted(shown))}; the question was about {', '.join(sorted(asked))}")
            return WRONG_EQUIPMENT
        if asked and shown - asked and intent["intent_type"] == "diagnosis" and w.widget_type == "comparison":
            strengths.append("sets the unit beside its peers")  # a diagnosis asks whether the peers share it
            return 1.0
        if asked and shown - asked:
            issues.append(f"also shows {', '.join(sorted(shown - asked))}, which was not asked about")
            return EXTRA_EQUIPMENT
        if asked and not shown and w.widget_type not in PLANT_LEVEL:
            issues.append(f"shows a whole fleet where {', '.join(sorted(asked))} was named")
            return FLEET_FOR_NAMED
        eq_type = intent.get("equipment_type")
        if not asked and eq_type and shown:
            others = sorted(s for s in shown if self._type_of(s) != eq_type)
            if others:
                issues.append(f"shows {', '.join(others)}; the question was about {eq_type} equipment")
                return WRONG_EQUIPMENT
        if shown & asked:
            strengths.append(f"shows the equipment asked about ({', '.join(sorted(shown & asked))})")
        return 1.0

    def _type_of(self, equipment_id: str) -> str | None:
        if self.facts is not None:
            return self.facts.equipment_type(equipment_id)
        return equipment_id.rsplit("_", 1)[0]  # ids are <type>_<number> in the plant contract


def _metric(w: WidgetChoice, intent: dict, issues: list[str], strengths: list[str]) -> float:
    asked = intent["metrics"]
    if asked and w.metric is not None and w.metric not in asked:
        issues.append(f"shows {w.metric}; the question was about {', '.join(asked)}")
        return WRONG_METRIC
    if w.metric is not None and w.metric in asked:
        strengths.append(f"shows the metric asked about ({w.metric})")
    return 1.0


def _data(index: int, w: WidgetChoice, experience: Experience, numbers: NumberCheck, issues: list[str]) -> float:
    data = experience.data_summary.get(f"{index}:{w.widget_type}")
    if not isinstance(data, dict):
        return 1.0
    if "value" in data and data["value"] is None:
        issues.append("shows no value: there was no reading")
        return NO_DATA
    if data.get("items") == 0:
        issues.append("is empty")
        return NO_DATA
    if _contradicted(index, w, experience, numbers):
        issues.append(f"shows the value {data['value']:g}, which the database does not hold for {w.equipment_ids[0]}")
        return FALSE_VALUE
    return 1.0


def _contradicted(index: int, w: WidgetChoice, experience: Experience, numbers: NumberCheck) -> bool:
    """Does the widget show one equipment's value that none of the re-read facts for it equals?"""
    data = experience.data_summary.get(f"{index}:{w.widget_type}")
    value = data.get("value") if isinstance(data, dict) else None
    known = [f for f in numbers.facts if f.metric == w.metric and f.equipment_id in w.equipment_ids]
    if not isinstance(value, int | float) or len(w.equipment_ids) != 1 or not known:
        return False
    return not any(abs(value - f.value) <= 1e-6 * max(1.0, abs(f.value)) for f in known)


def _size_fits(index: int, w: WidgetChoice, experience: Experience, issues: list[str]) -> tuple[bool, str | None]:
    """(whether the size fits, which way it should change: "larger" when too narrow and a larger size exists)."""
    if not is_valid(w.widget_type, w.size):
        issues.append(f"{w.size} is not a size {_a(w.widget_type)} comes in")
        return False, None
    data = experience.data_summary.get(f"{index}:{w.widget_type}")
    items = data.get("items", 0) if isinstance(data, dict) else 0
    alerts = data.get("alerts", 0) if isinstance(data, dict) else 0
    crowded = max(len(w.equipment_ids), items or 0, alerts or 0) > WIDE
    larger = "larger" if next_size(w.widget_type, w.size, "larger") else None
    if crowded and w.size in ("small", "medium") and w.widget_type != "kpi":
        issues.append(f"too narrow ({w.size}) for what it holds")
        return False, larger
    if w.widget_type in ("trend_line", "comparison") and w.size == "medium" and len(w.equipment_ids) > 2:
        issues.append("too narrow (medium) for several series over time")
        return False, larger
    return True, None


def _missing(experience: Experience, active_alerts: int | None) -> list[str]:
    shown = {w.widget_type for w in experience.widgets}
    offered = {c.widget_type for c in experience.candidates}
    missing = []
    answers = ANSWERS.get(experience.intent["intent_type"], ())
    if answers and not shown & set(answers):
        missing += [t for t in answers if t in offered][:1]
    if active_alerts and "alerts_list" not in shown and "alerts_list" in offered:
        missing.append("alerts_list")
    return list(dict.fromkeys(missing))


def _confidence(database: bool, numbers: NumberCheck) -> float:
    if numbers.false:
        return 0.95  # a number the database contradicts leaves little doubt
    if numbers.checked and numbers.claims:
        return 0.9
    return 0.8 if database else 0.6


def _understanding(intent: dict, voice: str) -> str:
    subject = ", ".join(intent["equipment_ids"]) or intent.get("equipment_type") or "the whole plant"
    metrics = f" ({', '.join(intent['metrics'])})" if intent["metrics"] else ""
    kind, window = _a(intent["intent_type"]).capitalize(), intent["time_range"]["label"]
    text = f"{kind} question about {subject}{metrics}: {intent['aggregation']}, {window}."
    if intent.get("confidence", 1.0) < 0.5:
        text += f" The intent is uncertain (confidence {intent['confidence']:.2f})."
    if "I couldn't find" in voice:
        text += " Some equipment named in the question does not exist in the plant."
    if intent.get("refusal"):
        text += f" Declined as {'a command' if intent['refusal'] == 'command' else 'outside the plant'}."
    if intent.get("not_understood"):
        text += f" Not understood: {'; '.join(intent['not_understood'])}."
    return text


def _declined(intent: dict) -> bool:
    """The answer refused, or said what it did not understand (intents recorded before issue 12 have neither)."""
    return bool(intent.get("refusal") or intent.get("not_understood"))


def _reasoning(judged, quality, numbers, alerts, missing, rating, database) -> str:
    parts = [
        f"Mean widget appropriateness {mean(w.appropriateness_score for w in judged):.2f} over {len(judged)} widgets"
        if judged
        else "No widgets were shown",
        f"{len(missing)} missing ({', '.join(missing)})" if missing else "nothing missing",
    ]
    if numbers.false:
        parts.append(f"spoken numbers the database does not support: {', '.join(numbers.false)}")
    elif numbers.checked:
        parts.append(f"{len(numbers.claims)} spoken numbers checked against the database, all true")
    else:
        parts.append("spoken numbers not checked" + ("" if database else " (no database)"))
    if alerts is not None:
        parts.append(f"{alerts} active alerts on what was asked about")
    return "; ".join(parts) + f". Plan quality {quality:.2f}: rated {rating}."


def _improvements(judged: list[WidgetFeedback], numbers: NumberCheck, missing: list[str], alerts) -> list[str]:
    tips = [f"Correct the spoken value {n}: the database does not hold it" for n in numbers.false]
    tips += [f"Widget {w.widget_index} ({w.widget_type}): {w.issues[0]}" for w in judged if w.issues]
    for t in missing:
        why = f": {alerts} alerts are active" if t == "alerts_list" and alerts else ""
        tips.append(f"Add {_a(t)}{why}")
    return tips


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def configured_offline_judge() -> OfflineJudge:
    """The offline judge over the configured plant database, or without one if it cannot be reached."""
    import psycopg
    from psycopg_pool import PoolTimeout

    from industrial.timeseries.access import get_timeseries_access

    try:
        access = get_timeseries_access()
        access.catalog  # noqa: B018 - reads the catalog: proves the database answers
    except (psycopg.Error, PoolTimeout, OSError) as error:
        logger.warning("offline judge: no plant database (%s); numbers and alerts will not be checked", error)
        return OfflineJudge(None)
    return OfflineJudge(AnswerFacts(access))
