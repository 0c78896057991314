"""One host's learning state into the PostgreSQL store several hosts share (docs/deployment.md)."""

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from rl.experiences.buffer import ExperienceBuffer
from rl.experiences.copying import copy_experiences
from rl.experiences.pg_store import PostgresExperienceStore
from rl.experiences.postgres import is_postgres_url
from rl.tier1.coordination import FileCoordination, copy_newest_checkpoint
from rl.tier1.shared import SharedCoordination
from rl.tier2.adapters import AdapterRegistry
from rl.tier2.shared import SharedAdapterRegistry, copy_adapters


class Command(BaseCommand):
    help = (
        "Move a site from one host to several: copy this host's experience journal, Tier 1's newest good "
        "checkpoint and Tier 2's adapters (with the one serving) into the shared PostgreSQL store. Stop the "
        "host's gunicorn first, so nothing is written meanwhile. What the store already holds is kept, so a "
        "copy that stopped half way can be run again. Then start every host with EXPERIENCE_STORE_URL set."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--to",
            default=None,
            help="The shared store's postgresql:// URL (default: EXPERIENCE_STORE_URL).",
        )
        parser.add_argument(
            "--journal",
            type=Path,
            default=None,
            help="The experience journal to copy (default: EXPERIENCE_BUFFER_PATH, $CC_STATE_DIR/experiences.jsonl).",
        )
        parser.add_argument(
            "--tier1-dir",
            type=Path,
            default=None,
            help="Tier 1's folder of checkpoints (default: $CC_STATE_DIR/tier1).",
        )
        parser.add_argument(
            "--planner-dir",
            type=Path,
            default=None,
            help="Tier 2's planner folder with the adapters (default: PLANNER_DIR, $CC_STATE_DIR/planner).",
        )

    def handle(self, *args, to, journal, tier1_dir, planner_dir, **options):
        url = to or settings.EXPERIENCE_STORE_URL
        if not is_postgres_url(url or ""):
            raise CommandError("--to (or EXPERIENCE_STORE_URL) must be the shared store's postgresql:// URL")
        journal = journal or Path(settings.EXPERIENCE_BUFFER_PATH)
        if not journal.is_file():
            raise CommandError(f"--journal {journal}: no such file")
        source = ExperienceBuffer(journal, capacity=settings.EXPERIENCE_BUFFER_CAPACITY)
        target = PostgresExperienceStore(url, capacity=settings.EXPERIENCE_BUFFER_CAPACITY)

        with tqdm(total=len(source), unit="exp", desc="experiences", file=sys.stderr, disable=None) as bar:
            report = copy_experiences(source=source, target=target, on_experience=lambda: bar.update(1))
        self.stdout.write(f"experiences: {report.copied} copied, {report.already_there} already in the store")

        checkpoint = copy_newest_checkpoint(
            source=FileCoordination(tier1_dir or Path(settings.STATE_DIR) / "tier1"),
            target=SharedCoordination(url, host=settings.CC_HOST_ID),
            feedback_cursor=target.feedback_cursor(),
        )
        self.stdout.write(
            f"tier 1: started from {checkpoint.name}"
            if checkpoint
            else "tier 1: nothing copied (the store has a checkpoint, or this host has none that loads)"
        )

        planner = planner_dir or Path(settings.PLANNER_DIR)
        shared = SharedAdapterRegistry(url, cache_dir=planner)
        copied = copy_adapters(source=AdapterRegistry(planner), target=shared)
        serving = shared.active()
        self.stdout.write(
            f"tier 2: {len(copied)} adapters copied ({', '.join(copied) or 'none new'}); "
            f"serving {serving or 'the base model alone'}"
        )
