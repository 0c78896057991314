"""Tier 2 across hosts (``rl/tier2/shared.py``): adapters, the serving pointer and runs in a real PostgreSQL.

A "host" here is a registry with its own cache folder, or a process of its own (spawned, so nothing is inherited)
with its own ``CC_HOST_ID``: what differs between two machines behind a load balancer.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command

from rl.experiences.postgres import AdvisoryLock, close_pools, lock_is_held, pool
from rl.tier2.adapters import get_registry
from rl.tier2.jobs import get_training_status
from rl.tier2.records import AdapterRecord, CorruptAdapter, NothingToRollBack, UnknownAdapter
from rl.tier2.shared import TRAINING_LOCK, SharedAdapterRegistry, SharedTrainingStatus

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def url(scratch_database):
    url = scratch_database("tier2")
    yield url
    close_pools()  # before the database is dropped


def _add(registry: SharedAdapterRegistry, *, payload: bytes = b"") -> AdapterRecord:
    """A tiny stand-in adapter: the registry stores folders, it does not look inside them."""
    version = registry.next_version()
    staging = registry.staging(version)
    (staging / "adapter_config.json").write_text('{"r": 4}')
    (staging / "weights").mkdir()
    (staging / "weights" / "adapter_model.safetensors").write_bytes(payload or os.urandom(50_000))
    record = AdapterRecord(
        version=version, created_at=datetime.now(UTC), method="dpo", base_model="tiny", data={"pairs": 12},
        hyperparameters={"beta": 0.3}, metrics={"candidate": {"preference_accuracy": 0.75}}, incumbent=None,
        promoted=False, decision="kept",
    )  # fmt: skip
    return registry.add(staging, record)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_add_promote_rollback_and_history_round_trip(url, tmp_path):
    registry = SharedAdapterRegistry(url, cache_dir=tmp_path)
    assert (registry.versions(), registry.active(), registry.active_path(), registry.history()) == ([], None, None, [])
    with pytest.raises(NothingToRollBack):
        registry.rollback()
    first, second = _add(registry), _add(registry)
    assert [r.version for r in registry.versions()] == ["v0001", "v0002"]
    assert registry.record("v0002") == second
    with pytest.raises(UnknownAdapter, match="v0001, v0002"):
        registry.promote("v0009")
    registry.promote(first.version)
    registry.promote(second.version)
    registry.promote(first.version)  # promoted again: moves to the end of the history, once
    assert (registry.active(), registry.history()) == ("v0001", ["v0002", "v0001"])
    assert registry.rollback() == "v0002" and registry.active_path() == registry.path("v0002")
    assert registry.rollback() is None and registry.active_path() is None
    assert registry.history() == []


def test_two_hosts_serve_the_same_adapter_with_identical_files(url, tmp_path):
    host_a = SharedAdapterRegistry(url, cache_dir=tmp_path / "a")
    host_b = SharedAdapterRegistry(url, cache_dir=tmp_path / "b")
    record = _add(host_a)
    host_a.promote(record.version)
    assert host_b.versions() == [record] and host_b.active() == record.version
    path_a, path_b = host_a.active_path(), host_b.active_path()
    assert path_a != path_b and path_b.is_relative_to(tmp_path / "b")
    assert _files(path_a) == _files(path_b)
    assert {"adapter_config.json", "weights/adapter_model.safetensors", "metadata.json"} == set(_files(path_b))
    assert [p.name for p in (tmp_path / "b" / "shared-adapters").iterdir()] == [path_b.name]  # no temp left
    newer = _add(host_b)
    host_b.promote(newer.version)
    assert host_a.active() == newer.version and _files(host_a.active_path()) == _files(host_b.path(newer.version))


def test_a_corrupted_blob_is_refused_never_served(url, tmp_path):
    registry = SharedAdapterRegistry(url, cache_dir=tmp_path / "a")
    record = _add(registry)
    registry.promote(record.version)
    with pool(url).connection() as conn:
        conn.execute("UPDATE cc_tier2_adapters SET files = overlay(files placing 'X'::bytea from 514)")
    other_host = SharedAdapterRegistry(url, cache_dir=tmp_path / "b")
    with pytest.raises(CorruptAdapter, match=record.version):
        other_host.active_path()
    with pytest.raises(CorruptAdapter):
        other_host.path(record.version)
    with pytest.raises(CorruptAdapter):
        other_host.promote(record.version)
    assert not any((tmp_path / "b" / "shared-adapters").glob("v*"))  # nothing half-made to load by mistake


def _reserve(url: str, count: int) -> list[str]:
    registry = SharedAdapterRegistry(url, cache_dir=Path("/nonexistent"))
    return [registry.next_version() for _ in range(count)]


def test_next_version_is_unique_across_hosts(url):
    with SPAWN.Pool(3) as workers:
        names = [v for batch in workers.starmap(_reserve, [(url, 10)] * 3) for v in batch]
    assert len(set(names)) == 30


def _child(url: str, host: str, planner_dir: str) -> None:
    """A process of another host, configured as it would be."""
    import django

    django.setup()
    from django.conf import settings

    settings.EXPERIENCE_STORE_URL, settings.CC_HOST_ID, settings.PLANNER_DIR = url, host, Path(planner_dir)
    settings.PLANNER_MODEL_PATH = Path(planner_dir)


def _approve(url: str, host: str, planner_dir: str, go, results) -> None:
    _child(url, host, planner_dir)
    from rl.tier2 import jobs

    # The trainer itself is not what is tested: a stand-in that lives as long as a run would.
    jobs._spawn = lambda *args: subprocess.Popen(["sleep", "60"], start_new_session=True)
    go.wait()
    try:
        answer = jobs.approve(method="dpo", approved_by=host, pairs=10, min_pairs=1)
        results.put(("started", answer["run_id"]))
    except jobs.TrainingRefused as refused:
        results.put(("refused", refused.body["run_id"]))


def test_two_hosts_approving_at_once_start_exactly_one_run(url, tmp_path):
    (tmp_path / "config.json").write_text("{}")  # a planner model folder, as far as approval checks
    go, results = SPAWN.Event(), SPAWN.Queue()
    hosts = [SPAWN.Process(target=_approve, args=(url, h, str(tmp_path), go, results)) for h in ("a", "b")]
    for process in hosts:
        process.start()
    time.sleep(3)  # both set up and waiting
    go.set()
    answers = sorted(results.get(timeout=60) for _ in hosts)
    for process in hosts:
        process.join(30)
    status = SharedTrainingStatus(url, host="c").read()
    try:
        assert [a[0] for a in answers] == ["refused", "started"]
        assert answers[0][1] == answers[1][1] == status["run_id"]  # the loser names the winner's run
        assert status["state"] == "starting"  # another host's run, not yet holding the lock: trusted a while
    finally:
        os.kill(status["pid"], signal.SIGKILL)


def _hold_training_lock(url: str, host: str, planner_dir: str, results) -> None:
    _child(url, host, planner_dir)
    status = get_training_status()
    lock = status.run_lock()
    won = lock.try_acquire()
    if won:
        status.start(state="training", run_id=host, pid=os.getpid())
    results.put((host, won))
    # The winner keeps the lock until the test kills it. Not on an Event: a process killed while waiting on a
    # multiprocessing Event leaves its set() waiting for that sleeper to wake, forever.
    while won:
        time.sleep(0.1)


def test_one_training_lock_across_hosts_and_a_killed_trainer_reads_as_failed(url, tmp_path, settings):
    results = SPAWN.Queue()
    hosts = {h: SPAWN.Process(target=_hold_training_lock, args=(url, h, str(tmp_path), results)) for h in "ab"}
    for process in hosts.values():
        process.start()
    won = dict(results.get(timeout=60) for _ in hosts)
    assert sorted(won.values()) == [False, True]
    winner = next(h for h, w in won.items() if w)
    settings.EXPERIENCE_STORE_URL, settings.CC_HOST_ID = url, "observer"
    status = get_training_status()
    assert isinstance(status, SharedTrainingStatus) and status.running()
    assert (status.read()["state"], status.read()["host"]) == ("training", winner)

    from rl.tier2.dpo import Tier2Config
    from rl.tier2.training import TrainingBusy, run_now

    with pytest.raises(TrainingBusy):  # a train_dpo typed on a third host is refused too
        run_now(source="buffer", config=Tier2Config(device="cpu"))

    os.kill(hosts[winner].pid, signal.SIGKILL)
    hosts[winner].join(10)
    deadline = time.monotonic() + 10
    while lock_is_held(url, TRAINING_LOCK) and time.monotonic() < deadline:
        time.sleep(0.1)
    read = status.read()
    assert read["state"] == "failed" and f"on {winner} ended unfinished" in read["error"]
    lock = AdvisoryLock(url, TRAINING_LOCK)
    assert lock.try_acquire()  # the next run may start
    lock.release()
    for process in hosts.values():
        process.join(10)


def test_the_factories_rl_status_and_the_command_use_the_shared_store(url, tmp_path, settings, capsys):
    from rl.status import planner_adapters

    settings.EXPERIENCE_STORE_URL, settings.PLANNER_DIR = url, tmp_path / "planner"
    registry = get_registry()
    assert isinstance(registry, SharedAdapterRegistry)
    record = _add(registry)
    call_command("planner_adapters", "promote", record.version)
    assert planner_adapters()["serving_adapter"] == record.version
    call_command("planner_adapters", "list")
    assert f"* {record.version}" in capsys.readouterr().out
    assert get_training_status().read() == {"state": "idle"}
    assert not (tmp_path / "planner" / "active.json").exists()  # nothing went to the file registry
