"""Tier 1's exploration seeds: per process (pid and time, afresh after a fork), or the config's for determinism; each
answer's draw recorded with it, and a recorded draw replays the same widgets with the same propensities."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from layer2.orchestrator import Orchestrator
from layer2.planning.planner import candidates
from layer2.understanding.intent import parse_intent
from rl.experiences.buffer import ExperienceBuffer
from rl.experiences.records import Experience
from rl.tier1.scorer import Tier1Config, Tier1Learner, Tier1Ranker, replay

NOW = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)
QUESTIONS = ("show pump 1 vibration", "how are the chillers doing", "top 3 pumps by power", "any alerts on the ups")


@pytest.fixture
def status_offer(full_plant_vocabulary):
    parsed = parse_intent(transcript=QUESTIONS[0], vocabulary=full_plant_vocabulary, now=NOW)
    return parsed.intent, candidates(intent=parsed.intent, vocabulary=full_plant_vocabulary)


def drawn(experience: Experience) -> list[tuple]:
    """(type, size, metric, propensity) of each widget ``replay`` draws again from the experience's record."""
    return [(experience.candidates[i].widget_type, experience.candidates[i].size, experience.candidates[i].metric, p)
            for i, p in replay(experience.ranking)]  # fmt: skip


def shown(experience: Experience) -> list[tuple]:
    return [(w.widget_type, w.size, w.metric, w.propensity) for w in experience.widgets]


def test_a_recorded_draw_replays_the_same_widgets_and_propensities(db, serving):
    learner = Tier1Learner(Tier1Config(per_process_exploration=True))
    orchestrator = Orchestrator(serving.access, serving.buffer, ranker=Tier1Ranker(learner))
    ids = [orchestrator.answer(q, role="engineer").query_id for q in QUESTIONS * 5]

    recorded = [ExperienceBuffer(serving.buffer.path).get(i) for i in ids]  # read back from the journal's JSON
    assert [(e.ranking.seed, e.ranking.draw) for e in recorded] == [(learner.exploration_seed, n) for n in range(20)]
    assert all(e.widgets for e in recorded)
    for experience in recorded:
        assert drawn(experience) == shown(experience), experience.transcript
    # The seed is what decides: another seed draws other widgets for some of the same records.
    reseeded = [replace(e, ranking=replace(e.ranking, seed=e.ranking.seed + 1)) for e in recorded]
    assert any(drawn(e) != shown(e) for e in reseeded)


def test_an_explicit_seed_draws_alike_in_every_learner_and_per_process_seeds_differ(status_offer):
    intent, offered = status_offer

    def plans(learner: Tier1Learner) -> list[list[tuple]]:
        return [[(c.candidate, c.propensity) for c in learner.choose(intent.to_dict(), offered, 4)] for _ in range(12)]

    assert plans(Tier1Learner(Tier1Config(seed=4))) == plans(Tier1Learner(Tier1Config(seed=4)))
    assert Tier1Learner(Tier1Config(seed=4)).exploration_seed == 4
    first, second = (Tier1Learner(Tier1Config(seed=4, per_process_exploration=True)) for _ in range(2))
    assert first.exploration_seed != second.exploration_seed  # the time differs, though the pid does not
    assert plans(first) != plans(second)


def _in_child(learner: Tier1Learner) -> tuple[int, int]:
    """(exploration seed, draws) as a child forked now sees them (it runs no torch: only the seed's bookkeeping)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(write, json.dumps([learner.exploration_seed, learner.draws]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        seen = json.loads(pipe.read())
    os.waitpid(pid, 0)
    return tuple(seen)


@pytest.mark.parametrize("per_process", [True, False])
def test_a_learner_forked_after_it_was_seeded_takes_a_new_seed_in_the_child_unless_seeded_explicitly(
    status_offer, per_process
):
    intent, offered = status_offer
    learner = Tier1Learner(Tier1Config(seed=9, per_process_exploration=per_process))
    learner.choose(intent.to_dict(), offered, 4)
    parent = (learner.exploration_seed, learner.draws)
    assert parent[1] == 1
    child = _in_child(learner)
    if per_process:
        assert child[0] != parent[0] and child[1] == 0  # its own draws, from the first
    else:
        assert child == parent == (9, 1)  # the explicit seed wins: the child continues the parent's draws
    assert (learner.exploration_seed, learner.draws) == parent  # the parent is untouched


@pytest.mark.slow
def test_two_live_workers_explore_differently_and_each_answer_replays(gunicorn_server):
    """The same question to two gunicorn workers with untrained, identical scorers: with one seed they would draw
    the same widgets answer for answer; each has its own seed, shown in rl-status, and every answer replays."""
    server = gunicorn_server(workers=2, ENABLE_CONTINUOUS_RL="true")
    by_worker: dict[str, list[str]] = {}  # worker pid -> its answers' query ids, in order

    def enough() -> bool:
        return len(by_worker) == 2 and min(len(ids) for ids in by_worker.values()) >= 8

    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(4) as pool:
        while not enough():
            assert time.monotonic() < deadline, {worker: len(ids) for worker, ids in by_worker.items()}
            asked = pool.map(lambda _: server.request("POST", "/api/layer2/orchestrate/", {"transcript": QUESTIONS[0]}),
                             range(8))  # fmt: skip
            for status, body, worker in asked:
                assert status == 200, body
                by_worker.setdefault(worker, []).append(body["query_id"])
        reports = list(pool.map(lambda _: server.request("GET", "/api/layer2/rl-status/"), range(20)))
    shown_seed = {worker: body["tier1"]["exploration_seed"] for _, body, worker in reports}

    journal = ExperienceBuffer(server.state_dir / "experiences.jsonl")
    draws: dict[int, dict[int, list[tuple]]] = {}  # seed -> draw number -> the widgets shown
    for worker, ids in by_worker.items():
        experiences = [journal.get(i) for i in ids]
        [seed] = {e.ranking.seed for e in experiences}  # one seed a worker
        assert shown_seed.get(worker, seed) == seed  # the one its rl-status shows
        for experience in experiences:
            assert drawn(experience) == shown(experience)
        draws[seed] = {e.ranking.draw: shown(e) for e in experiences}
    assert len(draws) == 2, "the two workers explore with one seed"
    first, second = draws.values()
    common = sorted(set(first) & set(second))
    assert len(common) >= 8, (sorted(first), sorted(second))
    assert [first[n] for n in common] != [second[n] for n in common], "the two workers drew alike"
