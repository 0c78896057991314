"""Tier 1: a small low-rank scorer that re-ranks the planner's widget candidates and learns online.

**Model.** Two towers meet in a rank-8 dot product::

    score(q, w) = <Q(q), W(w)> + b(w) + α · rule_score + β
    Q: context features (47) -> 96 -> 8     W: widget features (18) -> 64 -> 8

about 7,000 parameters. It predicts the reward a widget will earn for an
intent asked by someone in a role (regression on rewards from
``rl/experiences/reward.py``). The context is the intent's one-hot description plus the
asker's role (operator, engineer, manager or unknown; the layout is ``rl/tier1/features.py``): the same question
deserves a gauge for one and a table for another. The towers start near
zero, α = 1 and β = −MIN_SCORE, so an untrained scorer chooses exactly what
the rules choose, whatever the role.

**Exploration: softmax (Boltzmann), not ε-greedy or Thompson.** Widgets are
drawn one at a time without replacement with probability ∝ exp(score / τ).
Every choice then has a known, smooth propensity (the off-policy estimates
and the Tier 2 gate need them), poor widgets are tried rarely rather than as
often as good ones (ε-greedy's uniform exploration), and it needs no
posterior (Thompson). τ anneals from ``temperature`` to ``min_temperature``
as updates accumulate.

**Seeding.** Each answer's draw has its own generator, seeded with
``(exploration seed, draw number)``, and the experience records both with the
temperature and every candidate's score and slot (``RankingDraw``), so
``replay`` draws the same widgets with the same propensities from the record
alone. The exploration seed is ``config.seed`` (benches and tests: the same
run twice draws the same), unless ``per_process_exploration``: then each
process takes its own from its pid and the time, and a process forked after
choosing one takes a new one at its first draw (the parent's would repeat its
draws), so no two gunicorn workers explore alike. That flag wins over
``seed`` for exploration; the weights always start from ``seed``. The seed is
logged when chosen and shown in ``rl-status``.

**Learning.** Each feedback gives one example per shown widget (and one per
missing widget the judge asked for); ``learn`` takes an Adam step on them at
once, so a rating re-ranks the next answer. Implicit signals (how the asker
used an answer) give weak examples: each weighs ``WidgetReward.weight`` in the
squared error where a feedback example weighs 1, and their steps do not anneal
exploration, which follows feedback. *Relative* examples (viewing time: which
of an answer's widgets served better, not how good the answer was) are
anchored when learned (``anchored``): each target is the answer's mean
predicted reward then plus the example's deviation from the answer's mean
reward, so they order the answer's widgets and leave their level where it was. The step size anneals with
feedback like τ (``learning_rate`` to ``min_learning_rate``): one judge score
is noisy, so later ratings are averaged over many rather than each moving the
scorer as far as the first. A background thread (``rl/tier1/service.py``) also
replays the buffer. Rewards that arrive late for old experiences are learned
the same way.

**Checkpoints** hold config, feature layout, step and weights, written to a temporary file,
fsynced and renamed, with a SHA-256 of the payload in the header; a file that
fails its digest or does not load is skipped for the newest good one.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from layer2.planning.planner import MIN_SCORE, Candidate, Choice, plan_length
from rl.experiences.atomic_file import atomic_file
from rl.experiences.records import CandidateRecord, RankingDraw
from rl.experiences.reward import WidgetReward
from rl.tier1.features import INTENT_FEATURES, WIDGET_FEATURES, intent_features, widget_features

logger = logging.getLogger(__name__)
LOSSES_KEPT = 4000  # the newest updates' losses: loss_trend, and the learning view's loss_history
SCORE_DIGITS = 6  # decimals of the scores an exploring draw uses and records (RankingDraw)


@dataclass(frozen=True)
class Tier1Config:
    rank: int = field(default=8, metadata={"help": "Width of the dot product between the towers."})
    intent_hidden: int = field(default=96, metadata={"help": "Hidden units of the intent tower."})
    widget_hidden: int = field(default=64, metadata={"help": "Hidden units of the widget tower."})
    learning_rate: float = field(
        default=0.005, metadata={"help": "Adam's step size at the start: a few ratings already re-rank."}
    )
    min_learning_rate: float = field(
        default=0.001,
        metadata={"help": "Floor the learning rate anneals to (with τ): later steps average a noisy judge's ratings."},
    )
    temperature: float = field(
        default=0.15, metadata={"help": "Softmax temperature τ at the start (scores are rewards, about −1..1)."}
    )
    min_temperature: float = field(default=0.03, metadata={"help": "Floor the temperature anneals to."})
    anneal_feedback: int = field(
        default=100,
        metadata={"help": "Feedback received over which τ and the learning rate fall to 1/√2 of their start."},
    )
    seed: int = field(
        default=0, metadata={"help": "Seed of the initial weights, and of exploration unless per_process_exploration."}
    )
    per_process_exploration: bool = field(
        default=False,
        metadata={
            "help": "Seed exploration in each process from its pid and the time (afresh after a fork), not from "
            "seed: serving workers do (start_service), so that no two explore alike."
        },
    )

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"rank must be at least 1, got {self.rank!r}")
        if not 0 < self.min_temperature <= self.temperature:
            raise ValueError(
                f"min_temperature must be more than 0 and at most temperature ({self.temperature!r}), "
                f"got {self.min_temperature!r}"
            )
        if not 0 < self.min_learning_rate <= self.learning_rate:
            raise ValueError(
                f"min_learning_rate must be more than 0 and at most learning_rate ({self.learning_rate!r}), "
                f"got {self.min_learning_rate!r}"
            )


# --------------------------------------------------------------------------- model


class Tier1Scorer(nn.Module):
    def __init__(self, config: Tier1Config):
        super().__init__()
        self.intent_tower = nn.Sequential(
            nn.Linear(INTENT_FEATURES, config.intent_hidden), nn.Tanh(), nn.Linear(config.intent_hidden, config.rank)
        )
        self.widget_tower = nn.Sequential(
            nn.Linear(WIDGET_FEATURES, config.widget_hidden), nn.Tanh(), nn.Linear(config.widget_hidden, config.rank)
        )
        self.widget_bias = nn.Linear(WIDGET_FEATURES, 1, bias=False)
        self.rule_weight = nn.Parameter(torch.tensor(1.0))
        # Untrained, a candidate's predicted reward is rule_score − MIN_SCORE: positive exactly for those
        # the rules would show, so the stop action ends the plan where the rules end it.
        self.offset = nn.Parameter(torch.tensor(-MIN_SCORE))
        for tower in (self.intent_tower, self.widget_tower):
            nn.init.normal_(tower[2].weight, std=0.01)  # start near the rule ranking
            nn.init.zeros_(tower[2].bias)
        nn.init.zeros_(self.widget_bias.weight)

    def forward(self, intents: torch.Tensor, widgets: torch.Tensor) -> torch.Tensor:
        # intents (batch, INTENT_FEATURES), widgets (batch, WIDGET_FEATURES) -> (batch,) predicted reward
        interaction = (self.intent_tower(intents) * self.widget_tower(widgets)).sum(-1)  # (batch,)
        rule = widgets[:, -2]  # (batch,)
        return interaction + self.widget_bias(widgets).squeeze(-1) + self.rule_weight * rule + self.offset


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- learner


class Tier1Learner:
    """The scorer, its optimizer and its statistics; thread-safe (one lock around every use)."""

    def __init__(self, config: Tier1Config = Tier1Config()):
        self.config = config
        torch.manual_seed(config.seed)
        self.model = Tier1Scorer(config)
        # The fused kernel does the whole step in one call: 0.36 ms an update instead of 0.54 on a tiny model.
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate, fused=True)
        self.step = 0  # optimizer steps, replay included
        self.observed = 0  # feedback learned from: exploration anneals with this, not with replay
        self.losses: deque[float] = deque(maxlen=LOSSES_KEPT)  # one an update, newest last
        self._lock = threading.Lock()
        self._seed_exploration()

    # -- scoring and choosing ----------------------------------------------------

    @property
    def temperature(self) -> float:
        c = self.config
        return max(c.min_temperature, c.temperature * self._annealing())

    @property
    def learning_rate(self) -> float:
        c = self.config
        return max(c.min_learning_rate, c.learning_rate * self._annealing())

    def _annealing(self) -> float:
        return 1 / math.sqrt(1 + self.observed / self.config.anneal_feedback)

    def scores(
        self, intent: dict, candidates: Sequence[Candidate | CandidateRecord], role: str | None = None
    ) -> np.ndarray:
        """(len(candidates),) predicted rewards for someone in ``role`` asking ``intent``."""
        q = torch.from_numpy(intent_features(intent, role)).expand(len(candidates), -1)  # (n, INTENT_FEATURES)
        w = torch.from_numpy(np.stack([_candidate_features(intent, c) for c in candidates]))  # (n, WIDGET_FEATURES)
        with self._lock, torch.no_grad():
            return self.model(q, w).numpy()

    def preferred(self, intent: dict, offered: Sequence[CandidateRecord], role: str | None = None) -> CandidateRecord:
        """Of ``offered`` (one widget's sizes, as recorded), the one predicted to earn the most for ``role``."""
        return offered[int(np.argmax(self.scores(intent, offered, role)))]

    def choose(
        self, intent: dict, candidates: list[Candidate], k: int, explore: bool = True, role: str | None = None
    ) -> list[Choice]:
        """Draw up to ``k`` slots (one size each) by softmax without replacement; each with its propensity.

        After the first widget every draw also offers *stop*, valued at 0: a
        widget expected to earn a negative reward is better left out, so the
        plan is as long as it is useful, not always ``k`` long. Exploring,
        every choice carries the draw's record (``RankingDraw``: ``replay``
        draws it again); not exploring, the greedy choice, with propensity 1.
        """
        if not candidates or k <= 0:
            return []
        scores = self.scores(intent, candidates, role)  # (n,)
        slots = _slot_numbers(candidates)
        k = min(k, max(slots) + 1)
        if not explore:
            return [Choice(candidates[i], 1.0, float(scores[i])) for i, _ in _draw(scores, slots, 1.0, k, None)]
        seed, number = self._next_draw()
        # Drawn from the scores as recorded, to the micro-reward: the record stays short, and replays exactly.
        draw = RankingDraw(seed, number, self.temperature, k, [round(x, SCORE_DIGITS) for x in scores.tolist()], slots)
        return [Choice(candidates[i], p, float(scores[i]), draw) for i, p in replay(draw)]

    @property
    def exploration_seed(self) -> int:
        """The seed of this process's draws (see the module docstring)."""
        with self._lock:
            self._reseed_if_forked()
            return self._exploration_seed

    @property
    def draws(self) -> int:
        """Exploring choices drawn in this process with ``exploration_seed`` so far."""
        with self._lock:
            self._reseed_if_forked()
            return self._draws

    def _next_draw(self) -> tuple[int, int]:
        """(exploration seed, draw number) of the next exploring choice in this process."""
        with self._lock:
            self._reseed_if_forked()
            number = self._draws
            self._draws += 1
            return self._exploration_seed, number

    def _reseed_if_forked(self) -> None:
        # A child forked after the seed was chosen would draw its parent's numbers: checked at each draw, so no
        # fork hook is needed however the learner reached the child (a preloaded app, a test's fork).
        if self.config.per_process_exploration and os.getpid() != self._seeded_in:
            self._seed_exploration()

    def _seed_exploration(self) -> None:
        pid = os.getpid()
        seed = self.config.seed
        if self.config.per_process_exploration:
            state = np.random.SeedSequence([pid, time.time_ns()]).generate_state(1, np.uint64)[0]
            seed = int(state >> np.uint64(11))  # 53 bits: exact as a JSON number in any client
        self._exploration_seed, self._seeded_in, self._draws = seed, pid, 0
        # A chosen seed is logged, so that a run can be replayed; the config's is in the config already.
        logger.log(logging.INFO if self.config.per_process_exploration else logging.DEBUG,
                   "tier1: exploration seed %d in process %d", seed, pid)  # fmt: skip

    # -- learning --------------------------------------------------------------

    def learn(
        self,
        intent: dict,
        examples: list[WidgetReward],
        repeats: int = 1,
        role: str | None = None,
        *,
        feedback: bool = True,
    ) -> float | None:
        """Learn one experience's feedback: an Adam step (``repeats``) towards its rewards; returns the loss.

        ``feedback`` False (implicit signals' weak examples): the step does not count towards annealing.
        """
        loss = self.learn_many([(intent, role, examples)], repeats)
        if loss is not None and feedback:
            self.observed += 1
        return loss

    def learn_many(self, batch: list[tuple[dict, str | None, list[WidgetReward]]], repeats: int = 1) -> float | None:
        """One Adam step on the examples of several experiences, each (intent, role, examples), at once (replay).

        Relative examples not yet anchored are anchored now (``anchored``)."""
        batch = [(intent, role, self.anchored(intent, examples, role)) for intent, role, examples in batch]
        rows = [(intent, role, e) for intent, role, examples in batch for e in examples]
        if not rows:
            return None
        q = torch.from_numpy(np.stack([intent_features(intent, role) for intent, role, _ in rows]))
        w = torch.from_numpy(np.stack([_example_features(intent, e) for intent, _, e in rows]))
        target = torch.tensor([e.reward for _, _, e in rows], dtype=torch.float32)
        weights = [e.weight for _, _, e in rows]
        weight = None if all(x == 1.0 for x in weights) else torch.tensor(weights, dtype=torch.float32)
        return self.learn_batch(q, w, target, repeats, weight)

    def anchored(self, intent: dict, examples: list[WidgetReward], role: str | None = None) -> list[WidgetReward]:
        """``examples`` with the relative ones made absolute: the mean predicted reward of the relative ones now,
        plus each one's deviation from their mean reward (see the module docstring). The others as they are."""
        relative = [e for e in examples if e.relative]
        if not relative:
            return examples
        q = torch.from_numpy(intent_features(intent, role)).expand(len(relative), -1)  # (n, INTENT_FEATURES)
        w = torch.from_numpy(np.stack([_example_features(intent, e) for e in relative]))  # (n, WIDGET_FEATURES)
        with self._lock, torch.no_grad():
            level = float(self.model(q, w).mean())
        mean = sum(e.reward for e in relative) / len(relative)
        return [replace(e, reward=level + e.reward - mean, relative=False) if e.relative else e for e in examples]

    def learn_batch(
        self,
        q: torch.Tensor,
        w: torch.Tensor,
        target: torch.Tensor,
        repeats: int = 1,
        weight: torch.Tensor | None = None,
    ) -> float:
        """Adam steps on a batch: (batch, INTENT_FEATURES), (batch, WIDGET_FEATURES), (batch,) targets and weights
        (None: every row weighs 1)."""
        with self._lock:
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate
            for _ in range(repeats):
                prediction = self.model(q, w)  # (batch,)
                if weight is None:
                    loss = nn.functional.mse_loss(prediction, target)
                else:
                    loss = (weight * (prediction - target) ** 2).mean()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.step += 1
            value = float(loss.detach())
            self.losses.append(value)
            return value

    def loss_trend(self) -> dict[str, float | None]:
        """Mean loss of the newest and the previous 100 updates (falling is learning)."""
        losses = list(self.losses)
        recent, before = losses[-100:], losses[-200:-100]
        return {
            "recent_mean": float(np.mean(recent)) if recent else None,
            "previous_mean": float(np.mean(before)) if before else None,
        }

    def loss_history(self, every: int = 20) -> list[tuple[int, float]]:
        """(step, mean loss) of each ``every`` updates kept, oldest first: at most ``LOSSES_KEPT / every`` points.

        Points are aligned on step numbers (one step an update), so a point stays put as newer losses arrive; the
        newest may average fewer than ``every`` and the oldest, cut by ``LOSSES_KEPT``, too.
        """
        with self._lock:
            losses, step = list(self.losses), self.step
        first = step - len(losses) + 1  # the step of losses[0]
        groups: dict[int, list[float]] = {}
        for i, loss in enumerate(losses):
            groups.setdefault((first + i - 1) // every, []).append(loss)
        return [(min((group + 1) * every, step), float(np.mean(values))) for group, values in groups.items()]

    # -- persistence -------------------------------------------------------------

    def state(self) -> dict:
        with self._lock:
            return {
                "config": asdict(self.config),
                "features": [INTENT_FEATURES, WIDGET_FEATURES],
                "step": self.step,
                "observed": self.observed,
                "model": {k: v.clone() for k, v in self.model.state_dict().items()},
                "losses": list(self.losses),
            }

    def load_state(self, state: dict) -> None:
        if _fitting(state["config"]) != _fitting(asdict(self.config)):
            raise ValueError(f"checkpoint config {state['config']} differs from {asdict(self.config)}")
        if state.get("features") != [INTENT_FEATURES, WIDGET_FEATURES]:  # absent before the role was a feature
            raise ValueError(
                f"checkpoint features {state.get('features')} differ from {INTENT_FEATURES, WIDGET_FEATURES}"
            )
        with self._lock:
            self.model.load_state_dict(state["model"])
            self.step = int(state["step"])
            self.observed = int(state["observed"])
            self.losses = deque(state["losses"], maxlen=LOSSES_KEPT)


def _fitting(config: dict) -> dict:
    """A config without what only decides the draws and where training started: weights trained under any seed
    fit a learner of another (a serving worker's per-process exploration loads the checkpoints saved before it)."""
    return {k: v for k, v in config.items() if k not in ("seed", "per_process_exploration")}


def _slot_numbers(candidates: list[Candidate]) -> list[int]:
    """Per candidate, the number of its slot (the first slot met is 0): the sizes of one slot share a number."""
    numbers: dict[tuple, int] = {}
    return [numbers.setdefault(c.slot, len(numbers)) for c in candidates]


def _draw(
    scores: np.ndarray, slots: list[int], temperature: float, k: int, rng: np.random.Generator | None
) -> list[tuple[int, float]]:
    """(candidate index, its probability when drawn) of each widget drawn, in order (see ``Tier1Learner.choose``).

    ``scores`` (n,) and ``slots`` (n,) per candidate; ``rng`` None: the greedy choice, each with probability 1.
    """
    available = np.ones(len(scores), dtype=bool)  # (n,)
    slot_of = np.asarray(slots)  # (n,)
    chosen: list[tuple[int, float]] = []
    for _ in range(k):
        logits = np.where(available, scores / temperature, -np.inf)
        if chosen:
            logits = np.append(logits, 0.0)  # stop: showing nothing more earns 0, so its logit is 0
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        pick = int(np.argmax(logits)) if rng is None else int(rng.choice(len(logits), p=probabilities))
        if pick == len(scores):
            break
        chosen.append((pick, 1.0 if rng is None else float(probabilities[pick])))
        available &= slot_of != slot_of[pick]
    return chosen


def replay(draw: RankingDraw) -> list[tuple[int, float]]:
    """(candidate index, propensity) of each widget an exploring ``choose`` drew, drawn again from its record.

    The same generator ``(seed, draw)`` over the same recorded scores: the same widgets, the same propensities.
    """
    rng = np.random.default_rng([draw.seed, draw.draw])
    return _draw(np.asarray(draw.scores), draw.slots, draw.temperature, draw.k, rng)


def _candidate_features(intent: dict, c: Candidate | CandidateRecord) -> np.ndarray:
    return widget_features(c.widget_type, c.size, c.rule_score, c.metric in (intent.get("metrics") or []))


def _example_features(intent: dict, e: WidgetReward) -> np.ndarray:
    return widget_features(e.widget_type, e.size, e.rule_score, e.metric in (intent.get("metrics") or []))


class Tier1Ranker:
    """The planner's ``Ranker`` backed by a learner: at most as many widgets as the rules, learned choice."""

    name = "tier1"

    def __init__(self, learner: Tier1Learner, explore: bool = True):
        self.learner = learner
        self.explore = explore

    def choose(self, intent, candidates: list[Candidate], max_widgets: int, role: str | None = None) -> list[Choice]:
        k = plan_length(candidates, max_widgets)
        return self.learner.choose(intent.to_dict(), candidates, k, self.explore, role)


# --------------------------------------------------------------------------- checkpoints

_MAGIC = b"CCT1"


class CheckpointStore:
    """Numbered checkpoints in a folder; writes are atomic, reads verify a digest and skip bad files."""

    def __init__(self, directory: Path, keep: int = 5):
        self.directory = Path(directory)
        self.keep = keep
        self.directory.mkdir(parents=True, exist_ok=True)

    def save(self, state: dict) -> Path:
        path = self.directory / f"tier1-{state['step']:010d}.pt"
        with atomic_file(path) as f:
            f.write(pack_checkpoint(state))
        for old in self.paths()[self.keep :]:
            old.unlink(missing_ok=True)
        return path

    def paths(self) -> list[Path]:
        """Checkpoint files, newest first."""
        return sorted(self.directory.glob("tier1-*.pt"), reverse=True)

    def load_latest(self) -> tuple[dict, Path] | None:
        """The newest checkpoint that verifies and loads, or None."""
        for path in self.paths():
            try:
                return self.load(path), path
            except (OSError, ValueError, RuntimeError, EOFError) as error:
                logger.warning("tier1: skipping bad checkpoint %s (%s)", path.name, error)
        return None

    @staticmethod
    def load(path: Path) -> dict:
        return unpack_checkpoint(path.read_bytes())


def pack_checkpoint(state: dict) -> bytes:
    """A learner's state as checkpoint bytes: a magic number, the payload's sha256, the payload (``torch.save``)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    return _MAGIC + hashlib.sha256(payload).digest() + payload


def unpack_checkpoint(data: bytes) -> dict:
    """The state in checkpoint bytes, once their digest verifies (tensors and plain types only)."""
    header, digest, payload = data[:4], data[4:36], data[36:]
    if header != _MAGIC or hashlib.sha256(payload).digest() != digest:
        raise ValueError("digest mismatch: the checkpoint is corrupt or truncated")
    return torch.load(io.BytesIO(payload), weights_only=True)
