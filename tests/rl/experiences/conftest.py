"""Fixtures: the two experience stores, so the same tests run against the journal and the shared PostgreSQL."""

from __future__ import annotations

import pytest

from rl.experiences.buffer import ExperienceBuffer
from rl.experiences.pg_store import PostgresExperienceStore
from rl.experiences.postgres import close_pools


@pytest.fixture
def store_url(scratch_database):
    """A fresh database for the shared store (dropped after the test, its pools closed first)."""
    url = scratch_database("experiences")
    yield url
    close_pools()


@pytest.fixture(params=["journal", "postgres"])
def make_store(request, tmp_path):
    """``make_store(capacity=...)``: a fresh, empty store of either kind; each call opens another view of the
    same store (another process's, in effect)."""
    kind = request.param
    url = request.getfixturevalue("store_url") if kind == "postgres" else None

    def make(*, capacity: int = 200_000):
        if kind == "journal":
            return ExperienceBuffer(tmp_path / "experiences.jsonl", capacity=capacity)
        return PostgresExperienceStore(url, capacity=capacity)

    make.kind = kind
    return make
