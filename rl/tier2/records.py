"""What an adapter version is: its record, how versions are named, and the errors about them.

One module below both registries (files: ``rl/tier2/adapters.py``; PostgreSQL: ``rl/tier2/shared.py``), so each
returns the same records and raises the same errors, and neither imports the other.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime

VERSION = re.compile(r"^v(\d{4,})$")
METADATA = "metadata.json"


def version_name(number: int) -> str:
    return f"v{number:04d}"


class UnknownAdapter(LookupError):
    def __init__(self, version: str, known: list[str]):
        super().__init__(f"no adapter {version!r}; known: {', '.join(known) or 'none'}")
        self.version = version


class NothingToRollBack(LookupError):
    def __init__(self):
        super().__init__("nothing to roll back: no adapter has been promoted, the base model serves alone")


class CorruptAdapter(RuntimeError):
    """A shared adapter whose stored files no longer match their digest: never served, never promoted."""

    def __init__(self, version: str):
        super().__init__(f"adapter {version!r} is corrupt: its stored files do not match their sha256 digest")
        self.version = version


@dataclass(frozen=True)
class AdapterRecord:
    """What was trained, on what, how, and how it scored against the adapter serving at the time."""

    version: str
    created_at: datetime
    method: str  # dpo | kto
    base_model: str
    data: dict[str, int]  # counts by source, train and held-out sizes
    hyperparameters: dict[str, object]
    metrics: dict[str, dict]  # {"candidate": {...}, "incumbent": {...}}: rl.tier2.dpo.EvalMetrics as dicts
    incumbent: str | None  # the version serving when it was evaluated (None: the base model)
    promoted: bool
    decision: str  # why it was or was not promoted
    training_seconds: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**asdict(self), "created_at": self.created_at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict) -> AdapterRecord:
        return cls(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})
