"""Preference data for Tier 2: rated answers turned into what DPO and KTO train on.

Every example's prompt is rebuilt from its experience with
``layer2.planning.plan_prompt.build_prompt`` (the question, the parsed intent and the
offered widget types), which is exactly what the planner saw when serving.
Sources:

- ``ratings``: answers to the same prompt, one rated up and another rated
  down, with different plans. "Same prompt" is the same normalized intent
  and the same offered widgets (two wordings of one question pair up; the
  pair's prompt is the up-rated answer's). Answers to different prompts are
  never paired. The thumbs must be confirmed: both answers evaluated, the
  up-rated one's reward higher by at least ``MIN_REWARD_GAP``.
- ``judge_repair``: a down-rated plan that the judge evaluated, against the
  same plan repaired by that evaluation: widgets it scored poorly dropped,
  widgets it called the wrong size resized, the widgets it named missing
  added. A size verdict says only "wrong", so the new size is the one the
  judge's verdicts over the whole history found right most often for this
  asker's role and widget type (:class:`SizeVerdicts`).
- ``judge_widget``: an evaluated answer's plan against the same plan with one
  widget changed: dropped, resized or replaced by another (type, size) that
  the judge scored in an answer to the same prompt. Each slot's score is the judge's
  mean over the prompt's answers; a pair is made when the two plans' mean
  scores differ by at least ``WIDGET_GAP``, at most ``WIDGET_PAIRS_PER_ANSWER``
  per answer (the widest gaps). Rating pairs differ in two or three widgets at
  once and are few, so what makes one plan better is hard to learn from them;
  these pairs show one widget's worth at a time. Only
  ``build_preference_data(with_widget_pairs=True)`` and
  ``bench/tier2_training.py --widget-pairs`` add them: on the bench's history
  they did not lift held-out rating pairs, lowered judge_repair accuracy and
  the unconstrained valid-JSON rate, and more than doubled training time
  (docs/benchmarks.md), so ``data_from_buffer`` and ``data_from_widget_ratings``
  leave them out.
- ``unpaired``: every rated answer as a (prompt, plan, up/down) example for
  KTO, which needs no pairs.
- ``situation``: pairs built from situations in the plant's data
  (``rl/simulation/situation_pairs.py``), converted by
  :func:`situation_preference_pairs` and added by :func:`with_pairs`. Only
  ``bench/tier2_training.py --situation-pairs`` adds them: measured there
  they did not help (docs/benchmarks.md), so ``data_from_buffer`` and
  ``data_from_widget_ratings`` leave them out.

Pairs are de-duplicated, and the held-out split is by prompt key, so a
held-out prompt was never trained on.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from statistics import fmean
from typing import TYPE_CHECKING

from layer2.planning.plan_prompt import PlanItem, build_prompt, offered_slots, plan_json
from layer2.planning.planner import MAX_WIDGETS
from rl.experiences.records import Experience, Feedback, WidgetFeedback
from rl.experiences.reward import plan_reward

if TYPE_CHECKING:
    from rl.simulation.situation_pairs import SituationPair

POOR_WIDGET = 0.5  # a judged widget scoring below this is dropped by the repair
PAIRS_PER_PROMPT = 3  # at most this many rating pairs from one prompt, so one busy question cannot dominate
HELD_OUT_SHARE = 0.15
MIN_REWARD_GAP = 0.7  # a rating pair's evaluations must agree with its thumbs by this much (in reward units)
MIN_SIZE_VERDICTS = 3  # verdicts on a (role, widget type, size) before the repair trusts their share
WIDGET_GAP = 0.15  # judge_widget: the two plans' mean judged scores (0..1) must differ by this much
WIDGET_PAIRS_PER_ANSWER = 4  # judge_widget: at most this many pairs from one answer, the widest gaps first


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str  # plan JSON
    rejected: str
    source: str  # ratings | judge_repair | judge_widget | situation
    offered: frozenset[tuple[str, str]]  # what a valid plan for this prompt may use
    query_ids: tuple[str, ...]


@dataclass(frozen=True)
class UnpairedExample:
    prompt: str
    completion: str
    label: bool  # rated up
    offered: frozenset[tuple[str, str]]
    query_id: str


@dataclass
class PreferenceData:
    train: list[PreferencePair] = field(default_factory=list)
    held_out: list[PreferencePair] = field(default_factory=list)
    unpaired_train: list[UnpairedExample] = field(default_factory=list)
    unpaired_held_out: list[UnpairedExample] = field(default_factory=list)

    @property
    def pairs(self) -> int:
        return len(self.train) + len(self.held_out)

    def counts(self) -> dict[str, int]:
        by_source = Counter(p.source for p in itertools.chain(self.train, self.held_out))
        return {
            "pairs": self.pairs,
            **{f"pairs_{source}": n for source, n in sorted(by_source.items())},
            "train_pairs": len(self.train),
            "held_out_pairs": len(self.held_out),
            "unpaired": len(self.unpaired_train) + len(self.unpaired_held_out),
            "unpaired_up": sum(e.label for e in itertools.chain(self.unpaired_train, self.unpaired_held_out)),
        }


def build_preference_data(
    experiences: Iterable[Experience], held_out_share: float = HELD_OUT_SHARE, *, with_widget_pairs: bool = False
):
    """Pairs and unpaired examples from rated ``experiences``, split by prompt key into train and held-out.

    ``with_widget_pairs`` adds the ``judge_widget`` source (off in production: see the module docstring).
    """
    rated = [e for e in experiences if e.feedback is not None and e.widgets]
    sizes = SizeVerdicts.from_experiences(rated)
    widgets = widget_pairs(rated) if with_widget_pairs else ()
    pairs = _dedupe(itertools.chain(rating_pairs(rated), repair_pairs(rated, sizes), widgets))
    data = PreferenceData()
    for pair in pairs:
        (data.held_out if _held_out(pair.prompt, held_out_share) else data.train).append(pair)
    for example in unpaired_examples(rated):
        held = _held_out(example.prompt, held_out_share)
        (data.unpaired_held_out if held else data.unpaired_train).append(example)
    return data


def situation_preference_pairs(pairs: Iterable[SituationPair]) -> list[PreferencePair]:
    """Situation pairs as preference pairs of source ``situation``: prompt, plans and offered slots kept as drawn."""
    return [PreferencePair(p.prompt, p.chosen, p.rejected, "situation", p.offered, ()) for p in pairs]


def with_pairs(
    data: PreferenceData, pairs: Iterable[PreferencePair], held_out_share: float = HELD_OUT_SHARE
) -> PreferenceData:
    """``data`` with ``pairs`` added, split by the same prompt rule (pairs already there are not added twice)."""
    train, held_out = list(data.train), list(data.held_out)
    seen = {(p.prompt, p.chosen, p.rejected) for p in itertools.chain(train, held_out)}
    for pair in _dedupe(pairs):
        if (pair.prompt, pair.chosen, pair.rejected) not in seen:
            (held_out if _held_out(pair.prompt, held_out_share) else train).append(pair)
    return replace(data, train=train, held_out=held_out)


def data_from_buffer(buffer, *, with_widget_pairs: bool = False) -> PreferenceData:
    """Preference data from every rated experience in the journal (unrated ones are never read)."""
    rated = buffer.list(has_feedback=True, limit=max(len(buffer), 1))
    return build_preference_data(rated, with_widget_pairs=with_widget_pairs)


def data_from_widget_ratings(buffer) -> PreferenceData:
    """The live-feedback bridge: ``WidgetRating`` rows and the experiences they rate."""
    from layer2.models import WidgetRating

    return build_preference_data(rated_from_widget_ratings(WidgetRating.objects.order_by("created_at", "id"), buffer))


def prompt_key(experience: Experience) -> tuple:
    """What makes two answers answers to the same prompt: normalized intent, role and offered widgets."""
    intent = experience.intent
    window = (intent.get("time_range") or {}).get("label")
    return (
        intent.get("intent_type"),
        intent.get("equipment_type"),
        tuple(intent.get("equipment_ids") or ()),
        tuple(intent.get("metrics") or ()),
        window,
        intent.get("aggregation"),
        experience.user_role,
        tuple(sorted(offered_slots(experience.candidates))),
    )


def experience_prompt(experience: Experience) -> str:
    offered = (c.widget_type for c in experience.candidates)
    return build_prompt(experience.transcript, experience.intent, offered, experience.user_role)


def experience_plan(experience: Experience) -> str:
    return plan_json([PlanItem(w.widget_type, w.size) for w in experience.widgets])


def rating_pairs(rated: list[Experience]) -> Iterator[PreferencePair]:
    groups: dict[tuple, list[Experience]] = defaultdict(list)
    for experience in rated:
        groups[prompt_key(experience)].append(experience)
    for group in groups.values():
        ups = [e for e in group if e.rating == "up"]
        downs = [e for e in group if e.rating == "down"]
        made = 0
        for up, down in itertools.product(ups, downs):
            chosen, rejected = experience_plan(up), experience_plan(down)
            if chosen == rejected or made >= PAIRS_PER_PROMPT or _unconfirmed(up, down):
                continue
            made += 1
            offered = offered_slots(up.candidates)
            yield PreferencePair(
                experience_prompt(up), chosen, rejected, "ratings", offered, (up.query_id, down.query_id)
            )


def _unconfirmed(up: Experience, down: Experience) -> bool:
    """True unless both answers were evaluated and the evaluations agree with the thumbs by a clear margin.

    Two thumbs alone are too noisy to train on: measured against the
    simulated operators' hidden preferences (docs/benchmarks.md), two-thumb
    pairs name the better plan 66% of the time; pairs whose evaluations
    agree by a reward gap of 0.5 or more 94%, by 0.7 or more all of them.
    """
    if not (up.has_evaluation and down.has_evaluation):
        return True
    return plan_reward(up.feedback) - plan_reward(down.feedback) < MIN_REWARD_GAP


@dataclass
class SizeVerdicts:
    """The judge's size verdicts over a history, by (asker's role, widget type, size): how often right, of how many."""

    right: Counter = field(default_factory=Counter)
    seen: Counter = field(default_factory=Counter)

    @classmethod
    def from_experiences(cls, rated: Iterable[Experience]) -> SizeVerdicts:
        verdicts = cls()
        for experience in rated:
            for judged in experience.feedback.per_widget_feedback if experience.feedback else ():
                if judged.size_appropriate is None or judged.widget_index >= len(experience.widgets):
                    continue
                key = (experience.user_role, judged.widget_type, experience.widgets[judged.widget_index].size)
                verdicts.seen[key] += 1
                verdicts.right[key] += bool(judged.size_appropriate)
        return verdicts

    def best_size(self, role: str | None, widget_type: str, sizes: Iterable[str], fallback: str) -> str:
        """Of ``sizes``, the one judged right most often for ``role`` (``fallback`` while too few were judged)."""
        shares = [
            (self.right[key] / self.seen[key], size)
            for size in sizes
            if self.seen[key := (role, widget_type, size)] >= MIN_SIZE_VERDICTS
        ]
        return max(shares)[1] if shares else fallback


def repair_pairs(rated: list[Experience], sizes: SizeVerdicts) -> Iterator[PreferencePair]:
    for experience in rated:
        if experience.rating != "down" or not experience.has_evaluation:
            continue
        repaired = repair_plan(experience, sizes)
        rejected = experience_plan(experience)
        if repaired and plan_json(repaired) != rejected:
            yield PreferencePair(
                experience_prompt(experience),
                plan_json(repaired),
                rejected,
                "judge_repair",
                offered_slots(experience.candidates),
                (experience.query_id,),
            )


def repair_plan(experience: Experience, sizes: SizeVerdicts | None = None) -> list[PlanItem]:
    """The plan as the judge's evaluation would have it: poor widgets out, wrong sizes mended, missing ones in.

    Sizes come from ``sizes`` (the history's verdicts for this role); without
    enough verdicts a resized widget keeps its size and an added one takes
    the rule ranking's best size.
    """
    sizes = sizes or SizeVerdicts()
    feedback, role = experience.feedback, experience.user_role
    judged = {w.widget_index: w for w in feedback.per_widget_feedback}

    def sized(widget_type: str, fallback: str) -> str:
        offered = [c.size for c in experience.candidates if c.widget_type == widget_type]
        return sizes.best_size(role, widget_type, offered, fallback)

    kept = []
    for i, widget in enumerate(experience.widgets):
        verdict = judged.get(i)
        if verdict is not None and (verdict.appropriateness_score or 0.0) < POOR_WIDGET:
            continue
        wrong_size = verdict is not None and verdict.size_appropriate is False
        kept.append(PlanItem(widget.widget_type, sized(widget.widget_type, widget.size) if wrong_size else widget.size))
    shown = {item.widget_type for item in kept}
    for widget_type in feedback.missing_widgets:
        best = max(
            (c for c in experience.candidates if c.widget_type == widget_type), key=lambda c: c.rule_score, default=None
        )
        if best is not None and widget_type not in shown:
            kept.append(PlanItem(widget_type, sized(widget_type, best.size)))
            shown.add(widget_type)
    return kept[:MAX_WIDGETS]


def slot_scores(rated: Iterable[Experience]) -> dict[tuple, dict[tuple[str, str], float]]:
    """By prompt key, each (widget type, size) the judge scored in an answer to it: its mean score."""
    scores: dict[tuple, dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    for experience in rated:
        for judged in experience.feedback.per_widget_feedback if experience.has_evaluation else ():
            if judged.appropriateness_score is None or judged.widget_index >= len(experience.widgets):
                continue
            widget = experience.widgets[judged.widget_index]
            scores[prompt_key(experience)][(widget.widget_type, widget.size)].append(judged.appropriateness_score)
    return {key: {slot: fmean(values) for slot, values in slots.items()} for key, slots in scores.items()}


def widget_pairs(rated: list[Experience]) -> Iterator[PreferencePair]:
    """Each evaluated answer's plan against it with one widget dropped or swapped, by the prompt's judged scores.

    Only plans whose every widget the judge scored for this prompt are
    compared. A single evaluation's scores are noisy (measured against the
    simulated operators' hidden preferences, one answer's own scores order
    such pairs right 83% of the time); averaged over the prompt's answers,
    and at a gap of 0.15, 99%.
    """
    scores = slot_scores(rated)
    for experience in rated:
        means = scores.get(prompt_key(experience), {})
        plan = [PlanItem(w.widget_type, w.size) for w in experience.widgets]
        scored = all((item.widget_type, item.size) in means for item in plan)
        if not (experience.has_evaluation and plan and scored):
            continue
        offered = offered_slots(experience.candidates)

        def score(items: list[PlanItem], means=means) -> float:
            return fmean(means[(i.widget_type, i.size)] for i in items)

        gaps = [
            (score(other) - score(plan), other) for other in _one_widget_changes(plan, sorted(set(means) & offered))
        ]
        wide = sorted((pair for pair in gaps if abs(pair[0]) >= WIDGET_GAP), key=lambda pair: -abs(pair[0]))
        for gap, other in wide[:WIDGET_PAIRS_PER_ANSWER]:
            chosen, rejected = (other, plan) if gap > 0 else (plan, other)
            yield PreferencePair(
                experience_prompt(experience),
                plan_json(chosen),
                plan_json(rejected),
                "judge_widget",
                offered,
                (experience.query_id,),
            )


def _one_widget_changes(plan: list[PlanItem], slots: list[tuple[str, str]]) -> Iterator[list[PlanItem]]:
    """``plan`` with one widget dropped (when one stays), then with one put in another of ``slots``: resized or
    replaced by a type the plan does not show."""
    if len(plan) >= 2:
        yield from (plan[:i] + plan[i + 1 :] for i in range(len(plan)))
    for i, item in enumerate(plan):
        others = {o.widget_type for o in plan} - {item.widget_type}
        for widget_type, size in slots:
            if widget_type not in others and (widget_type, size) != (item.widget_type, item.size):
                yield [*plan[:i], PlanItem(widget_type, size), *plan[i + 1 :]]


def unpaired_examples(rated: list[Experience]) -> Iterator[UnpairedExample]:
    for experience in rated:
        yield UnpairedExample(
            experience_prompt(experience),
            experience_plan(experience),
            experience.rating == "up",
            offered_slots(experience.candidates),
            experience.query_id,
        )


def rated_from_widget_ratings(ratings: Iterable, buffer) -> Iterator[Experience]:
    """Experiences with the feedback ``WidgetRating`` rows hold (the live-feedback bridge).

    For each query the newest operator row wins over the judge's rows (an
    operator's own thumb is the ground truth); the judge's rich fields are
    kept with it. Rows whose experience has left the buffer are skipped.
    """
    from rl.experiences.buffer import ExperienceNotFound

    by_query: dict[str, list] = defaultdict(list)
    for row in ratings:
        by_query[row.query_id].append(row)
    for query_id, rows in by_query.items():
        try:
            experience = buffer.get(query_id)
        except ExperienceNotFound:
            continue
        yield replace(experience, feedback=_feedback_from_rows(rows))


def _feedback_from_rows(rows: list) -> Feedback:
    operator = [r for r in rows if r.source == "operator"]
    rich = [r for r in rows if r.evaluation_confidence is not None or r.per_widget_feedback]
    rating_row = (operator or rows)[-1]
    detail = rich[-1] if rich else rating_row
    return Feedback(
        rating_row.rating,
        evaluation_confidence=detail.evaluation_confidence,
        evaluation_reasoning=detail.evaluation_reasoning or None,
        query_understanding=detail.query_understanding or None,
        per_widget_feedback=[WidgetFeedback(**w) for w in detail.per_widget_feedback],
        missing_widgets=list(detail.missing_widgets),
        suggested_improvements=list(detail.suggested_improvements),
        source=rating_row.source,
        received_at=rating_row.created_at,
    )


def _dedupe(pairs: Iterable[PreferencePair]) -> list[PreferencePair]:
    seen: dict[tuple[str, str, str], PreferencePair] = {}
    for pair in pairs:
        seen.setdefault((pair.prompt, pair.chosen, pair.rejected), pair)
    return list(seen.values())


def _held_out(prompt: str, share: float) -> bool:
    """Deterministic by the prompt's intent lines (not the wording), so one question never spans both splits."""
    key = prompt.split("\n", 1)[1] if "\n" in prompt else prompt
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
