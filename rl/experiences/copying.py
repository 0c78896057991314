"""One store's experiences into another: a site moving from one host's journal to the shared PostgreSQL store.

Each experience goes over folded, as compaction would write it (its feedback and signals inside the record),
oldest first, so the target numbers them in the journal's order and evicts as the journal would past its
capacity. An add of a ``query_id`` the target holds changes nothing, so a copy that stopped half way can be run
again. What does not go over: the ``feedback_id`` of each feedback (a retry of a rating sent to the old host
before the move would count again: none arrives once the hosts are stopped for it) and the order of an
experience's feedback beyond what its folded record keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CopyReport:
    copied: int  # experiences the target did not hold
    already_there: int  # experiences it held (a copy run again)


def copy_experiences(*, source, target, on_experience: Callable[[], None] = lambda: None) -> CopyReport:
    """Add every experience of ``source`` that ``target`` does not hold, oldest first."""
    copied = already_there = 0
    for experience in source.iter_all():
        if experience.query_id in target:
            already_there += 1
        else:
            target.add(experience)
            copied += 1
        on_experience()
    return CopyReport(copied, already_there)
