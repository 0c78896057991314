"""Build a planner language model from nothing and teach it to write widget plans."""

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from command_center.config_options import add_config_options, config_from_options
from industrial.timeseries.access import get_timeseries_access
from layer2.planning.planner_model import PlannerModelConfig
from layer2.understanding.intent import PlantVocabulary
from rl.tier2.bootstrap import BootstrapConfig, bootstrap_planner

BOOTSTRAP_EXCLUDED = ("model",)  # built from the PlannerModelConfig options
MODEL_EXCLUDED = ("intermediate_size",)  # three times --hidden-size
MODEL_ALIASES = {"num_hidden_layers": ["--layers"], "num_attention_heads": ["--heads"]}  # the older names


class Command(BaseCommand):
    help = (
        "Train a tokenizer and a small Llama-style model here (nothing is downloaded) and teach it, on the rule "
        "planner's plans for generated questions about this plant, to write JSON widget plans. Saves a normal "
        "transformers model folder (default PLANNER_MODEL_PATH) that the llm planner backend and Tier 2 use. "
        "Every BootstrapConfig and PlannerModelConfig field is an option except the MLP's width, which is three "
        "times --hidden-size."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out",
            default=settings.PLANNER_MODEL_PATH,
            help=f"Model folder to write (default PLANNER_MODEL_PATH: {settings.PLANNER_MODEL_PATH}).",
        )
        parser.add_argument("--force", action="store_true", help="Replace an existing model folder.")
        add_config_options(parser, BootstrapConfig, exclude=BOOTSTRAP_EXCLUDED)
        add_config_options(parser, PlannerModelConfig, exclude=MODEL_EXCLUDED, aliases=MODEL_ALIASES)
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")

    def handle(self, *args, **options):
        out = Path(options["out"])
        if (out / "config.json").exists() and not options["force"]:
            raise CommandError(f"{out} already holds a model; pass --force to replace it")
        try:
            model = config_from_options(
                PlannerModelConfig, options, exclude=MODEL_EXCLUDED, intermediate_size=3 * options["hidden_size"]
            )
            config = config_from_options(BootstrapConfig, options, exclude=BOOTSTRAP_EXCLUDED, model=model)
        except ValueError as error:
            raise CommandError(str(error)) from error
        vocabulary = PlantVocabulary.from_catalog(get_timeseries_access().catalog)
        if not vocabulary.ids_by_type:
            raise CommandError("the time-series database has no equipment tables: seed it first (seed_plant)")
        # Built beside the target and renamed into place: a crash never leaves a half model where serving looks.
        staging = out.with_name(out.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        report = bootstrap_planner(
            vocabulary=vocabulary, out=staging, config=config, progress=not options["no_progress"]
        )
        shutil.rmtree(staging / ".sft-checkpoints", ignore_errors=True)
        (staging / "bootstrap_report.json").write_text(json.dumps({**asdict(report), "path": str(out)}, indent=2))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
        self.stdout.write(
            f"planner model at {out}: {report.parameters:,} parameters, {report.examples} examples, "
            f"{report.seconds:.0f} s; on unseen questions: valid JSON {report.valid_json_rate:.1%}, "
            f"same plan as the rules {report.rule_agreement:.1%}; offered a random subset of widgets: valid "
            f"{report.restricted_valid_json_rate:.1%}"
        )
