"""Tier 2 training: a LoRA adapter for the planner model from preference data, and its evaluation.

``train_adapter`` runs TRL's ``DPOTrainer`` on pairs (or ``KTOTrainer`` on
unpaired thumbs when those dominate) with a PEFT LoRA config, on CPU or
GPU, and saves only the adapter. ``evaluate`` measures a model on held-out
data the same way for the candidate and the adapter serving now:

- reward margin: the mean DPO implicit reward margin,
  β·[(log π(c) − log π₀(c)) − (log π(r) − log π₀(r))], against the base
  model π₀ (0 for the base model itself);
- preference accuracy: the share of held-out pairs with a positive margin
  (ties count half, so the base model scores 0.5: no preference of its
  own), as TRL reports ``rewards/accuracies``;
- likelihood accuracy: the share where log π(c) > log π(r), which also
  says what the base model already prefers;
- valid-JSON rate: unconstrained greedy plans for the held-out prompts
  that ``parse_plan`` accepts. Served and gated plans are constrained to the
  plan grammar, so this no longer decides anything: it is the training's
  health figure (an adapter that forgets the format shows here first);
- plan quality: constrained plans for fresh (held-out) questions, scored by
  the offline judge and any other scorer given (``plan_quality.py``).

``beats`` is the promotion gate: preference accuracy, reward margin and
plan quality.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from transformers import TrainerCallback

from layer2.planning.plan_prompt import PlanItem, parse_plan, plan_json
from layer2.planning.widgets import CATALOG
from rl.experiences.records import Experience
from rl.tier2.bootstrap import DEVICES, resolve_device, trainer_arguments
from rl.tier2.plan_quality import PlanScorer, plan_quality, worse_beyond_noise
from rl.tier2.preference_data import PreferenceData, PreferencePair

logger = logging.getLogger(__name__)

METHODS = ("auto", "dpo", "kto")


@dataclass(frozen=True)
class Tier2Config:
    """Hyper-parameters of one Tier 2 run (defaults suit the bootstrapped planner on a CPU)."""

    method: str = field(
        default="auto",
        metadata={
            "help": "Training method: auto takes KTO when unpaired thumbs outnumber paired answers 4:1, else DPO.",
            "choices": METHODS,
        },
    )
    epochs: float = field(default=4.0, metadata={"help": "Passes over the training data."})
    learning_rate: float = field(default=3e-3, metadata={"help": "LoRA learning rate."})
    batch_size: int = field(default=16, metadata={"help": "Pairs (KTO: rated answers) per step."})
    beta: float = field(default=0.3, metadata={"help": "DPO/KTO strength of the pull towards the reference model."})
    sft_weight: float = field(
        default=1.0,
        metadata={"help": "DPO only: weight of an SFT term on the chosen plans (RPO), which keeps JSON valid."},
    )
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha: the update is scaled by lora_alpha / lora_r."})
    lora_dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA layers' input."})
    max_length: int = field(default=256, metadata={"help": "Longest prompt + plan, in tokens."})
    device: str = field(
        default="auto", metadata={"help": "Where to train: auto (CUDA when present), cpu or cuda.", "choices": DEVICES}
    )
    seed: int = field(default=0, metadata={"help": "Seed handed to the trainer, and of the format negatives DPO adds."})

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        for name in ("epochs", "learning_rate", "beta"):
            if not getattr(self, name) > 0:  # also refuses NaN
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("batch_size", "lora_r"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.sft_weight < 0:
            raise ValueError(f"sft_weight must be zero or more, got {self.sft_weight!r}")


@dataclass(frozen=True)
class EvalMetrics:
    preference_accuracy: float  # implicit-reward margin > 0 (ties count half): TRL's rewards/accuracies
    reward_margin: float  # mean implicit-reward margin against the base model
    likelihood_accuracy: float  # log π(chosen) > log π(rejected) (ties count half): meaningful for the base too
    valid_json_rate: float  # unconstrained greedy plans: the training's health, not the gate's
    pairs: int
    prompts: int
    accuracy_by_source: dict[str, float] = field(default_factory=dict)  # preference accuracy per pair source
    plan_quality: dict[str, float] = field(default_factory=dict)  # scorer -> mean score of constrained plans
    gated_valid_rate: float = 0.0  # of those constrained plans (1.0 by construction)
    fresh_questions: int = 0
    plan_scores: dict[str, list[float]] = field(default_factory=dict, repr=False)  # per question, for the gate

    def summary(self) -> dict:
        """What an adapter's metadata keeps: every figure but the per-question scores."""
        return {k: v for k, v in asdict(self).items() if k != "plan_scores"}


@dataclass(frozen=True)
class TrainResult:
    method: str
    steps: int
    final_loss: float
    seconds: float
    tokens: int  # prompt + completion tokens seen in training (for tokens/s)


def choose_method(config: Tier2Config, data: PreferenceData) -> str:
    if config.method != "auto":
        return config.method
    paired_answers = 2 * len(data.train)
    return "kto" if len(data.unpaired_train) > 4 * max(paired_answers, 1) else "dpo"


def train_adapter(
    *,
    model_path: Path,
    data: PreferenceData,
    out: Path,
    config: Tier2Config,
    on_progress: Callable[[dict], None] | None = None,
    progress_bar: bool = False,
) -> TrainResult:
    """Train a LoRA adapter on ``data`` over the model at ``model_path``; save the adapter alone at ``out``."""
    from layer2.planning.llm_planner import load_planner

    started = time.perf_counter()
    method = choose_method(config, data)
    device = resolve_device(config.device)
    model, tokenizer = load_planner(model_path=model_path)
    tokenizer.padding_side = "left"
    rows = _training_rows(method, data, config.seed)
    trainer = _trainer(method, model, tokenizer, rows, out, config, device, progress_bar)
    if on_progress is not None:
        trainer.add_callback(_ProgressCallback(on_progress))
    result = trainer.train()
    trainer.model.save_pretrained(out)  # the adapter weights and config only
    tokens = _token_count(tokenizer, rows) * max(1, round(config.epochs))
    return TrainResult(
        method, result.global_step, round(result.training_loss, 4), round(time.perf_counter() - started, 2), tokens
    )


def _trainer(method, model, tokenizer, rows: list[dict], out, config: Tier2Config, device: str, progress_bar: bool):
    from datasets import Dataset
    from peft import LoraConfig

    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        task_type="CAUSAL_LM",
        target_modules="all-linear",
    )
    common = dict(
        **trainer_arguments(Path(out) / ".checkpoints", device, config.seed, progress_bar),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        beta=config.beta,
        max_length=config.max_length,
        logging_steps=5,
        bf16=device == "cuda",
    )
    if method == "kto":
        from trl import KTOConfig, KTOTrainer

        return KTOTrainer(
            model=model,
            args=KTOConfig(**common),
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=lora,
        )
    from trl import DPOConfig, DPOTrainer

    # DPO alone lowers the likelihood of the rejected plan's JSON, which is mostly the chosen plan's JSON too;
    # the SFT term on the chosen plans (RPO) keeps the format while the preference term moves the choice.
    losses = dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, config.sft_weight]) if config.sft_weight else {}
    return DPOTrainer(
        model=model,
        args=DPOConfig(**common, **losses),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora,
    )


def _training_rows(method: str, data: PreferenceData, seed: int) -> list[dict]:
    """What the trainer trains on: KTO's rated answers, or DPO's pairs and their format negatives."""
    if method == "kto":
        return [{"prompt": e.prompt, "completion": e.completion, "label": e.label} for e in data.unpaired_train]
    triples = [(p.prompt, p.chosen, p.rejected) for p in data.train] + format_negatives(data.train, seed)
    return [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in triples]


def format_negatives(pairs: list[PreferencePair], seed: int = 0) -> list[tuple[str, str, str]]:
    """One (prompt, chosen plan, the same plan broken) triple per training prompt, for DPO alone.

    Preference pairs from feedback never show an invalid plan, so nothing in
    them lowers the likelihood of writing one, and a LoRA-shifted model
    starts to: it repeats a widget type or names one that was not offered.
    Each triple breaks its chosen plan one of those two ways; the two plans
    are the same up to the break, so the push falls on the break and after.
    These are never in the held-out pairs or the data counts: they teach
    the format, not what operators prefer.
    """
    rng = random.Random(seed)
    triples = []
    for pair in {p.prompt: p for p in pairs}.values():
        items = parse_plan(pair.chosen, pair.offered)
        if items:
            triples.append((pair.prompt, pair.chosen, plan_json(_broken(items, pair.offered, rng))))
    return triples


def _broken(items: list[PlanItem], offered: frozenset[tuple[str, str]], rng: random.Random) -> list[PlanItem]:
    """``items`` (not empty) with a repeated widget type, or one that was not offered, added."""
    offered_types = {t for t, _ in offered}
    unoffered = sorted(set(CATALOG) - offered_types)
    if unoffered and rng.random() < 0.5:
        widget_type = rng.choice(unoffered)
        return [*items, PlanItem(widget_type, rng.choice(CATALOG[widget_type].sizes))]
    repeated = rng.choice(items)
    other_sizes = [s for t, s in sorted(offered) if t == repeated.widget_type and s != repeated.size]
    return [*items, PlanItem(repeated.widget_type, rng.choice(other_sizes or [repeated.size]))]


def _token_count(tokenizer, rows: list[dict]) -> int:
    """Prompt + answer tokens in ``rows`` (both answers of a pair)."""
    texts = [row["prompt"] + row[key] for row in rows for key in ("chosen", "rejected", "completion") if key in row]
    return sum(len(ids) for ids in tokenizer(texts)["input_ids"]) if texts else 0


class _ProgressCallback(TrainerCallback):
    """Hands step, loss and ETA to ``on_progress`` as training goes (what ``rl-status`` shows)."""

    def __init__(self, on_progress: Callable[[dict], None]):
        self.on_progress = on_progress
        self.started = time.monotonic()
        self.loss: float | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.loss = float(logs["loss"])

    def on_step_end(self, args, state, control, **kwargs):
        elapsed = time.monotonic() - self.started
        left = state.max_steps - state.global_step
        eta = elapsed / state.global_step * left if state.global_step else None
        self.on_progress(
            {
                "step": state.global_step,
                "max_steps": state.max_steps,
                "loss": self.loss,
                "elapsed_s": round(elapsed, 1),
                "eta_s": None if eta is None else round(eta, 1),
            }
        )


# --------------------------------------------------------------------------- evaluation


def evaluate(
    *,
    model,
    tokenizer,
    pairs: list[PreferencePair],
    beta: float,
    questions: Sequence[Experience] = (),
    scorers: Sequence[PlanScorer] = (),
    generate_prompts: int = 200,
) -> EvalMetrics:
    """Held-out figures for ``model`` (a PeftModel is compared with its own base for the reward margin), and the
    quality of its plans for ``questions`` (held-out experiences) by each of ``scorers``."""
    from layer2.planning.llm_planner import generate_plans

    if not pairs:
        return EvalMetrics(0.0, 0.0, 0.0, 0.0, 0, 0)
    quality = plan_quality(model=model, tokenizer=tokenizer, questions=list(questions)[:generate_prompts],
                           scorers=list(scorers))  # fmt: skip
    prompts = [p.prompt for p in pairs]
    chosen = completion_logps(model, tokenizer, prompts, [p.chosen for p in pairs])
    rejected = completion_logps(model, tokenizer, prompts, [p.rejected for p in pairs])
    if hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            base_chosen = completion_logps(model, tokenizer, prompts, [p.chosen for p in pairs])
            base_rejected = completion_logps(model, tokenizer, prompts, [p.rejected for p in pairs])
    else:
        base_chosen, base_rejected = chosen, rejected
    margins = beta * ((chosen - base_chosen) - (rejected - base_rejected))
    unique = list({p.prompt: p for p in pairs}.values())[:generate_prompts]
    texts = generate_plans(model=model, tokenizer=tokenizer, prompts=[p.prompt for p in unique])
    valid = sum(parse_plan(t, p.offered) is not None for t, p in zip(texts, unique, strict=True))
    return EvalMetrics(
        preference_accuracy=_accuracy(margins),
        reward_margin=round(float(margins.mean()), 4),
        likelihood_accuracy=_accuracy(chosen - rejected),
        valid_json_rate=round(valid / len(unique), 4),
        pairs=len(pairs),
        prompts=len(unique),
        accuracy_by_source={
            source: _accuracy(margins[[p.source == source for p in pairs]])
            for source in sorted({p.source for p in pairs})
        },
        plan_quality=quality.scores,
        gated_valid_rate=quality.valid_rate,
        fresh_questions=quality.questions,
        plan_scores=quality.per_question,
    )


def _accuracy(differences) -> float:
    return round(float(((differences > 0).float() + 0.5 * (differences == 0).float()).mean()), 4)


def completion_logps(model, tokenizer, prompts: list[str], completions: list[str], batch_size: int = 64):
    """Sum of log-probabilities of each completion (and the end token) after its prompt: a (n,) tensor."""
    import torch

    device = next(model.parameters()).device
    eos = [tokenizer.eos_token_id]
    rows = [
        (p, c + eos) for p, c in zip(tokenizer(prompts)["input_ids"], tokenizer(completions)["input_ids"], strict=True)
    ]
    out = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        width = max(len(p) + len(c) for p, c in batch)
        ids = torch.full((len(batch), width), tokenizer.pad_token_id)  # (batch, width), right-padded
        mask = torch.zeros_like(ids)
        scored = torch.zeros_like(ids, dtype=torch.bool)  # completion positions
        for i, (p, c) in enumerate(batch):
            ids[i, : len(p) + len(c)] = torch.tensor(p + c)
            mask[i, : len(p) + len(c)] = 1
            scored[i, len(p) : len(p) + len(c)] = True
        with torch.no_grad():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        logps = torch.log_softmax(logits[:, :-1], dim=-1)  # (batch, width - 1, vocab): predicts token t + 1
        token_logps = logps.gather(-1, ids[:, 1:].to(device).unsqueeze(-1)).squeeze(-1)
        out.append((token_logps * scored[:, 1:].to(device)).sum(-1).cpu())
    return torch.cat(out)


def beats(*, candidate: EvalMetrics, incumbent: EvalMetrics) -> tuple[bool, str]:
    """The gate: preference accuracy no lower, reward margin higher, and by no scorer plans worse beyond noise
    on the same fresh questions (``worse_beyond_noise``).

    The valid-JSON rate is reported, not weighed: served and gated plans are constrained, so an unconstrained
    slip says nothing about the plans operators would see.
    """
    checks = [
        (candidate.preference_accuracy >= incumbent.preference_accuracy, "preference accuracy"),
        (candidate.reward_margin > incumbent.reward_margin, "reward margin"),
    ] + [
        (not worse_beyond_noise(scores, incumbent.plan_scores[name]), f"plan quality ({name})")
        for name, scores in candidate.plan_scores.items()
        if name in incumbent.plan_scores  # both models planned the same questions for the same scorers
    ]
    failed = [name for ok, name in checks if not ok]
    versus = _vs(candidate, incumbent)
    if failed:
        return False, f"kept, not promoted: not better than the serving model on {', '.join(failed)} ({versus})"
    return True, f"promoted: better than the serving model ({versus})"


def _vs(candidate: EvalMetrics, incumbent: EvalMetrics) -> str:
    c, i = asdict(candidate), asdict(incumbent)
    figures = [f"{k} {c[k]} vs {i[k]}" for k in ("preference_accuracy", "reward_margin")]
    figures += [f"{name} {score} vs {i['plan_quality'].get(name)}" for name, score in c["plan_quality"].items()]
    return ", ".join([*figures, f"unconstrained valid JSON {c['valid_json_rate']} vs {i['valid_json_rate']}"])
