"""Plan quality on fresh questions: what the gate weighs beside the preference figures.

A fresh question is a held-out answer (its prompt was never trained on).
The model under test plans it again, constrained to the plan grammar (so
every plan is valid), and each :class:`PlanScorer` scores the plan: by
default the offline judge's rubric (``rl/judges/offline.py``: the reward of
its evaluation, over the plan alone, since nothing was bound to the new
widgets); ``bench/tier2_training.py`` adds the simulated operators' hidden
utility. The same questions and scorers serve the candidate and the
adapter serving now, so the gate compares like with like.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from statistics import fmean, stdev

from layer2.planning.plan_prompt import PlanItem, offered_slots, parse_plan
from rl.experiences.records import Experience, Feedback, WidgetChoice
from rl.experiences.reward import plan_reward
from rl.tier2.preference_data import PreferenceData, experience_prompt


@dataclass(frozen=True)
class PlanScorer:
    name: str
    score: Callable[[Experience, list[PlanItem]], float]  # (the question's answer, a plan for it) -> higher is better


def offline_judge_scorer() -> PlanScorer:
    """The offline judge's reward for a plan (no database: the rubric of types, equipment, metrics and sizes)."""
    from rl.judges.offline import OfflineJudge

    judge = OfflineJudge(None)
    fields = [f.name for f in dataclasses.fields(Feedback) if f.name not in ("source", "received_at", "feedback_id")]

    def score(experience: Experience, items: list[PlanItem]) -> float:
        evaluation = judge.evaluation(replanned(experience, items))
        return plan_reward(Feedback(**{name: getattr(evaluation, name) for name in fields}, source=judge.source))

    return PlanScorer("offline_judge", score)


def replanned(experience: Experience, items: list[PlanItem]) -> Experience:
    """``experience`` as if ``items`` had been shown: a widget it showed keeps its binding, a new one takes its
    candidate's metric and the question's equipment."""
    shown = {w.widget_type: w for w in experience.widgets}
    metric = {(c.widget_type, c.size): c.metric for c in experience.candidates}
    widgets = [
        replace(shown[i.widget_type], size=i.size)
        if i.widget_type in shown
        else WidgetChoice(
            i.widget_type,
            i.size,
            i.widget_type,
            list(experience.intent.get("equipment_ids") or []),
            metric.get((i.widget_type, i.size)),
            1.0,
            0.0,
        )
        for i in items
    ]
    return replace(experience, widgets=widgets, feedback=None)


def held_out_questions(*, data: PreferenceData, buffer, limit: int = 200) -> list[Experience]:
    """One answered experience per held-out prompt (the first of its pairs'), at most ``limit``."""
    from rl.experiences.buffer import ExperienceNotFound

    by_prompt: dict[str, str] = {}
    for pair in data.held_out:
        if pair.query_ids:
            by_prompt.setdefault(pair.prompt, pair.query_ids[0])
    questions = []
    for query_id in list(by_prompt.values())[:limit]:
        try:
            questions.append(buffer.get(query_id))
        except ExperienceNotFound:  # trimmed from the journal since the pairs were built
            continue
    return questions


NOISE_Z = 1.645  # one-sided 95%: how far below zero a paired mean difference must lie to count as worse


@dataclass(frozen=True)
class QualityFigures:
    scores: dict[str, float]  # scorer name -> mean score over the questions
    valid_rate: float  # of the constrained plans (1.0 by construction)
    questions: int
    per_question: dict[str, list[float]] = field(default_factory=dict)  # scorer name -> score of each question


def worse_beyond_noise(candidate: list[float], incumbent: list[float]) -> bool:
    """Whether ``candidate``'s scores are lower than ``incumbent``'s on the same questions by more than chance.

    The paired differences' mean must lie below zero by ``NOISE_Z`` standard errors. A plain "mean no lower"
    refused a DPO adapter whose judge score was 0.002 lower over 83 questions while the simulated operators'
    utility rose by 0.08 (docs/benchmarks.md): a coin toss deciding the gate, as the valid-JSON rate did before.
    """
    differences = [c - i for c, i in zip(candidate, incumbent, strict=True)]
    if not differences:
        return False
    mean = fmean(differences)
    if len(differences) < 2:
        return mean < 0
    return mean + NOISE_Z * stdev(differences) / math.sqrt(len(differences)) < 0


def plan_quality(*, model, tokenizer, questions: list[Experience], scorers: list[PlanScorer]) -> QualityFigures:
    """Constrained greedy plans for ``questions`` and their mean score by each of ``scorers``."""
    from layer2.planning.constrained_decoding import PlanConstraint
    from layer2.planning.llm_planner import generate_plans

    if not questions:
        return QualityFigures({}, 0.0, 0)
    offers = [offered_slots(q.candidates) for q in questions]
    texts = generate_plans(
        model=model,
        tokenizer=tokenizer,
        prompts=[experience_prompt(q) for q in questions],
        offers=offers,
        constraint=PlanConstraint.for_model(model, tokenizer),
    )
    plans = [parse_plan(t, o) for t, o in zip(texts, offers, strict=True)]
    per_question = {  # an invalid plan (none should be) scores the worst reward
        s.name: [round(s.score(q, p), 4) if p else -1.0 for q, p in zip(questions, plans, strict=True)] for s in scorers
    }
    return QualityFigures(
        scores={name: round(fmean(values), 4) for name, values in per_question.items()},
        valid_rate=round(sum(p is not None for p in plans) / len(plans), 4),
        questions=len(questions),
        per_question=per_question,
    )
