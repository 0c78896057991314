"""Continuous Tier 1 learning across gunicorn workers.

With ``ENABLE_CONTINUOUS_RL=true`` each worker starts one :class:`Tier1Service`
after fork (gunicorn's ``post_fork`` hook calls :func:`start_service`; nothing
starts at import). Every worker ranks with its own copy of the scorer.

* **Learning at once.** Feedback a worker receives is learned by that
  worker's scorer immediately (``feedback_received``), so its next answer
  is already re-ranked.
* **One trainer.** Workers compete for a lock; the holder is the leader.
  It tails the shared journal for feedback from every worker (including
  rewards that arrive late for old experiences), learns each, replays a
  reservoir of past examples between them, and saves a checkpoint every few
  seconds. A leader that dies releases the lock with its process, and another
  worker takes over within a second or two. On one host the lock is a file
  and the checkpoints are files; with ``EXPERIENCE_STORE_URL`` both live in the
  shared PostgreSQL and one worker leads across every host
  (``rl/tier1/coordination.py``, ``rl/tier1/shared.py``).
* **Implicit signals** (how the asker used an answer: viewing times, a
  rephrase), with ``implicit_weight`` above 0, are learned by the leader as
  weak rewards (``rl/experiences/reward.signal_rewards``): it tails the
  journal's signals records and learns each answer's once, when no newer
  record has come for ``signals_settle_seconds`` (the console reports totals
  so far, and a rephrase note may follow): one weak step, never replayed
  (the reservoir is feedback's: every answer has signals, and weak examples
  crowding it out cost more than they taught, ``docs/benchmarks.md``). An
  answer not settled when a leader stops is not learned. At weight 0 nothing
  of this runs.
* **Followers** reload the newest good checkpoint whenever one appears.
* **Exploration** is seeded per worker (``Tier1Config.per_process_exploration``,
  from the pid and the time, logged at start and shown in ``status``), so
  two workers answering side by side do not draw the same widgets; each
  answer records its draw, which ``rl/tier1/scorer.replay`` repeats.
* **Examples** (``examples``): a missing widget is credited at the size the
  scorer now predicts the asker's role prefers, not the rules' size.
* **Shutdown** (``stop_service``, from gunicorn's ``worker_exit``) stops the
  thread, saves a last checkpoint if leading and releases the lock.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rl.experiences.buffer import ExperienceBuffer, ExperienceNotFound
from rl.experiences.records import Experience
from rl.experiences.reward import WidgetReward, signal_rewards, widget_rewards
from rl.tier1.coordination import Coordination, FileCoordination

if TYPE_CHECKING:  # torch is imported by the service, not by every module that reports feedback
    from rl.tier1.scorer import Tier1Learner

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceConfig:
    poll_seconds: float = field(
        default=0.5, metadata={"help": "How often the thread looks for new feedback, checkpoints or the lock."}
    )
    checkpoint_seconds: float = field(
        default=5.0, metadata={"help": "The leader saves at most this often (and only after learning)."}
    )
    replay_per_poll: int = field(default=4, metadata={"help": "Replayed minibatches between polls."})
    replay_batch: int = field(default=8, metadata={"help": "Past experiences per replayed step."})
    reservoir: int = field(default=5000, metadata={"help": "Past examples kept for replay."})
    implicit_weight: float = field(
        default=0.0,
        metadata={
            "help": "Weight of implicit signals' weak rewards in the loss, where feedback weighs 1 "
            "(TIER1_IMPLICIT_WEIGHT); 0: signals are not learned."
        },
    )
    signals_settle_seconds: float = field(
        default=120.0,
        metadata={
            "help": "An answer's signals are learned once no newer signal for it has come for this long: at "
            "least the rephrase window (REPHRASE_WINDOW_SECONDS), so a rephrase is in before it is learned."
        },
    )

    def __post_init__(self) -> None:
        for name in ("poll_seconds", "checkpoint_seconds"):
            if not getattr(self, name) > 0:  # also refuses NaN
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0 <= self.implicit_weight <= 1:  # also refuses NaN
            raise ValueError(
                f"implicit_weight must be between 0 and 1 (feedback weighs 1), got {self.implicit_weight!r}"
            )
        if not (self.signals_settle_seconds >= 0 and math.isfinite(self.signals_settle_seconds)):
            raise ValueError(f"signals_settle_seconds must be 0 or more, got {self.signals_settle_seconds!r}")


class Tier1Service:
    def __init__(
        self,
        learner: Tier1Learner,
        buffer: ExperienceBuffer,
        state_dir: Path,
        config: ServiceConfig | None = None,
        *,
        coordination: Coordination | None = None,
        host: str = "",
    ):
        config = config or ServiceConfig()
        self.learner = learner
        self.buffer = buffer
        self.config = config
        self.coordination = coordination or FileCoordination(Path(state_dir) / "tier1")
        self.host = host
        self.is_leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursor = 0  # feedback events of the journal already learned (leader)
        self._reservoir: deque = deque(maxlen=config.reservoir)
        self._sampler = random.Random(learner.config.seed)  # replay draws repeat with the learner's seed
        self._learned: OrderedDict[tuple, None] = OrderedDict()  # (query id, feedback time) already learned
        self._signals_cursor = 0  # signals records of the journal already seen (leader)
        self._signals_pending: OrderedDict[str, float] = OrderedDict()  # query id -> when its newest signal was seen
        self._signals_learned: OrderedDict[str, None] = OrderedDict()  # answers whose signals were learned
        self._loaded_checkpoint: str | None = None
        self._last_save = 0.0
        self._dirty = False

    # -- the feedback path -----------------------------------------------------

    def observe(self, experience: Experience) -> float | None:
        """Learn from one experience's feedback now, once; returns the loss (None if nothing new)."""
        key = (experience.query_id, experience.feedback.received_at if experience.feedback else None)
        if key in self._learned:
            return None  # the leader meets, in the journal, feedback its own requests already taught it
        self._learned[key] = None
        if len(self._learned) > self.config.reservoir * 4:
            self._learned.popitem(last=False)
        examples = self.examples(experience)
        if not examples:
            return None
        self._reservoir.append((experience.intent, experience.user_role, examples))
        self._dirty = True
        return self.learner.learn(experience.intent, examples, role=experience.user_role)

    def examples(self, experience: Experience) -> list[WidgetReward]:
        """The experience's feedback as examples, each missing widget at the size the scorer predicts the asker's
        role prefers: learned from size verdicts, where the rules' size would be right only for roles like theirs."""

        def preferred(offered):
            return self.learner.preferred(experience.intent, offered, experience.user_role)

        return widget_rewards(experience, missing_size=preferred)

    # -- the implicit signals path -----------------------------------------------

    def observe_signals(self, experience: Experience) -> float | None:
        """Learn an answer's implicit signals as weak rewards, once, in one step (not replayed); returns the loss
        (None: nothing learned)."""
        if experience.query_id in self._signals_learned:
            return None
        examples = signal_rewards(experience, weight=self.config.implicit_weight)
        if not examples:
            return None
        self._signals_learned[experience.query_id] = None
        if len(self._signals_learned) > self.config.reservoir * 4:
            self._signals_learned.popitem(last=False)
        self._dirty = True
        return self.learner.learn(experience.intent, examples, role=experience.user_role, feedback=False)

    def learn_new_signals(self, now: float | None = None) -> int:
        """Learn the signals of answers that have settled (see the module docstring); returns how many were learned.

        ``now`` is ``time.monotonic()``'s (the bench passes its own clock). At weight 0 it reads nothing.
        """
        if self.config.implicit_weight <= 0:
            return 0
        now = time.monotonic() if now is None else now
        query_ids, self._signals_cursor = self.buffer.signals_since(self._signals_cursor)
        pending = self._signals_pending
        for query_id in query_ids:
            pending[query_id] = now
            pending.move_to_end(query_id)
        while len(pending) > self.config.reservoir * 4:
            pending.popitem(last=False)
        learned = 0
        while pending:
            query_id, seen = next(iter(pending.items()))
            if now - seen < self.config.signals_settle_seconds:
                break  # the rest were seen later still
            del pending[query_id]
            try:
                learned += self.observe_signals(self.buffer.get(query_id)) is not None
            except ExperienceNotFound:
                continue  # evicted since: nothing to learn
        return learned

    # -- the background thread -------------------------------------------------

    def start(self) -> None:
        self._restore()
        self._thread = threading.Thread(target=self._run, name="tier1-trainer", daemon=True)
        self._thread.start()
        logger.info(
            "tier1 service started in process %d, exploration seed %d", os.getpid(), self.learner.exploration_seed
        )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        logger.info("tier1 service stopped in process %d", os.getpid())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the trainer must outlive a bad record or a full disk; it says why
                logger.exception("tier1: training step failed")
            self._stop.wait(self.config.poll_seconds)
        if self.is_leader:  # hand over: the lock is released by the thread that holds it (filelock is per thread)
            self._save(force=True)
            self.coordination.resign()
            self.is_leader = False

    def _tick(self) -> None:
        if self.is_leader and not self.coordination.still_leading():
            logger.warning("tier1: process %d lost the lead (its lock's connection dropped)", os.getpid())
            self.is_leader = False
        if not self.is_leader:
            self._try_lead()
        if self.is_leader:
            # Replay while learning is unsaved: after new feedback, until the next checkpoint; idle otherwise.
            if self.learn_new_feedback() + self.learn_new_signals() or self._dirty:
                self._replay()
            self._save()
        else:
            self._reload()

    def _try_lead(self) -> None:
        if not self.coordination.try_lead():
            return
        resume = self._restore()  # start from the newest weights the last leader saved
        self._cursor = self.buffer.feedback_cursor() if resume is None else resume
        for experience in self.buffer.list(has_feedback=True, limit=self.config.reservoir, newest_first=True):
            self._reservoir.appendleft((experience.intent, experience.user_role, self.examples(experience)))
        if self.config.implicit_weight > 0:  # signals before this are not learned again: whoever led then did
            self._signals_cursor = self.buffer.signals_cursor()
        self.coordination.record_leader(host=self.host, pid=os.getpid())
        self.is_leader = True
        logger.info(
            "tier1: process %d on %s is now the trainer, feedback from %s",
            os.getpid(),
            self.host or "this host",
            f"row {resume} on (the last checkpoint's)" if resume is not None else "now on",
        )

    def learn_new_feedback(self) -> int:
        """Learn the feedback appended to the journal since the last look; returns how many were new."""
        query_ids, self._cursor = self.buffer.feedback_since(self._cursor)
        learned = 0
        for query_id in dict.fromkeys(query_ids):
            try:
                learned += self.observe(self.buffer.get(query_id)) is not None
            except ExperienceNotFound:
                continue  # evicted since: nothing to learn
        return learned

    def replay(self, batches: int = 1) -> None:
        """Adam steps on random past experiences (each step: ``replay_batch`` of them at once)."""
        if len(self._reservoir) < self.config.replay_batch:
            return
        for _ in range(batches):
            self.learner.learn_many(self._sampler.sample(self._reservoir, self.config.replay_batch))
        self._dirty = True

    def _replay(self) -> None:
        self.replay(self.config.replay_per_poll)

    def _save(self, force: bool = False) -> None:
        due = time.monotonic() - self._last_save >= self.config.checkpoint_seconds
        if self._dirty and (due or force):
            saved = self.coordination.save(self.learner.state(), feedback_cursor=self._cursor)
            self._loaded_checkpoint = saved.name
            self._last_save = time.monotonic()
            self._dirty = False

    def _reload(self) -> None:
        newest = self.coordination.newest()
        if newest is not None and newest.name != self._loaded_checkpoint:
            self._restore()

    def _restore(self) -> int | None:
        """Load the newest good checkpoint; returns the feedback cursor it learned up to (None: unknown)."""
        found = self.coordination.load_latest()
        if found is None:
            return None
        self._loaded_checkpoint = found.name  # tried once: a follower does not retry a misfit every poll
        try:
            self.learner.load_state(found.state)
        except ValueError as error:  # another config or feature layout (an upgrade): relearn from the journal
            logger.warning("tier1: checkpoint %s does not fit this scorer (%s); not loaded", found.name, error)
            return None
        return found.feedback_cursor

    # -- reporting -------------------------------------------------------------

    def status(self) -> dict:
        from rl.tier1.scorer import parameter_count

        leader = self.coordination.leader()
        newest = self.coordination.newest()
        return {
            "available": True,
            "process": os.getpid(),
            "host": self.host,
            "coordination": self.coordination.where,
            "is_leader": self.is_leader,
            "leader_host": leader.get("host"),
            "leader_pid": leader.get("pid"),
            "steps": self.learner.step,
            "loss": self.learner.loss_trend(),
            "temperature": round(self.learner.temperature, 4),
            "exploration_seed": self.learner.exploration_seed,
            "draws": self.learner.draws,
            "parameters": parameter_count(self.learner.model),
            "checkpoint": newest.name if newest else None,
            "checkpoint_age_s": round(time.time() - newest.saved_at, 1) if newest else None,
        }


# --------------------------------------------------------------------------- the process's service

_service: Tier1Service | None = None


def current_service() -> Tier1Service | None:
    return _service


def install(service: Tier1Service | None) -> None:
    """Make ``service`` the process's (the bench and tests install one without a thread)."""
    global _service
    _service = service


def start_service() -> Tier1Service | None:
    """Start this process's service if continuous RL is enabled; idempotent. Call after fork."""
    from django.conf import settings

    from rl.experiences.buffer import get_experience_buffer
    from rl.experiences.postgres import shared_store_url

    global _service
    if not settings.ENABLE_CONTINUOUS_RL or _service is not None:
        return _service
    import torch

    from rl.tier1.scorer import Tier1Config, Tier1Learner

    torch.set_num_threads(1)  # several workers share the cores; a tiny model gains nothing from more
    config = ServiceConfig(
        implicit_weight=settings.TIER1_IMPLICIT_WEIGHT,
        signals_settle_seconds=max(ServiceConfig.signals_settle_seconds, settings.REPHRASE_WINDOW_SECONDS),
    )
    learner = Tier1Learner(Tier1Config(per_process_exploration=True))  # each worker its own draws
    coordination = None  # one host: files under the state folder
    url = shared_store_url()
    if url:
        from rl.tier1.shared import SharedCoordination

        coordination = SharedCoordination(url, host=settings.CC_HOST_ID)
    _service = Tier1Service(
        learner,
        get_experience_buffer(),
        settings.STATE_DIR,
        config,
        coordination=coordination,
        host=settings.CC_HOST_ID,
    )
    _service.start()
    return _service


def stop_service() -> None:
    global _service
    if _service is not None:
        _service.stop()
        _service = None


def feedback_received(experience: Experience) -> None:
    """The feedback endpoint's hook: the local scorer learns from the new feedback at once."""
    if _service is not None:
        _service.observe(experience)
