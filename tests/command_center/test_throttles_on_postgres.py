"""With Django's database on PostgreSQL the throttles count in a table there, so every host shares one rate.

``command_center/throttle_counts.py``: the PostgreSQL store keeps the SQLite one's contract (a check and
its bump one step for every process), here across processes that share nothing but the database, the way
two hosts behind a load balancer do. pytest-django's own database stays SQLite; these use a scratch
PostgreSQL database on the test server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from django.db.utils import ConnectionHandler

from command_center import throttle_counts as module
from command_center.throttle_counts import (
    TABLE,
    PostgresThrottleCounts,
    ThrottleCounts,
    counts_store,
)

ROOT = Path(__file__).resolve().parents[2]

# A process bumping one slot up to a limit, from a common start time (so that two overlap).
BUMPER = """
import sys, time
from command_center.throttle_counts import PostgresThrottleCounts
conninfo, start, tries, limit = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = PostgresThrottleCounts(conninfo)
store.counts(["warm-up"])  # connected (and the table there) before the start
time.sleep(max(0.0, start - time.time()))
def fits(counts):
    time.sleep(0.001)  # a check that takes a while: without a lock the other process reads the same count meanwhile
    return counts[0] + counts[1] < limit
print(sum(store.bump_if("k:1", read=["k:0", "k:1"], allowed=fits, expires=time.time() + 60) for _ in range(tries)))
"""

# A process of the project (settings from the environment, DATABASE_URL among them) asking the anonymous
# throttle about requests from one address, as a web worker on another host would.
DJANGO_CLIENT = """
import json, sys, time
import django
django.setup()
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from command_center.throttle_counts import throttle_counts
from command_center.throttling import AnonRateThrottle
start, tries = float(sys.argv[1]), int(sys.argv[2])
throttle_counts().counts(["warm-up"])
time.sleep(max(0.0, start - time.time()))
request = Request(APIRequestFactory().get("/api/", REMOTE_ADDR="203.0.113.9"))
allowed = sum(AnonRateThrottle().allow_request(request, None) for _ in range(tries))
print(json.dumps({"allowed": allowed, "store": type(throttle_counts()).__name__}))
"""


def _run_together(code: str, runs: list[tuple[list[str], dict | None]]) -> list[str]:
    """Run ``code`` once per (argv, environment), all at once; the last line each printed."""
    children = [
        subprocess.Popen([sys.executable, "-c", code, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for argv, env in runs
    ]  # fmt: skip
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append(out.strip().splitlines()[-1])
    return outputs


@pytest.fixture
def conninfo(scratch_database) -> str:
    return scratch_database("throttle")


def _django_connection(database: dict):
    """Django's (unconnected) connection for ``database``, its defaults filled in as for ``settings.DATABASES``."""
    return ConnectionHandler({"default": database})["default"]


def test_two_processes_bumping_one_slot_let_exactly_the_limit_through(conninfo):
    start = time.time() + 3  # both connected by then (a child starts in well under a second)
    outputs = _run_together(BUMPER, [([conninfo, str(start), "150", "100"], None)] * 2)
    allowed = [int(out) for out in outputs]
    assert sum(allowed) == 100 and min(allowed) > 0, allowed  # each got some: they did race
    with psycopg.connect(conninfo) as conn:
        assert conn.execute(f"SELECT n FROM {TABLE} WHERE slot = 'k:1'").fetchone() == (100,)


def test_counts_read_what_was_bumped_and_a_refused_bump_counts_nothing(conninfo):
    store = PostgresThrottleCounts(conninfo)
    expires = time.time() + 60
    assert store.counts(["a:0", "a:1"]) == [0, 0]
    assert store.bump_if("a:1", read=["a:0", "a:1"], allowed=lambda c: c == [0, 0], expires=expires)
    assert store.bump_if("a:1", read=["a:1"], allowed=lambda c: c == [1], expires=expires)
    assert not store.bump_if("a:1", read=["a:1"], allowed=lambda c: c[0] < 2, expires=expires)
    assert not store.bump_if("b:1", read=["b:1"], allowed=lambda _: False, expires=expires)
    assert store.counts(["a:1", "b:1", "a:0"]) == [2, 0, 0]
    assert PostgresThrottleCounts(conninfo).counts(["a:1"]) == [2]  # another process's view: the same table


def test_ended_windows_are_purged_now_and_then(conninfo, monkeypatch):
    store = PostgresThrottleCounts(conninfo)
    store.bump_if("old:1", read=["old:1"], allowed=lambda _: True, expires=time.time() - 1)
    store.bump_if("new:1", read=["new:1"], allowed=lambda _: True, expires=time.time() + 60)
    assert store.counts(["old:1", "new:1"]) == [1, 1]  # not yet: a purge waits PURGE_EVERY_S
    monkeypatch.setattr(module, "PURGE_EVERY_S", 0.0)
    store.bump_if("new:1", read=["new:1"], allowed=lambda _: True, expires=time.time() + 60)
    assert store.counts(["old:1", "new:1"]) == [0, 2]


def test_a_dropped_connection_is_reopened_once(conninfo):
    store = PostgresThrottleCounts(conninfo)
    store.bump_if("c:1", read=["c:1"], allowed=lambda _: True, expires=time.time() + 60)
    pid = store._connection().info.backend_pid
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert store.bump_if("c:1", read=["c:1"], allowed=lambda _: True, expires=time.time() + 60)
    assert store.counts(["c:1"]) == [2]


def test_the_store_follows_djangos_database(scratch_database, tmp_path):
    url = scratch_database("throttle_choice")
    store = counts_store(connection=_django_connection(dj_database_url.parse(url)), path=tmp_path / "t")
    assert isinstance(store, PostgresThrottleCounts)
    # It connects with Django's parameters for that database.
    assert store.bump_if("a:1", read=["a:1"], allowed=lambda counts: True, expires=time.time() + 60)
    assert PostgresThrottleCounts(url).counts(["a:1"]) == [1]
    sqlite = _django_connection({"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "default.sqlite3"})
    assert isinstance(counts_store(connection=sqlite, path=tmp_path / "t.sqlite3"), ThrottleCounts)


def test_two_processes_of_the_project_on_one_postgresql_share_one_rate(scratch_database, tmp_path):
    """Two "hosts" (separate processes, separate state folders) with DATABASE_URL on one PostgreSQL: seven an
    hour from one address is seven in all, not seven each."""
    url = scratch_database("throttle_hosts")
    start = time.time() + 6  # Django set up in both by then
    envs = []
    for host in ("a", "b"):
        (tmp_path / host).mkdir()
        envs.append({**os.environ, "DJANGO_SETTINGS_MODULE": "command_center.settings", "DATABASE_URL": url,
                     "CC_STATE_DIR": str(tmp_path / host), "THROTTLE_ANON_RATE": "7/hour"})  # fmt: skip
    outputs = _run_together(DJANGO_CLIENT, [([str(start), "6"], env) for env in envs])
    results = [json.loads(out) for out in outputs]
    assert {r["store"] for r in results} == {"PostgresThrottleCounts"}
    assert sum(r["allowed"] for r in results) == 7, results
