"""Versioned LoRA adapters for the planner model, and which one serves.

Layout under the planner folder (``settings.PLANNER_DIR``)::

    adapters/v0003/            adapter_config.json, adapter_model.safetensors, metadata.json
    active.json                {"version": "v0003", "history": ["v0001", "v0003"], "updated_at": ...}

A training run writes its adapter into a temporary folder and renames it to
its version folder only once complete (with ``metadata.json``), so a crash
mid-training leaves no half adapter among the versions. ``active.json`` is
replaced atomically under a lock: promotion and rollback are all-or-nothing,
and every gunicorn worker sees the change on its next question (the planner
compares the active version before each plan, see ``layer2/planning/llm_planner.py``).

With ``EXPERIENCE_STORE_URL`` set, ``get_registry`` returns the registry several hosts share instead
(``rl/tier2/shared.py``): same interface, adapters and the serving pointer in PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from django.utils import timezone
from filelock import FileLock

from rl.experiences.atomic_file import atomic_file, fsync_dir
from rl.experiences.postgres import shared_store_url
from rl.tier2.records import METADATA, VERSION, AdapterRecord, NothingToRollBack, UnknownAdapter, version_name
from rl.tier2.shared import SharedAdapterRegistry

__all__ = ["AdapterRecord", "AdapterRegistry", "NothingToRollBack", "Registry", "UnknownAdapter", "get_registry"]


class AdapterRegistry:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.adapters = self.root / "adapters"
        self._lock = FileLock(str(self.root / "active.lock"))

    # ------------------------------------------------------------------ reading

    def versions(self) -> list[AdapterRecord]:
        """Every complete adapter, oldest first."""
        if not self.adapters.is_dir():
            return []
        names = sorted((p.name for p in self.adapters.iterdir() if VERSION.match(p.name)), key=_number)
        return [self.record(name) for name in names if (self.adapters / name / METADATA).is_file()]

    def record(self, version: str) -> AdapterRecord:
        path = self.adapters / version / METADATA
        if not VERSION.match(version) or not path.is_file():
            raise UnknownAdapter(version, [r.version for r in self.versions()])
        return AdapterRecord.from_dict(json.loads(path.read_text()))

    def path(self, version: str) -> Path:
        self.record(version)  # raises for an unknown or incomplete version
        return self.adapters / version

    def active(self) -> str | None:
        """The serving version, or None when the base model serves alone."""
        return self._state().get("version")

    def active_path(self) -> Path | None:
        """The serving adapter's folder (read per plan by every worker: one small file)."""
        version = self.active()
        return self.adapters / version if version else None

    def history(self) -> list[str]:
        return list(self._state().get("history", []))

    # ------------------------------------------------------------------ writing

    def add(self, trained: Path, record: AdapterRecord) -> AdapterRecord:
        """Move a finished adapter folder ``trained`` in as ``record.version``, metadata written first."""
        with atomic_file(Path(trained) / METADATA) as f:
            f.write(json.dumps(record.to_dict(), indent=2).encode())
        target = self.adapters / record.version
        os.replace(trained, target)  # one rename: the version appears whole or not at all
        fsync_dir(self.adapters)
        return record

    def next_version(self) -> str:
        """A version number not used yet (folders being trained count: they are named ``.tmp-vNNNN``)."""
        self.adapters.mkdir(parents=True, exist_ok=True)
        used = [_number(m.group(1)) for p in self.adapters.iterdir() if (m := re.search(r"(v\d{4,})$", p.name))]
        return version_name(max(used, default=0) + 1)

    def staging(self, version: str) -> Path:
        """A fresh folder to train ``version`` into (replaced if a crashed run left one)."""
        path = self.adapters / f".tmp-{version}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def promote(self, version: str) -> None:
        self.record(version)
        with self._lock:
            state = self._state()
            history = [v for v in state.get("history", []) if v != version] + [version]
            self._write({"version": version, "history": history})

    def rollback(self) -> str | None:
        """Serve the version that served before the active one (None: the base model); returns it."""
        with self._lock:
            history = self._state().get("history", [])
            if not history:
                raise NothingToRollBack
            history = history[:-1]
            self._write({"version": history[-1] if history else None, "history": history})
            return history[-1] if history else None

    def _state(self) -> dict:
        try:
            return json.loads((self.root / "active.json").read_text())
        except FileNotFoundError:
            return {}

    def _write(self, state: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.root / "active.json") as f:
            f.write(json.dumps({**state, "updated_at": timezone.now().isoformat()}).encode())


def _number(name: str) -> int:
    return int(name.lstrip("v"))


Registry = AdapterRegistry | SharedAdapterRegistry  # one interface: versions, record, path, active, promote, ...


def get_registry() -> Registry:
    """This deployment's registry, chosen once here: the planner folder's files, or with ``EXPERIENCE_STORE_URL``
    the tables every host shares (each host's copies of the adapters kept under its own planner folder)."""
    from django.conf import settings

    url = shared_store_url()
    if url:
        return SharedAdapterRegistry(url, cache_dir=Path(settings.PLANNER_DIR))
    return AdapterRegistry(settings.PLANNER_DIR)
