"""Tier 1 across hosts (``rl/tier1/shared.py``): one leader through an advisory lock, checkpoints in the database.

Each "host" is a service with its own coordination, store view and state folder, on one real PostgreSQL: what
two machines behind a load balancer share. The leader's death is its lock's connection ending (what a killed
process or a host off the network comes to); the deployment test kills real gunicorn hosts
(``tests/deployment/test_two_hosts.py``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from rl.experiences.pg_store import PostgresExperienceStore
from rl.experiences.postgres import close_pools, lock_is_held, lock_key, pool
from rl.tier1.scorer import Tier1Learner
from rl.tier1.service import ServiceConfig, Tier1Service
from rl.tier1.shared import LEADER_LOCK, SharedCoordination
from tests.rl.tier1.test_tier1 import _wait, experience, rich

CONFIG = ServiceConfig(poll_seconds=0.05, checkpoint_seconds=0.1)


@pytest.fixture
def url(scratch_database):
    url = scratch_database("tier1")
    yield url
    close_pools()


def _host(url: str, name: str, tmp_path) -> Tier1Service:
    store = PostgresExperienceStore(url)
    coordination = SharedCoordination(url, host=name)
    return Tier1Service(Tier1Learner(), store, tmp_path / name, CONFIG, coordination=coordination, host=name)


def _rated(store: PostgresExperienceStore, query_id: str, rating: str = "up") -> None:
    store.add(replace(experience(None), query_id=query_id))
    store.update_feedback(query_id, rich(rating))


def _terminate_lock_holder(url: str) -> None:
    """End the leader's lock session from outside, as PostgreSQL does when its process dies."""
    with pool(url).connection() as conn:
        conn.execute(
            """SELECT pg_terminate_backend(pid) FROM pg_locks
               WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND ((classid::bigint << 32) | objid::bigint) = %s""",
            (lock_key(LEADER_LOCK),),
        )


def test_one_leader_across_hosts_followers_reload_and_the_lead_moves_when_its_session_ends(url, tmp_path):
    a, b = _host(url, "host-a", tmp_path), _host(url, "host-b", tmp_path)
    a.start()
    _wait(lambda: a.is_leader)
    b.start()
    try:
        store = PostgresExperienceStore(url)
        _rated(store, "q1")
        _wait(lambda: a.learner.observed == 1)  # the leader tailed feedback given through another host's store
        _wait(lambda: b.learner.step == a.learner.step > 0)  # the follower loaded the checkpoint from the database
        assert not b.is_leader and lock_is_held(url, LEADER_LOCK)
        for service in (a, b):
            status = service.status()
            assert (status["leader_host"], status["coordination"]) == ("host-a", "postgresql")
            assert status["checkpoint"].startswith("tier1-")

        _terminate_lock_holder(url)  # either may win the next poll (a, reconnected, among them): exactly one does
        _wait(lambda: a.is_leader + b.is_leader == 1 and a.status()["leader_pid"] is not None)
        leader = "host-a" if a.is_leader else "host-b"
        _wait(lambda: a.status()["leader_host"] == b.status()["leader_host"] == leader)
        a.stop()  # a graceful hand-over: the other host leads next
        _wait(lambda: b.is_leader)
        assert b.status()["leader_host"] == "host-b"
    finally:
        a.stop()
        b.stop()
    assert not lock_is_held(url, LEADER_LOCK)  # a stopped leader hands the lock back


def test_a_new_leader_resumes_from_the_last_checkpoints_watermark(url, tmp_path):
    """Feedback that reached the store after the old leader's last save is learned by the next one."""
    store = PostgresExperienceStore(url)
    first = _host(url, "host-a", tmp_path)
    first.start()
    _wait(lambda: first.is_leader)
    _rated(store, "q1")
    _wait(lambda: first.learner.observed == 1 and first.coordination.newest() is not None)
    _wait(lambda: not first._dirty)
    saved = first.coordination.load_latest()
    assert saved.feedback_cursor == store.feedback_cursor()
    first._stop.set()  # a leader that stops saving: its thread ends without a last save...
    first._thread.join(5)
    # ...and feedback arrives while nobody leads (the old leader's final save below would not include it).
    _rated(store, "q2", "down")
    first.coordination.resign()

    second = _host(url, "host-b", tmp_path)
    second.start()
    try:
        _wait(lambda: second.is_leader)
        _wait(lambda: second._cursor == store.feedback_cursor())
        assert [query_id for query_id, _ in second._learned] == ["q2"]  # q1 was in the checkpoint already
        assert second.learner.step > saved.state["step"]
    finally:
        second.stop()


def test_a_corrupt_checkpoint_row_is_skipped_for_the_one_before(url, tmp_path):
    coordination = SharedCoordination(url, host="host-a")
    learner = Tier1Learner()
    learner.step = 3
    coordination.save(learner.state(), feedback_cursor=5)
    learner.step = 4
    coordination.save(learner.state(), feedback_cursor=9)
    with pool(url).connection() as conn:
        conn.execute(
            "UPDATE cc_tier1_checkpoints SET payload = overlay(payload placing 'X'::bytea from 200) "
            "WHERE id = (SELECT max(id) FROM cc_tier1_checkpoints)"
        )
    found = coordination.load_latest()
    assert (found.state["step"], found.feedback_cursor) == (3, 5)
    for step in range(5, 12):
        learner.step = step
        coordination.save(learner.state(), feedback_cursor=step)
    with pool(url).connection() as conn:
        assert conn.execute("SELECT count(*) FROM cc_tier1_checkpoints").fetchone()[0] == 5  # the newest few kept
    assert coordination.newest().name.startswith("tier1-0000000011-")
