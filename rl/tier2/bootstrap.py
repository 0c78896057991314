"""Teaching a planner model built here to write valid widget plans (``bootstrap_planner``).

The model starts from random weights (``layer2/planning/planner_model.py``). It is
taught by supervised fine-tuning (TRL's ``SFTTrainer``, loss on the answer
only) on (prompt → JSON plan) pairs: generated operator questions over the
plant's own equipment, parsed and offered candidates exactly as the
orchestrator does, answered with the rule ranking's plan. The result writes
valid plans and imitates the rules; Tier 2 preference training then moves it
towards what operators rate up.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from layer2.planning.plan_prompt import PlanItem, candidate_prompt, offered_slots, parse_plan, plan_json
from layer2.planning.planner import Candidate, RuleRanker, candidates
from layer2.planning.planner_model import PlannerModelConfig, build_model, build_tokenizer, save_planner
from layer2.planning.widgets import CATALOG, SIZES
from layer2.understanding.intent import PlantVocabulary, parse_intent
from rl.simulation.operators import QuestionBank

logger = logging.getLogger(__name__)

QUESTION_TIME = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # windows only shape the prompt's label
# Share of examples whose offered widgets are a random subset of the candidates. Served prompts offer
# what the intent allows, so without these the model could plan from the intent alone and never read the
# WIDGETS line; preference training then moves it to widgets it was not offered.
RESTRICTED_SHARE = 0.4
DEVICES = ("auto", "cpu", "cuda")  # auto: CUDA when torch sees it


@dataclass(frozen=True)
class BootstrapConfig:
    """How the planner model is built and taught (defaults: a few minutes on a laptop CPU)."""

    examples: int = field(
        default=6000,
        metadata={
            "help": "Generated (question, rule plan) pairs to learn from (a share offering a subset of widgets)."
        },
    )
    epochs: float = field(
        default=3.0, metadata={"help": "Passes over the examples (the rule plans are learned exactly by then)."}
    )
    learning_rate: float = field(default=3e-3, metadata={"help": "Learning rate."})
    batch_size: int = field(default=32, metadata={"help": "Examples per step."})
    seed: int = field(default=0, metadata={"help": "Seed of the generated questions and the initial weights."})
    device: str = field(
        default="auto", metadata={"help": "Where to train: auto (CUDA when present), cpu or cuda.", "choices": DEVICES}
    )
    model: PlannerModelConfig = field(
        default_factory=PlannerModelConfig, metadata={"help": "Size of the model built from scratch."}
    )

    def __post_init__(self) -> None:
        if self.examples < 10:
            raise ValueError(f"examples must be at least 10, got {self.examples!r}")
        for name in ("epochs", "learning_rate"):
            if not getattr(self, name) > 0:  # also refuses NaN
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")


@dataclass(frozen=True)
class BootstrapReport:
    path: Path
    examples: int
    parameters: int
    final_loss: float
    valid_json_rate: float  # of greedy plans on questions it was not taught on
    rule_agreement: float  # share of those plans equal to the rule plan
    restricted_valid_json_rate: float  # the same when a random subset of widgets is offered: it reads WIDGETS
    seconds: float


@dataclass(frozen=True)
class PlanExample:
    prompt: str
    completion: str  # the rule ranking's plan as JSON
    offered: frozenset[tuple[str, str]]  # what a valid plan may use


def rule_examples(
    *, vocabulary: PlantVocabulary, count: int, seed: int, restricted_share: float = RESTRICTED_SHARE
) -> list[PlanExample]:
    """``count`` generated questions, each with its prompt and the rule ranking's plan.

    A ``restricted_share`` of them offer a random subset of their candidates' widget types.
    """
    bank, ranker, examples = QuestionBank(vocabulary, seed), RuleRanker(), []
    rng = random.Random(seed)
    while len(examples) < count:
        question = bank.draw()
        transcript = question.transcript
        parsed = parse_intent(transcript=transcript, vocabulary=vocabulary, now=QUESTION_TIME)
        offered = candidates(intent=parsed.intent, vocabulary=vocabulary)
        if not offered:
            continue
        if rng.random() < restricted_share:
            offered = restricted(offered, rng)
        plan = [PlanItem(c.candidate.widget_type, c.candidate.size) for c in ranker.choose(parsed.intent, offered)]
        role = None if len(examples) % 5 == 0 else question.role  # askers without a profile are taught too
        prompt = candidate_prompt(transcript, parsed.intent, offered, role)
        examples.append(PlanExample(prompt, plan_json(plan), offered_slots(offered)))
    return examples


def restricted(offered: list[Candidate], rng: random.Random) -> list[Candidate]:
    """The candidates of a random subset of their widget types (at least two types, and at least one dropped)."""
    types = sorted({c.widget_type for c in offered})
    if len(types) <= 2:
        return offered
    kept = set(rng.sample(types, rng.randint(2, len(types) - 1)))
    return [c for c in offered if c.widget_type in kept]


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA device")
    return device


def trainer_arguments(output_dir: Path, device: str, seed: int, progress: bool) -> dict:
    """The arguments every trainer here shares (SFT, DPO, KTO): schedule, no checkpoints or trackers, device."""
    return dict(
        output_dir=str(output_dir),
        lr_scheduler_type="cosine",
        warmup_steps=0.05,  # a share of the steps
        save_strategy="no",  # a run is short; its result is saved whole at the end, or not at all
        report_to="none",
        seed=seed,
        use_cpu=device == "cpu",
        disable_tqdm=not progress,
        gradient_checkpointing=False,  # small models: recomputing activations would only cost time
    )


def bootstrap_planner(*, vocabulary: PlantVocabulary, out: Path, config: BootstrapConfig, progress=True):
    """Build, teach and save a planner model at ``out``; returns a :class:`BootstrapReport`."""
    import torch
    from trl import SFTConfig, SFTTrainer

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    rows = rule_examples(vocabulary=vocabulary, count=config.examples, seed=config.seed)
    held_out = rule_examples(
        vocabulary=vocabulary, count=100, seed=config.seed + 10_000, restricted_share=0.0
    )  # as served
    words = [*CATALOG, *SIZES]  # one token each, the same in the prompt and in the plan
    tokenizer = build_tokenizer((e.prompt + e.completion for e in rows), config.model.vocab_size, words)
    model = build_model(tokenizer, config.model)
    device = resolve_device(config.device)
    args = SFTConfig(
        **trainer_arguments(Path(out) / ".sft-checkpoints", device, config.seed, progress),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        weight_decay=0.0,
        logging_steps=20,
        max_length=config.model.max_position_embeddings,
        bf16=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=_dataset(rows), processing_class=tokenizer)
    result = trainer.train()
    model = trainer.model.to("cpu").eval()
    save_planner(model, tokenizer, Path(out), config.model)
    valid, agree = _check(model, tokenizer, held_out)
    restricted_valid, _ = _check(
        model,
        tokenizer,
        rule_examples(vocabulary=vocabulary, count=100, seed=config.seed + 20_000, restricted_share=1.0),
    )
    return BootstrapReport(
        Path(out),
        len(rows),
        sum(p.numel() for p in model.parameters()),
        round(result.training_loss, 4),
        valid,
        agree,
        restricted_valid,
        round(time.perf_counter() - started, 1),
    )


def _check(model, tokenizer, examples: list[PlanExample]) -> tuple[float, float]:
    """(valid-JSON rate, agreement with the rule plan) of greedy plans for ``examples``."""
    from layer2.planning.llm_planner import generate_plans

    plans = [
        parse_plan(text, e.offered)
        for text, e in zip(
            generate_plans(model=model, tokenizer=tokenizer, prompts=[e.prompt for e in examples]),
            examples,
            strict=True,
        )
    ]
    valid = sum(p is not None for p in plans)
    agree = sum(p is not None and plan_json(p) == e.completion for p, e in zip(plans, examples, strict=True))
    return round(valid / len(examples), 4), round(agree / len(examples), 4)


def _dataset(examples: list[PlanExample]):
    from datasets import Dataset

    return Dataset.from_list([{"prompt": e.prompt, "completion": e.completion} for e in examples])
