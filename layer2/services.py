"""What the layer2 API does, one function per endpoint, and the one place where it meets the learners.

The flow's imports run one way: ``industrial`` ← ``rl.experiences`` ←
``layer2`` ← the learners (``rl.tier1``, ``rl.tier2``, ``rl.status``).
This module alone, the composition root, reaches up: it builds the
process's orchestrator with the Tier 1 ranker or the ``llm`` planner, sends
new feedback to Tier 1, and hands the learning loop's status and approvals
through. The import contracts in ``pyproject.toml`` allow these imports
here and nowhere else in layer2.

Everything is built on first use, after any fork; training libraries
(transformers, peft) load only when ``PLANNER_BACKEND=llm`` serves.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from industrial.timeseries.access import get_timeseries_access
from layer2 import conversations, implicit_signals, resolver_budget, rights
from layer2.feedback import record_feedback
from layer2.models import OperatorProfile
from layer2.orchestrator import Answer, Orchestrator
from layer2.understanding.llm_resolver import LLMResolver, ResolverConfig
from rl import status
from rl.experiences.buffer import ExperienceBuffer, get_experience_buffer
from rl.experiences.records import Experience, Feedback, ImplicitSignals
from rl.tier1.service import current_service, feedback_received
from rl.tier2.adapters import get_registry


@functools.cache
def get_orchestrator() -> Orchestrator:
    """The process's orchestrator: the Tier 1 ranker where continuous RL runs, the ``llm`` planner if chosen."""
    backend = _llm_planner() if settings.PLANNER_BACKEND == "llm" else None
    ranker = None
    if (service := current_service()) is not None:
        from rl.tier1.scorer import Tier1Ranker  # torch: loaded only where Tier 1 runs

        ranker = Tier1Ranker(service.learner)
    resolver = _llm_resolver() if settings.INTENT_RESOLVER == "llm" else None
    return Orchestrator(
        get_timeseries_access(), get_experience_buffer(), ranker=ranker, backend=backend, resolver=resolver
    )


def _llm_resolver() -> LLMResolver:
    config = ResolverConfig(
        api_key=settings.ANTHROPIC_API_KEY,
        model=settings.RESOLVER_MODEL,
        base_url=settings.ANTHROPIC_BASE_URL or None,
        confidence_below=settings.RESOLVER_CONFIDENCE,
        timeout=settings.RESOLVER_TIMEOUT_S,
        daily_calls=settings.RESOLVER_DAILY_CALLS,
        cache_size=settings.RESOLVER_CACHE_SIZE,
    )
    return LLMResolver(config, budget=lambda: resolver_budget.take_call(daily_calls=config.daily_calls))


def _llm_planner():
    from layer2.planning.llm_planner import LLMPlanner  # transformers: loaded only where the llm planner serves

    model = Path(settings.PLANNER_MODEL_PATH)
    if not (model / "config.json").is_file():
        raise RuntimeError(
            f"PLANNER_BACKEND=llm needs a local model folder at PLANNER_MODEL_PATH ({model}): "
            "build one with `python manage.py bootstrap_planner`"
        )
    constrained = settings.PLANNER_CONSTRAINED
    if settings.PLANNER_ADAPTER_PATH:
        return LLMPlanner(model, settings.PLANNER_ADAPTER_PATH, constrained=constrained)
    # Follows promotions and rollbacks.
    return LLMPlanner(model, active_adapter=get_registry().active_path, constrained=constrained)


def answer_question(*, transcript: str, role: str | None, user, conversation_id: str | None = None) -> Answer:
    """Answer ``transcript`` for ``role``, else for the role on ``user``'s profile (a shared login may name another),
    as the next turn of ``user``'s conversation ``conversation_id`` (None: a new conversation)."""
    conversation_id, turn, context = conversations.resume(conversation_id=conversation_id, user=user)
    asked_at = timezone.now()
    answer = get_orchestrator().answer(
        transcript,
        role=role or OperatorProfile.objects.role_of(user),
        context=context,
        conversation=(conversation_id, turn),
        asked_by=user.pk,
    )
    implicit_signals.note_rephrase(
        buffer=get_experience_buffer(), previous=context, transcript=answer.transcript, intent=answer.intent,
        asked_at=asked_at, window=timedelta(seconds=settings.REPHRASE_WINDOW_SECONDS),
    )  # fmt: skip
    conversations.record(conversation_id=conversation_id, user=user, turn=turn, context=answer.context)
    return answer


def submit_feedback(
    *, query_id: str, feedback: Feedback, user=None, buffer: ExperienceBuffer | None = None
) -> Experience:
    """Record ``feedback`` on answer ``query_id`` (in ``buffer``, default the process's) and let Tier 1 learn it now.

    ``user`` is the account posting it over the API: it must be allowed to rate that answer (``layer2/rights.py``;
    raises ``ExperienceNotFound`` or ``NotYours``). None: a trusted in-process caller (simulation, tests).
    """
    buffer = buffer or get_experience_buffer()
    if user is not None:
        rights.check_may_rate(user=user, experience=buffer.get(query_id))
    experience = record_feedback(buffer=buffer, query_id=query_id, feedback=feedback, user=user)
    feedback_received(experience)  # this process's scorer re-ranks the next answer at once
    return experience


def submit_signals(*, query_id: str, signals: ImplicitSignals, user) -> Experience:
    """Store the console's report of how ``user`` used their answer ``query_id`` (only its asker reports it:
    ``layer2/rights.py``; raises ``ExperienceNotFound`` or ``NotYours``). Tier 1's leader learns it, if at all,
    from the journal (``TIER1_IMPLICIT_WEIGHT``)."""
    buffer = get_experience_buffer()
    rights.check_may_report_use(user=user, experience=buffer.get(query_id))
    return implicit_signals.record_signals(buffer=buffer, query_id=query_id, signals=signals)


def list_experiences(*, user, **query) -> list[Experience]:
    """The experiences ``user`` may read (``layer2/rights.py``), filtered as ``ExperienceBuffer.list`` filters them."""
    return get_experience_buffer().list(**query, asked_by=rights.owner_filter(user))


def account(*, user) -> dict:
    """What ``user`` is to the API (``layer2/rights.py``)."""
    return {
        "username": user.get_username(),
        "is_staff": user.is_staff,
        "is_judge": rights.is_judge(user),
        "feedback_source": rights.feedback_source(user),
        "role": OperatorProfile.objects.role_of(user),
    }


def rl_status(*, user) -> dict:
    """The learning loop's status; server paths only for staff."""
    return status.rl_status(include_paths=user.is_staff)


def approve_training(*, method: str, approved_by: str) -> dict:
    """Start a Tier 2 run; raises ``TrainingRefused`` (409) saying why not."""
    return status.approve_training(method=method, approved_by=approved_by)


def learning_history(*, bucket: str, hours: int) -> dict:
    """Feedback and rewards per ``bucket`` over the last ``hours``, the answers rated last (with their asker's user
    name, None for an account since deleted or an answer nobody owns) and Tier 1's trends (``rl/status.py``)."""
    history = status.learning_history(bucket=bucket, hours=hours, now=timezone.now())
    askers = {item["asked_by"] for item in history["recent_feedback"]} - {None}
    users = get_user_model()
    names = dict(users.objects.filter(pk__in=askers).values_list("pk", users.USERNAME_FIELD))
    for item in history["recent_feedback"]:
        item["username"] = names.get(item["asked_by"])
    return history


def promote_adapter(*, version: str, user) -> dict:
    """Serve planner adapter ``version``; raises ``UnknownAdapter`` (404). Every worker's ``llm`` planner follows
    (``_llm_planner``: it reads the registry's choice before each plan)."""
    return status.promote_adapter(version=version, by=user.get_username())


def rollback_adapter(*, user) -> dict:
    """Serve the adapter that served before; raises ``NothingToRollBack`` (409) when none was promoted."""
    return status.rollback_adapter(by=user.get_username())
