"""Two hosts behind one PostgreSQL, as docs/deployment.md deploys them ("Several hosts").

Two real gunicorn instances with separate state folders, each with its own ``CC_HOST_ID``, sharing Django's
database (``DATABASE_URL``) and the experience store (``EXPERIENCE_STORE_URL``) on the test server, with Tier 1
on. A client may reach either host: the load balancer is the test choosing one per request. "Killing a host"
is ``kill -9`` of its whole gunicorn (master and workers), what a machine losing power comes to for the rest.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from command_center.local_server import LocalServer, start_local_server
from rl.experiences.postgres import close_pools, lock_key
from rl.tier1.shared import LEADER_LOCK

pytestmark = pytest.mark.slow
ORCHESTRATE, FEEDBACK, EXPERIENCES = "/api/layer2/orchestrate/", "/api/layer2/feedback/", "/api/layer2/experiences/"
RL_STATUS = "/api/layer2/rl-status/"


@pytest.fixture
def hosts(plant_conninfo, scratch_database, tmp_path):
    """``start()``: host-a and host-b (two workers each) on one Django database and one experience store."""
    shared = {
        "DATABASE_URL": scratch_database("django"),
        "EXPERIENCE_STORE_URL": scratch_database("store"),
        "ENABLE_CONTINUOUS_RL": "true",
    }
    started: list[LocalServer] = []

    def start() -> tuple[LocalServer, LocalServer]:
        for name in ("host-a", "host-b"):  # one after the other: each migrates the shared database first
            started.append(
                start_local_server(
                    timeseries_url=plant_conninfo, state_dir=tmp_path / name, workers=2, CC_HOST_ID=name, **shared
                )
            )
        return started[-2], started[-1]

    start.store_url = shared["EXPERIENCE_STORE_URL"]
    yield start
    for server in started:
        server.stop()
    close_pools()


def _kill(server: LocalServer) -> None:
    os.killpg(server.process.pid, signal.SIGKILL)  # the master and every worker at once (its own session)
    server.process.wait()


def _ask(server: LocalServer, transcript: str) -> str:
    status, body, _ = server.request("POST", ORCHESTRATE, {"transcript": transcript})
    assert status == 200, body
    return body["query_id"]


def _tier1(server: LocalServer) -> dict:
    status, body, _ = server.request("GET", RL_STATUS)
    assert status == 200, body
    return body["tier1"]


def _leader_sessions(url: str) -> int:
    """Sessions holding Tier 1's leader lock, on every host together."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND ((classid::bigint << 32) | objid::bigint) = %s""",
            (lock_key(LEADER_LOCK),),
        ).fetchone()[0]


def _until(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}: not met in {timeout:.0f} s"
        time.sleep(0.2)
    return result


def _add_adapter(url: str, cache) -> str:
    """A stored adapter version, as a Tier 2 run on some third machine would leave it (its files are not read:
    no planner model is configured, so rule planning serves and promotion is what is under test)."""
    from rl.tier2.records import AdapterRecord
    from rl.tier2.shared import SharedAdapterRegistry

    registry = SharedAdapterRegistry(url, cache_dir=cache)
    version = registry.next_version()
    staging = registry.staging(version)
    (staging / "adapter_config.json").write_text('{"r": 4}')
    record = AdapterRecord(
        version=version, created_at=datetime.now(UTC), method="dpo", base_model="tiny", data={"pairs": 12},
        hyperparameters={}, metrics={"candidate": {"preference_accuracy": 0.75}}, incumbent=None, promoted=False,
        decision="kept for review",
    )  # fmt: skip
    registry.add(staging, record)
    return version


def test_two_hosts_share_answers_ratings_conversations_status_promotion_and_one_tier1_leader(hosts, tmp_path):
    a, b = hosts()
    url = hosts.store_url

    # An answer asked on host A is rated on host B, and both list it rated.
    query_id = _ask(a, "Show chiller 1 power")
    status, body, _ = b.request("POST", FEEDBACK, {"query_id": query_id, "rating": "down", "feedback_id": "k-1"})
    assert (status, body["rating"]) == (200, "down"), body
    assert b.request("POST", FEEDBACK, {"query_id": query_id, "rating": "down", "feedback_id": "k-1"})[0] == 200
    for host in (a, b):
        [listed] = host.request("GET", EXPERIENCES)[1]["experiences"]
        assert (listed["query_id"], listed["feedback"]["rating"]) == (query_id, "down")

    # A conversation begun on host A goes on on host B: the follow-up is read against A's turn.
    first = a.request("POST", ORCHESTRATE, {"transcript": "Show chiller 1 power"})[1]
    status, follow_up, _ = b.request(
        "POST", ORCHESTRATE, {"transcript": "and chiller 2?", "conversation_id": first["conversation_id"]}
    )
    assert status == 200, follow_up
    assert (follow_up["conversation_id"], follow_up["turn"]) == (first["conversation_id"], 2)
    assert follow_up["intent"]["equipment_ids"] == ["chiller_002"]
    assert follow_up["intent"]["metrics"] == first["intent"]["metrics"] == ["power_consumption_kw"]

    # rl-status agrees on both: the store's counts, the one Tier 1 leader, what Tier 2 serves.
    statuses = [host.request("GET", RL_STATUS)[1] for host in (a, b)]
    assert statuses[0]["buffer"]["size"] == statuses[1]["buffer"]["size"] == 3
    assert statuses[0]["buffer"]["with_feedback"] == statuses[1]["buffer"]["with_feedback"] == 1
    leader = _until(lambda: _tier1(a)["leader_host"], what="a Tier 1 leader")
    assert {_tier1(host)["leader_host"] for host in (a, b) for _ in range(4)} == {leader}  # any worker of either
    assert _leader_sessions(url) == 1  # exactly one, among four workers on two hosts
    assert all(_tier1(host)["coordination"] == "postgresql" for host in (a, b))

    # A promotion on one host reaches the other (and a rollback too).
    version = _add_adapter(url, tmp_path / "trainer")
    status, body, _ = a.request("POST", "/api/layer2/planner-adapters/promote/", {"version": version})
    assert (status, body["serving_adapter"]) == (200, version), body
    for host in (a, b):
        assert host.request("GET", RL_STATUS)[1]["tier2"]["serving_adapter"] == version
    assert b.request("POST", "/api/layer2/planner-adapters/rollback/", {})[0] == 200
    assert a.request("GET", RL_STATUS)[1]["tier2"]["serving_adapter"] is None

    # Killing the leader's host elects a leader on the other.
    dead, alive = (a, b) if leader == "host-a" else (b, a)
    _kill(dead)
    survivor = alive.environment["CC_HOST_ID"]
    _until(lambda: _tier1(alive)["leader_host"] == survivor, what=f"{survivor} leading after the kill")
    _until(lambda: _leader_sessions(url) == 1, what="one leader session")
    # ...and it goes on learning: feedback given now reaches the new leader's checkpoints.
    steps = _tier1(alive)["steps"]
    fresh = _ask(alive, "pump 1 vibration")
    assert alive.request("POST", FEEDBACK, {"query_id": fresh, "rating": "up"})[0] == 200
    _until(lambda: _tier1(alive)["steps"] > steps, what="the new leader learning")


def test_kill_9_of_a_host_under_load_loses_no_acknowledged_answer_or_rating(hosts):
    a, b = hosts()
    acknowledged: dict[str, list] = {"answers": [], "ratings": []}
    stop = threading.Event()
    questions = ["Show chiller 1 power", "pump 2 vibration", "how are the boilers doing", "UPS 1 charge"]

    def client(server: LocalServer, seed: int) -> None:
        turn = seed
        while not stop.is_set():
            turn += 1
            try:
                query_id = _ask(server, questions[turn % len(questions)])
                acknowledged["answers"].append(query_id)
                feedback_id = uuid.uuid4().hex
                body = {"query_id": query_id, "rating": "up" if turn % 2 else "down", "feedback_id": feedback_id}
                if server.request("POST", FEEDBACK, body)[0] == 200:
                    acknowledged["ratings"].append((query_id, feedback_id))
            except (OSError, AssertionError):  # the host died mid-request: not acknowledged, nothing expected
                if server.process.poll() is not None:
                    return

    clients = [threading.Thread(target=client, args=(host, n)) for n, host in enumerate([a, a, a, b, b])]
    for thread in clients:
        thread.start()
    _until(lambda: len(acknowledged["ratings"]) >= 30, timeout=120, what="load")
    _kill(a)
    time.sleep(2)  # host B keeps answering meanwhile
    stop.set()
    for thread in clients:
        thread.join(60)

    answers, ratings = acknowledged["answers"], acknowledged["ratings"]
    listed = {e["query_id"]: e for e in b.request("GET", f"{EXPERIENCES}?limit=1000")[1]["experiences"]}
    missing = [q for q in answers if q not in listed]
    assert not missing, f"{len(missing)} of {len(answers)} acknowledged answers lost"
    with psycopg.connect(hosts.store_url, autocommit=True) as conn:
        stored = set(conn.execute("SELECT query_id, feedback_id FROM cc_feedback").fetchall())
    lost = [r for r in ratings if r not in stored]
    assert not lost, f"{len(lost)} of {len(ratings)} acknowledged ratings lost"
    assert all(listed[q]["feedback"] is not None for q, _ in ratings)
