"""``manage.py copy_to_shared_store``: one host's journal, Tier 1 checkpoint and Tier 2 adapters into the shared
PostgreSQL store (a real one), read back through the stores every host then uses."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import torch
from django.core.management import CommandError, call_command

from rl.experiences.buffer import ExperienceBuffer
from rl.experiences.pg_store import PostgresExperienceStore
from rl.experiences.postgres import close_pools, pool
from rl.tier1.coordination import FileCoordination
from rl.tier1.scorer import Tier1Learner
from rl.tier1.shared import SharedCoordination
from rl.tier2.adapters import AdapterRegistry
from rl.tier2.records import AdapterRecord
from rl.tier2.shared import SharedAdapterRegistry
from tests.rl.experiences.buffer_worker import console_report, make_experience, rich_feedback


@pytest.fixture
def url(scratch_database):
    url = scratch_database("copy")
    yield url
    close_pools()


@pytest.fixture
def one_host(tmp_path):
    """A host's state as months on one host leave it: a journal (rated, evaluated, used, compacted), a Tier 1
    checkpoint and two adapters, the second serving."""
    journal = ExperienceBuffer(tmp_path / "experiences.jsonl")
    for n in range(40):
        query_id = f"{n:032x}"
        journal.add(make_experience(query_id, seq=n))
        if n % 3 == 0:
            journal.update_feedback(query_id, rich_feedback("up" if n % 2 else "down", seq=n))
        if n % 5 == 0:
            journal.record_signals(query_id, console_report(seq=n))
    journal.compact()
    journal.add(make_experience(f"{99:032x}", seq=99))  # and one after the compaction

    learner = Tier1Learner()
    learner.step = 17
    with torch.no_grad():  # weights no fresh learner has
        for parameter in learner.model.parameters():
            parameter.add_(0.5)
    FileCoordination(tmp_path / "tier1").save(learner.state(), feedback_cursor=0)

    registry = AdapterRegistry(tmp_path / "planner")
    for _ in range(2):
        version = registry.next_version()
        staging = registry.staging(version)
        (staging / "adapter_config.json").write_text('{"r": 4}')
        (staging / "adapter_model.safetensors").write_bytes(os.urandom(20_000))
        registry.add(staging, _record(version))
    registry.promote(version)
    return {"journal": journal, "tier1": tmp_path / "tier1", "planner": tmp_path / "planner", "learner": learner}


def _record(version: str) -> AdapterRecord:
    return AdapterRecord(
        version=version, created_at=datetime.now(UTC), method="dpo", base_model="tiny", data={"pairs": 12},
        hyperparameters={}, metrics={"candidate": {"preference_accuracy": 0.7}}, incumbent=None, promoted=True,
        decision="promoted",
    )  # fmt: skip


def _checkpoints(url: str) -> int:
    with pool(url).connection() as conn:
        return conn.execute("SELECT count(*) FROM cc_tier1_checkpoints").fetchone()[0]


def _copy(url, one_host, capsys) -> str:
    call_command(
        "copy_to_shared_store", to=url, journal=one_host["journal"].path, tier1_dir=one_host["tier1"],
        planner_dir=one_host["planner"],
    )  # fmt: skip
    return capsys.readouterr().out


def test_everything_arrives_as_the_shared_stores_read_it_and_a_second_run_copies_nothing(url, one_host, capsys):
    out = _copy(url, one_host, capsys)
    journal, store = one_host["journal"], PostgresExperienceStore(url)
    assert "experiences: 41 copied, 0 already in the store" in out

    # Every experience reads back as the journal folds it: feedback, evaluations and signals included, in order.
    assert [e.query_id for e in store.iter_all()] == [e.query_id for e in journal.iter_all()]
    for experience in journal.iter_all():
        assert store.get(experience.query_id).to_dict() == experience.to_dict()
    assert store.stats().with_feedback == journal.stats().with_feedback == 14

    # Tier 1's new leader starts from the host's weights, and tails feedback from where the copy ended.
    loaded = SharedCoordination(url, host="web-1").load_latest()
    assert loaded.state["step"] == 17 and loaded.feedback_cursor == store.feedback_cursor()
    learner = Tier1Learner()
    learner.load_state(loaded.state)
    pairs = zip(learner.model.parameters(), one_host["learner"].model.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)

    # Tier 2: both adapters, byte for byte, the same one serving, and new versions numbered after them.
    source, shared = AdapterRegistry(one_host["planner"]), SharedAdapterRegistry(url, cache_dir=one_host["planner"])
    assert [r.version for r in shared.versions()] == ["v0001", "v0002"]
    assert (shared.active(), shared.history()) == ("v0002", source.history())
    for version in ("v0001", "v0002"):
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            assert (shared.path(version) / name).read_bytes() == (source.path(version) / name).read_bytes()
    assert shared.next_version() == "v0003"
    assert "tier 2: 2 adapters copied (v0001, v0002); serving v0002" in out

    again = _copy(url, one_host, capsys)
    assert "experiences: 0 copied, 41 already in the store" in again
    assert "tier 1: nothing copied" in again and "tier 2: 0 adapters copied" in again
    assert len(store) == 41 and _checkpoints(url) == 1
    assert shared.next_version() == "v0004"  # the sequence was not set back


def test_a_store_url_that_is_not_postgresql_or_a_missing_journal_is_refused(url, one_host, tmp_path):
    with pytest.raises(CommandError, match="postgresql://"):
        call_command("copy_to_shared_store", to="sqlite:///x.db", journal=one_host["journal"].path)
    with pytest.raises(CommandError, match="no such file"):
        call_command("copy_to_shared_store", to=url, journal=tmp_path / "missing.jsonl")
