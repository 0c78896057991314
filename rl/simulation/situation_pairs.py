"""Planner preference pairs from situations in the plant's data: a diagnostic, not Tier 2 training data.

No trainer reads them. ``manage.py test_rl_data_provider`` draws them to
check the data provider against a plant, and ``bench/tier2_training.py
--situation-pairs N`` adds them to Tier 2's preference data as a third source,
``situation`` (``rl.tier2.preference_data.situation_preference_pairs``), to
measure whether they help. Measured there (docs/benchmarks.md, 2026-12-01,
two training seeds) they did not: the held-out accuracy on rating and
judge-repair pairs and the simulated reward on fresh questions moved within
the seed-to-seed spread, one way or the other. So the production Tier 2
data path (``data_from_buffer``, ``data_from_widget_ratings``) leaves them out.

A situation is a moment in the data that makes one plan better than another
for a question about it:

* ``alert``: an alert of the equipment is active. Asked about its alarms,
  the plan with an ``alerts_list`` wins;
* ``anomaly``: one of its readings is outside the alarm limit. Asked whether
  it (or that metric) looks wrong, the plan with an ``anomaly_timeline`` wins;
* ``fleet_alert``: an alert of one of a type is active. Asked about the
  fleet's alarms, ``alerts_list`` wins;
* ``fleet_anomaly``: one of a type breaks the limit of a metric. Asked which
  of the fleet look abnormal in it, ``status_grid`` (the fleet with abnormal
  flags) wins;
* ``trend_change``: a metric moved over the window (its 5th-to-95th
  percentile spread reaches ``ProviderConfig.trend_change`` of its level).
  Asked for it over that window, ``trend_line`` wins over a single ``kpi``.

The question is one an operator who saw the situation would ask, from
templates, with the equipment named the ways operators say it ("ch 2",
"genset 1"). It is parsed by ``layer2.understanding.intent.parse_intent`` at the
situation's minute and kept only if it parses to the equipment, fleet and
metric meant. The prompt is exactly the one the planner is served
(``layer2.planning.plan_prompt.candidate_prompt``: question, intent, asker's
role, offered widgets), which carries no readings. There is no asker, so the
role is unknown (``ROLE: -``, as served to a user without a profile) unless
``roles`` are given: one of them is then drawn for each pair, as when a
logged-in operator, engineer or manager asks. So the situation must show in the
question: pairs whose preference hinged on data the prompt does not carry
(a healthy pump asked "how is pump 1 doing" preferring no alert list, the
same words about an alarming one preferring it) would teach the model to
contradict itself. Quiet equipment and flat windows therefore give no pairs.

Both plans are the rule ranking's plan length with the best-ranked other
widgets, and differ in one slot: the situation's widget in the chosen plan,
its alternative (``kpi`` for a trend, otherwise the next-best widget) in the
rejected one. Same length, same order, so nothing but the slot is taught.
Prompts never repeat within a call: a prompt determines its candidates,
hence its pair.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from industrial.plant.spec import READING_INTERVAL, limit_for
from layer2.planning.plan_prompt import PlanItem, candidate_prompt, offered_slots, plan_json
from layer2.planning.planner import Candidate, candidates, plan_length
from layer2.understanding.intent import Intent, PlantVocabulary, parse_intent
from layer2.understanding.roles import ROLES
from layer2.understanding.vocabulary import TYPE_ALIASES, plural
from rl.simulation.data_provider import InsufficientData, RLTimeSeriesDataProvider, StateSample

logger = logging.getLogger(__name__)

SITUATIONS = ("alert", "anomaly", "fleet_alert", "fleet_anomaly", "trend_change")

ALERT_QUESTIONS = (
    "any alarms on {eq}",
    "show the alerts for {eq}",
    "{eq} has an alarm, what is going on",
    "why is there a {metric} alarm on {eq}",
)
ANOMALY_QUESTIONS = (
    "what is wrong with {eq}",
    "{eq} {metric} looks abnormal",
    "anything unusual about {eq} {metric}",
    "is {eq} {metric} out of range",
)
FLEET_ALERT_QUESTIONS = ("any alarms on the {fleet}", "which {fleet} have alarms", "show alerts for the {fleet}")
FLEET_ANOMALY_QUESTIONS = ("which {fleet} have abnormal {metric}", "are any {fleet} showing unusual {metric}")
TREND_QUESTIONS = (
    "what was {eq} {metric} over the last {hours} hours",
    "show {eq} {metric} for the past {hours} hours",
    "plot {eq} {metric} over the last {hours} hours",
)


@dataclass(frozen=True)
class SituationPair:
    """Two plans for one prompt, ``chosen`` better than ``rejected`` because of what the data shows."""

    prompt: str
    chosen: str  # plan_json
    rejected: str
    reason: str
    equipment_id: str  # the equipment whose state makes the situation (a member, for fleet situations)
    situation: str  # one of SITUATIONS
    transcript: str
    at: datetime  # the reading the situation is read from; the question is asked a minute later
    metric: str | None
    offered: frozenset[tuple[str, str]]  # the (widget, size) pairs both plans were chosen from
    role: str | None = None  # the asker's role written into the prompt (None: unknown)


@dataclass(frozen=True)
class _Draw:
    """One situation, ready to be asked about."""

    situation: str
    state: StateSample
    question: tuple[str, bool]  # the transcript, and whether it names the metric
    metric: str | None
    fleet: bool
    shows: str  # the widget that shows the situation
    instead: str | None  # its alternative in the rejected plan (None: the next-best widget)
    reason: str


def situation_pairs(
    *,
    provider: RLTimeSeriesDataProvider,
    n: int,
    kinds: tuple[str, ...] | None = None,
    roles: tuple[str, ...] | None = None,
) -> list[SituationPair]:
    """Up to ``n`` pairs, kinds (default: all) taken in turn; a kind that fails ``situation_attempts`` draws in a
    row is dropped. Each prompt names a role drawn from ``roles`` (default: none, ``ROLE: -``)."""
    kinds = SITUATIONS if kinds is None else kinds
    unknown = [k for k in kinds if k not in SITUATIONS]
    if unknown or not kinds:
        raise ValueError(f"kinds must be among {', '.join(SITUATIONS)}, got {kinds!r}")
    if roles is not None and (not roles or any(r not in ROLES for r in roles)):
        raise ValueError(f"roles must be among {', '.join(ROLES)}, got {roles!r}")
    vocabulary = PlantVocabulary.from_catalog(provider.access.catalog)
    pairs: list[SituationPair] = []
    seen: set[str] = set()
    available, misses = list(kinds), dict.fromkeys(kinds, 0)
    while len(pairs) < n and available:
        kind = available[len(pairs) % len(available)]
        try:
            draw = _DRAWS[kind](provider)
        except InsufficientData as exc:
            logger.info("no %s situations: %s", kind, exc)
            available.remove(kind)
            continue
        pair = _pair(draw, vocabulary, _pick(provider, roles) if roles else None) if draw else None
        if pair is None or pair.prompt in seen:
            misses[kind] += 1
            if misses[kind] >= provider.config.situation_attempts:
                available.remove(kind)
            continue
        misses[kind] = 0
        seen.add(pair.prompt)
        pairs.append(pair)
    if len(pairs) < n:
        logger.warning(
            "%d of %d situation pairs: the plant has no more distinct situations of %s", len(pairs), n, kinds
        )
    return pairs


# --------------------------------------------------------------------------- situations


def _alert(provider: RLTimeSeriesDataProvider) -> _Draw:
    state = provider.alarm_states(1)[0]
    metric = _pick(provider, state.alert_metrics)
    return _Draw(
        "alert", state, _ask(provider, ALERT_QUESTIONS, state, metric), metric, False, "alerts_list", None,
        f"{state.equipment_id} had an active alert on {metric} at {_minute(state.timestamp)}: "
        "the alerts list shows it",
    )  # fmt: skip


def _anomaly(provider: RLTimeSeriesDataProvider) -> _Draw | None:
    state = provider.alarm_states(1)[0]
    if not state.limit_breaches:
        return None
    metric = _pick(provider, state.limit_breaches)
    return _Draw(
        "anomaly", state, _ask(provider, ANOMALY_QUESTIONS, state, metric), metric, False, "anomaly_timeline", None,
        f"{state.equipment_id} {metric} read {state.values[metric]:g} at {_minute(state.timestamp)}, "
        f"{_limit_text(state, metric)}: the anomaly timeline shows it",
    )  # fmt: skip


def _fleet_alert(provider: RLTimeSeriesDataProvider) -> _Draw:
    state = provider.alarm_states(1)[0]
    metric = _pick(provider, state.alert_metrics)
    return _Draw(
        "fleet_alert", state, _ask(provider, FLEET_ALERT_QUESTIONS, state, metric), metric, True, "alerts_list", None,
        f"{state.equipment_id}, one of the {plural(state.equipment_type)}, had an active alert on {metric} "
        f"at {_minute(state.timestamp)}: the alerts list shows it",
    )  # fmt: skip


def _fleet_anomaly(provider: RLTimeSeriesDataProvider) -> _Draw | None:
    state = provider.alarm_states(1)[0]
    if not state.limit_breaches:
        return None
    metric = _pick(provider, state.limit_breaches)
    return _Draw(
        "fleet_anomaly", state, _ask(provider, FLEET_ANOMALY_QUESTIONS, state, metric), metric, True, "status_grid",
        None,
        f"{state.equipment_id}, one of the {plural(state.equipment_type)}, read {metric} {state.values[metric]:g} "
        f"at {_minute(state.timestamp)}, {_limit_text(state, metric)}: the status grid flags it",
    )  # fmt: skip


def _trend_change(provider: RLTimeSeriesDataProvider) -> _Draw | None:
    hours = int(_pick(provider, provider.config.trend_hours))
    state = provider.sample_states(1)[0]
    first, _ = provider.spans()[state.equipment_id]
    metrics = [m for m, v in state.values.items() if m != "running_status" and v is not None]
    if not metrics or state.timestamp + READING_INTERVAL - timedelta(hours=hours) < first:
        return None
    metric = _pick(provider, metrics)
    end = state.timestamp + READING_INTERVAL
    stats = provider.access.stats(state.equipment_id, metric, end - timedelta(hours=hours), end)
    if stats.p05 is None or stats.p95 is None or stats.median is None:
        return None
    spread, level = stats.p95 - stats.p05, max(abs(stats.p05), abs(stats.p95), abs(stats.median))
    if level == 0 or spread < provider.config.trend_change * level:
        return None
    return _Draw(
        "trend_change", state, _ask(provider, TREND_QUESTIONS, state, metric, hours=hours), metric, False,
        "trend_line", "kpi",
        f"{state.equipment_id} {metric} ranged {stats.p05:g} to {stats.p95:g} (5th to 95th percentile, median "
        f"{stats.median:g}) over the {hours} h to {_minute(state.timestamp)}: a trend line shows the change, "
        "a single KPI hides it",
    )  # fmt: skip


_DRAWS: dict[str, Callable[[RLTimeSeriesDataProvider], _Draw | None]] = {
    "alert": _alert,
    "anomaly": _anomaly,
    "fleet_alert": _fleet_alert,
    "fleet_anomaly": _fleet_anomaly,
    "trend_change": _trend_change,
}


# --------------------------------------------------------------------------- pairs


def _pair(draw: _Draw, vocabulary: PlantVocabulary, role: str | None = None) -> SituationPair | None:
    """The pair for ``draw``, or None when its question does not parse as meant or its widgets are not offered."""
    transcript, _ = draw.question
    # "now" is just after the situation's reading, as when serving (layer2.orchestrator).
    parsed = parse_intent(transcript=transcript, vocabulary=vocabulary, now=draw.state.timestamp + READING_INTERVAL)
    if not _parsed_as_meant(parsed.intent, draw) or parsed.unresolved:
        return None
    proposed = candidates(intent=parsed.intent, vocabulary=vocabulary)
    plans = contrast_plans(proposed, draw.shows, draw.instead)
    if plans is None:
        return None
    shown, alternative = plans
    swapped = next(a.widget_type for s, a in zip(shown, alternative, strict=True) if s != a)
    return SituationPair(
        prompt=candidate_prompt(transcript, parsed.intent, proposed, role),
        chosen=plan_json(shown),
        rejected=plan_json(alternative),
        reason=f"{draw.reason}; the rejected plan has {swapped} in its place",
        equipment_id=draw.state.equipment_id,
        situation=draw.situation,
        transcript=transcript,
        at=draw.state.timestamp,
        metric=draw.metric,
        offered=offered_slots(proposed),
        role=role,
    )


def _parsed_as_meant(intent: Intent, draw: _Draw) -> bool:
    if draw.fleet:
        subject = intent.equipment_type == draw.state.equipment_type and not intent.equipment_ids
    else:
        subject = intent.equipment_ids == [draw.state.equipment_id]
    _, named = draw.question
    return subject and (intent.metrics[:1] == [draw.metric] if named else not intent.metrics)


def contrast_plans(
    proposed: list[Candidate], shows: str, instead: str | None = None
) -> tuple[list[PlanItem], list[PlanItem]] | None:
    """(with, without): plans of the rule plan's length from the best-ranked widgets, one with ``shows``
    and one with ``instead`` (default: the next-best other widget) in the same slot; None if either is not offered.

    Each widget type appears once, in its best-scoring size; order is by rule score.
    """
    ranked = _ranked(proposed)
    types = [item.widget_type for item in ranked]
    if shows not in types or (instead is not None and instead not in types):
        return None
    others = [item for item in ranked if item.widget_type not in (shows, instead)]
    base = others[: max(1, plan_length(proposed)) - 1]
    if instead is None and len(others) == len(base):
        return None
    alternative = ranked[types.index(instead)] if instead is not None else others[len(base)]
    lead = min(types.index(shows), types.index(alternative.widget_type))
    slot = sum(1 for item in base if types.index(item.widget_type) < lead)
    return [*base[:slot], ranked[types.index(shows)], *base[slot:]], [*base[:slot], alternative, *base[slot:]]


def _ranked(proposed: list[Candidate]) -> list[PlanItem]:
    best: dict[str, Candidate] = {}
    for c in proposed:
        if c.widget_type not in best or c.rule_score > best[c.widget_type].rule_score:
            best[c.widget_type] = c
    return [PlanItem(c.widget_type, c.size) for c in sorted(best.values(), key=lambda c: -c.rule_score)]


# --------------------------------------------------------------------------- wording


def _ask(
    provider, templates: tuple[str, ...], state: StateSample, metric: str, hours: int | None = None
) -> tuple[str, bool]:
    """A question from a random template, and whether it names the metric (by its column label)."""
    template = _pick(provider, templates)
    label = provider.access.metric(state.equipment_id, metric).label
    text = template.format(eq=_spoken(provider, state), fleet=plural(state.equipment_type), metric=label, hours=hours)
    return text, "{metric}" in template


def _spoken(provider, state: StateSample) -> str:
    """The equipment as an operator says it: a random alias of its type and its number ("genset 2")."""
    aliases = TYPE_ALIASES.get(state.equipment_type) or (state.equipment_type.replace("_", " "),)
    number = state.equipment_id.rsplit("_", 1)[-1]
    return f"{_pick(provider, aliases)} {int(number) if number.isdigit() else number}"


def _pick(provider, options):
    return options[int(provider.rng.integers(0, len(options)))]


def _minute(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def _limit_text(state: StateSample, metric: str) -> str:
    limit = limit_for(state.equipment_type, metric)
    if limit is None:
        return "outside its alarm limit"
    value = state.values[metric]
    if limit.high is not None and value > limit.high:
        return f"above its alarm limit {limit.high:g}"
    return f"below its alarm limit {limit.low:g}"
