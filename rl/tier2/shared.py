"""Tier 2 across several hosts: adapters, the serving pointer and training runs in the shared PostgreSQL.

Chosen by ``get_registry`` and ``get_training_status`` when ``EXPERIENCE_STORE_URL`` is set; the same interfaces
as the planner folder's files (``rl/tier2/adapters.py``, ``rl/tier2/run_status.py``). Tables (``ensure_schema``):

* ``cc_tier2_adapters``: one row per version, written once: its record (jsonb), its folder as one tar (bytea) and
  that tar's sha256. Numbers come from a sequence, so two hosts never name two adapters alike.
* ``cc_tier2_serving``: one row, the serving version and its promotion history, changed only in a transaction
  holding that row's lock, so promotion and rollback are all-or-nothing and serialised across hosts.
* ``cc_tier2_training``: one row, what ``training.json`` holds on one host.

Each host keeps its own copy of a version's files under ``<PLANNER_DIR>/shared-adapters/<version>-<digest>``,
extracted once, digest checked first, renamed into place whole; the planner loads from that folder. The digest in
the folder's name means a copy is never mistaken for a different adapter of the same name (another database).

A run's liveness is the training advisory lock (``rl/experiences/postgres.py``): the trainer holds it on its own
connection for the whole run and PostgreSQL drops it when that process dies, on whichever host. A pid means
something only on its own host, so it serves alone for the moment between approval and the trainer taking the lock.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from django.utils import timezone
from psycopg.types.json import Jsonb

from rl.experiences.atomic_file import atomic_file, fsync_dir
from rl.experiences.postgres import AdvisoryLock, ensure_schema, lock_is_held, lock_key, pool
from rl.tier2.records import METADATA, AdapterRecord, CorruptAdapter, NothingToRollBack, UnknownAdapter, version_name
from rl.tier2.run_status import RunLock, TrainingStatus, process_alive

TRAINING_LOCK = "tier2:training"
APPROVAL_LOCK = "tier2:approve"
# A run another host approved counts as starting this long before its trainer must hold the training lock.
STARTING_GRACE_S = 300.0

SCHEMA = (
    "CREATE SEQUENCE IF NOT EXISTS cc_tier2_version_numbers",
    """CREATE TABLE IF NOT EXISTS cc_tier2_adapters (
        number integer PRIMARY KEY,
        version text NOT NULL UNIQUE,
        record jsonb NOT NULL,
        files bytea NOT NULL,
        sha256 text NOT NULL,
        added_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE IF NOT EXISTS cc_tier2_serving (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        version text REFERENCES cc_tier2_adapters (version),
        history jsonb NOT NULL DEFAULT '[]',
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "INSERT INTO cc_tier2_serving (id) VALUES (true) ON CONFLICT DO NOTHING",
    """CREATE TABLE IF NOT EXISTS cc_tier2_training (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        state jsonb NOT NULL DEFAULT '{}'
    )""",
    "INSERT INTO cc_tier2_training (id) VALUES (true) ON CONFLICT DO NOTHING",
)


@contextmanager
def _connection(url: str) -> Iterator:
    ensure_schema(url, "tier2", SCHEMA)
    with pool(url).connection() as conn:
        yield conn


class SharedAdapterRegistry:
    """``AdapterRegistry``'s interface over ``cc_tier2_adapters`` and ``cc_tier2_serving``; files cached per host."""

    def __init__(self, url: str, *, cache_dir: Path):
        self.url = url
        self.cache = Path(cache_dir) / "shared-adapters"

    # ------------------------------------------------------------------ reading

    def versions(self) -> list[AdapterRecord]:
        """Every adapter, oldest first."""
        with _connection(self.url) as conn:
            rows = conn.execute("SELECT record FROM cc_tier2_adapters ORDER BY number").fetchall()
        return [AdapterRecord.from_dict(r[0]) for r in rows]

    def record(self, version: str) -> AdapterRecord:
        with _connection(self.url) as conn:
            row = conn.execute("SELECT record FROM cc_tier2_adapters WHERE version = %s", (version,)).fetchone()
            if row is None:
                raise UnknownAdapter(version, _names(conn))
        return AdapterRecord.from_dict(row[0])

    def path(self, version: str) -> Path:
        """This host's copy of ``version``'s folder (extracted on first use)."""
        with _connection(self.url) as conn:
            row = conn.execute("SELECT sha256 FROM cc_tier2_adapters WHERE version = %s", (version,)).fetchone()
            if row is None:
                raise UnknownAdapter(version, _names(conn))
        return self._materialise(version, row[0])

    def active(self) -> str | None:
        """The serving version, or None when the base model serves alone."""
        with _connection(self.url) as conn:
            return conn.execute("SELECT version FROM cc_tier2_serving").fetchone()[0]

    def active_path(self) -> Path | None:
        """The serving adapter's folder on this host: one indexed query per plan, the files fetched once."""
        with _connection(self.url) as conn:
            version, digest = conn.execute(
                "SELECT s.version, a.sha256 FROM cc_tier2_serving s LEFT JOIN cc_tier2_adapters a USING (version)"
            ).fetchone()
        return self._materialise(version, digest) if version else None

    def history(self) -> list[str]:
        with _connection(self.url) as conn:
            return list(conn.execute("SELECT history FROM cc_tier2_serving").fetchone()[0])

    # ------------------------------------------------------------------ writing

    def add(self, trained: Path, record: AdapterRecord) -> AdapterRecord:
        """Store the finished folder ``trained`` (metadata written first, as on files) as ``record.version``.

        The folder then becomes this host's copy: its files are the bytes just stored.
        """
        trained = Path(trained)
        with atomic_file(trained / METADATA) as f:
            f.write(_dumps(record))
        blob = _pack(trained)
        digest = hashlib.sha256(blob).hexdigest()
        with _connection(self.url) as conn:
            conn.execute(
                "INSERT INTO cc_tier2_adapters (number, version, record, files, sha256) VALUES (%s, %s, %s, %s, %s)",
                (int(record.version.lstrip("v")), record.version, Jsonb(record.to_dict()), blob, digest),
            )
        target = self._folder(record.version, digest)
        if not target.exists():
            os.replace(trained, target)
            fsync_dir(self.cache)
        return record

    def next_version(self) -> str:
        """A version number no host has used or will use."""
        with _connection(self.url) as conn:
            return version_name(conn.execute("SELECT nextval('cc_tier2_version_numbers')").fetchone()[0])

    def staging(self, version: str) -> Path:
        """A fresh local folder to train ``version`` into (replaced if a crashed run left one)."""
        path = self.cache / f".staging-{version}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def promote(self, version: str) -> None:
        """Serve ``version`` (refused if unknown or if its stored files fail their digest)."""
        with _connection(self.url) as conn, conn.transaction():
            row = conn.execute(
                "SELECT encode(sha256(files), 'hex') = sha256 FROM cc_tier2_adapters WHERE version = %s", (version,)
            ).fetchone()
            if row is None:
                raise UnknownAdapter(version, _names(conn))
            if not row[0]:
                raise CorruptAdapter(version)
            history = conn.execute("SELECT history FROM cc_tier2_serving FOR UPDATE").fetchone()[0]
            _serve(conn, [v for v in history if v != version] + [version])

    def rollback(self) -> str | None:
        """Serve the version that served before the active one (None: the base model); returns it."""
        with _connection(self.url) as conn, conn.transaction():
            history = conn.execute("SELECT history FROM cc_tier2_serving FOR UPDATE").fetchone()[0]
            if not history:
                raise NothingToRollBack
            return _serve(conn, history[:-1])

    # ------------------------------------------------------------------ this host's copies

    def _folder(self, version: str, digest: str) -> Path:
        return self.cache / f"{version}-{digest[:16]}"

    def _materialise(self, version: str, digest: str) -> Path:
        """``version``'s files under the cache, extracted once: verified, written whole, renamed into place."""
        target = self._folder(version, digest)
        if target.is_dir():
            return target
        with _connection(self.url) as conn:
            blob = bytes(
                conn.execute("SELECT files FROM cc_tier2_adapters WHERE version = %s", (version,)).fetchone()[0]
            )
        if hashlib.sha256(blob).hexdigest() != digest:
            raise CorruptAdapter(version)
        self.cache.mkdir(parents=True, exist_ok=True)
        extracting = Path(tempfile.mkdtemp(prefix=f".extract-{version}-", dir=self.cache))
        try:
            with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
                tar.extractall(extracting, filter="data")  # no links, no paths outside the folder
            for file in extracting.rglob("*"):
                if file.is_file():
                    _fsync(file)
            try:
                os.rename(extracting, target)
            except OSError:
                if not target.is_dir():
                    raise  # not another worker's copy renamed in first
            fsync_dir(self.cache)
        finally:
            shutil.rmtree(extracting, ignore_errors=True)
        return target


def _serve(conn, history: list[str]) -> str | None:
    version = history[-1] if history else None
    conn.execute(
        "UPDATE cc_tier2_serving SET version = %s, history = %s, updated_at = now()", (version, Jsonb(history))
    )
    return version


def _names(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT version FROM cc_tier2_adapters ORDER BY number")]


def _dumps(record: AdapterRecord) -> bytes:
    return json.dumps(record.to_dict(), indent=2).encode()


def _pack(folder: Path) -> bytes:
    """``folder``'s files as one uncompressed tar (safetensors barely compress), names relative to it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                tar.add(file, arcname=str(file.relative_to(folder)))
    return buffer.getvalue()


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


class SharedTrainingStatus(TrainingStatus):
    """``TrainingStatus`` in ``cc_tier2_training``, its locks advisory locks every host sees."""

    def __init__(self, url: str, *, host: str):
        self.url = url
        self.host = host

    def write(self, **fields) -> dict:
        """Merge ``fields`` into the run's status in one statement (no read-modify-write across processes)."""
        with _connection(self.url) as conn:
            return conn.execute(
                "UPDATE cc_tier2_training SET state = state || %s RETURNING state",
                (Jsonb({**fields, "updated_at": timezone.now().isoformat()}),),
            ).fetchone()[0]

    def start(self, **fields) -> dict:
        return super().start(**{**fields, "host": self.host})

    def run_lock(self) -> RunLock:
        return AdvisoryLock(self.url, TRAINING_LOCK)

    @contextmanager
    def approval(self) -> Iterator[None]:
        """Approvals on every host one at a time: a transaction-level lock, gone with the transaction."""
        with _connection(self.url) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(APPROVAL_LOCK),))
            yield

    def running(self) -> bool:
        ensure_schema(self.url, "tier2", SCHEMA)
        return lock_is_held(self.url, TRAINING_LOCK)

    def _alive(self, state: dict) -> bool:
        if self.running():
            return True
        if state["state"] != "starting":
            return False  # the trainer took the lock before writing anything else, and has let it go
        if state.get("host") == self.host:
            return process_alive(state.get("pid"))
        started = datetime.fromisoformat(state["updated_at"])
        return (timezone.now() - started).total_seconds() < STARTING_GRACE_S

    def _ended(self, state: dict) -> str:
        return (
            f"trainer process {state.get('pid')} on {state.get('host')} ended unfinished "
            "(it no longer holds the training lock)"
        )

    def _save(self, state: dict) -> None:
        with _connection(self.url) as conn:
            conn.execute("UPDATE cc_tier2_training SET state = %s", (Jsonb(state),))

    def _raw(self) -> dict:
        with _connection(self.url) as conn:
            return conn.execute("SELECT state FROM cc_tier2_training").fetchone()[0]


def copy_adapters(*, source, target: SharedAdapterRegistry) -> list[str]:
    """Every adapter of ``source`` (a planner folder's ``AdapterRegistry``) that ``target`` lacks, under its own
    version; then, if ``target`` has never served one, ``source``'s serving history, so the same adapter serves.
    Returns the versions copied. Run again, it copies nothing."""
    held = {record.version for record in target.versions()}
    copied = []
    for record in source.versions():
        if record.version in held:
            continue
        staging = target.staging(record.version)
        shutil.copytree(source.path(record.version), staging, dirs_exist_ok=True)
        target.add(staging, record)
        copied.append(record.version)
    with _connection(target.url) as conn, conn.transaction():
        # New versions numbered past the copied ones (is_called false: the next nextval returns this value).
        conn.execute(
            "SELECT setval('cc_tier2_version_numbers', greatest(coalesce(max(number), 0) + 1, "
            "(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM cc_tier2_version_numbers)),"
            " false) FROM cc_tier2_adapters"
        )
        history = conn.execute("SELECT history FROM cc_tier2_serving FOR UPDATE").fetchone()[0]
        if not history and source.history():
            _serve(conn, source.history())
    return copied
