"""One Tier 2 run, start to finish: data, LoRA training, evaluation against the serving adapter, the gate.

Used by ``train_dpo``, ``train_from_live_feedback`` and the background
trainer that ``approve-training`` starts. The run trains into a staging
folder, evaluates the new adapter and the one serving now on the same
held-out pairs, files the adapter as a new version with its metadata, and
promotes it only if :func:`rl.dpo.beats` says so. Anything that fails
before the last step leaves the serving adapter and the version list as
they were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from django.utils import timezone

from rl.dpo import Tier2Config, beats, evaluate, train_adapter
from rl.planner_adapters import AdapterRecord, AdapterRegistry
from rl.preference_data import PreferenceData, build_preference_data, rated_from_widget_ratings

logger = logging.getLogger(__name__)


class NotEnoughData(ValueError):
    def __init__(self, pairs: int, needed: int):
        super().__init__(f"{pairs} preference pairs, {needed} needed: collect more rated answers first")
        self.pairs, self.needed = pairs, needed


def data_from_buffer(buffer) -> PreferenceData:
    """Preference data from every rated experience in the journal (unrated ones are never read)."""
    return build_preference_data(buffer.list(has_feedback=True, limit=max(len(buffer), 1)))


def data_from_widget_ratings(buffer) -> PreferenceData:
    """The live-feedback bridge: ``WidgetRating`` rows and the experiences they rate."""
    from layer2.models import WidgetRating

    return build_preference_data(rated_from_widget_ratings(WidgetRating.objects.order_by("created_at", "id"), buffer))


def run_training(
    data: PreferenceData,
    registry: AdapterRegistry,
    model_path: Path,
    config: Tier2Config,
    min_pairs: int = 0,
    approved_by: str = "",
    on_progress: Callable[[dict], None] | None = None,
    progress_bar: bool = False,
) -> AdapterRecord:
    """Train, evaluate, file and (if it beats the serving adapter) promote; returns the new version's record."""
    from layer2.llm_planner import load_planner

    if data.pairs < min_pairs:
        raise NotEnoughData(data.pairs, min_pairs)
    version = registry.next_version()
    staging = registry.staging(version)
    logger.info("Tier 2 %s: training on %s", version, data.counts())
    result = train_adapter(model_path, data, staging, config, on_progress, progress_bar)
    _notify(on_progress, {"phase": "evaluating"})
    incumbent = registry.active()
    candidate_metrics = evaluate(*load_planner(model_path, staging), data.held_out, config.beta)
    incumbent_metrics = evaluate(*load_planner(model_path, registry.active_path()), data.held_out, config.beta)
    promoted, decision = (
        beats(candidate_metrics, incumbent_metrics)
        if data.held_out
        else (False, "kept, not promoted: no held-out pairs to judge it on")
    )
    record = AdapterRecord(
        version=version,
        created_at=timezone.now(),
        method=result.method,
        base_model=str(model_path),
        data=data.counts(),
        hyperparameters=asdict(config),
        metrics={"candidate": asdict(candidate_metrics), "incumbent": asdict(incumbent_metrics)},
        incumbent=incumbent,
        promoted=promoted,
        decision=decision,
        training_seconds=result.seconds,
        extra={
            "approved_by": approved_by,
            "steps": result.steps,
            "final_loss": result.final_loss,
            "tokens": result.tokens,
        },
    )
    registry.add(staging, record)
    if promoted:
        registry.promote(version)
    logger.info("Tier 2 %s: %s", version, decision)
    return record


def _notify(on_progress, update: dict) -> None:
    if on_progress is not None:
        on_progress(update)
