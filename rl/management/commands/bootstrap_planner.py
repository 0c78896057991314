"""Build a planner language model from nothing and teach it to write widget plans."""

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from industrial.timeseries.access import get_timeseries_access
from layer2.planning.planner_model import PlannerModelConfig
from layer2.understanding.intent import PlantVocabulary
from rl.tier2.bootstrap import BootstrapConfig, bootstrap_planner


class Command(BaseCommand):
    help = (
        "Train a tokenizer and a small Llama-style model here (nothing is downloaded) and teach it, on the rule "
        "planner's plans for generated questions about this plant, to write JSON widget plans. Saves a normal "
        "transformers model folder (default PLANNER_MODEL_PATH) that the llm planner backend and Tier 2 use."
    )

    def add_arguments(self, parser):
        boot, model = BootstrapConfig(), PlannerModelConfig()
        parser.add_argument(
            "--out",
            default=settings.PLANNER_MODEL_PATH,
            help=f"Model folder to write (default PLANNER_MODEL_PATH: {settings.PLANNER_MODEL_PATH}).",
        )
        parser.add_argument("--force", action="store_true", help="Replace an existing model folder.")
        parser.add_argument(
            "--examples",
            type=int,
            default=boot.examples,
            help=f"Generated questions to learn from (default {boot.examples}).",
        )
        parser.add_argument("--epochs", type=float, default=boot.epochs, help=f"Passes (default {boot.epochs}).")
        parser.add_argument(
            "--learning-rate",
            type=float,
            default=boot.learning_rate,
            help=f"Learning rate (default {boot.learning_rate}).",
        )
        parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="Where to train.")
        parser.add_argument("--seed", type=int, default=0, help="Seed for questions and weights (default 0).")
        parser.add_argument(
            "--hidden-size", type=int, default=model.hidden_size, help=f"Model width (default {model.hidden_size})."
        )
        parser.add_argument(
            "--layers",
            type=int,
            default=model.num_hidden_layers,
            help=f"Transformer layers (default {model.num_hidden_layers}).",
        )
        parser.add_argument(
            "--heads",
            type=int,
            default=model.num_attention_heads,
            help=f"Attention heads (default {model.num_attention_heads}).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")

    def handle(self, *args, **options):
        out = Path(options["out"])
        if (out / "config.json").exists() and not options["force"]:
            raise CommandError(f"{out} already holds a model; pass --force to replace it")
        try:
            model = PlannerModelConfig(
                hidden_size=options["hidden_size"],
                intermediate_size=3 * options["hidden_size"],
                num_hidden_layers=options["layers"],
                num_attention_heads=options["heads"],
            )
            config = BootstrapConfig(
                examples=options["examples"],
                epochs=options["epochs"],
                learning_rate=options["learning_rate"],
                device=options["device"],
                seed=options["seed"],
                model=model,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        vocabulary = PlantVocabulary.from_catalog(get_timeseries_access().catalog)
        if not vocabulary.ids_by_type:
            raise CommandError("the time-series database has no equipment tables: seed it first (seed_plant)")
        # Built beside the target and renamed into place: a crash never leaves a half model where serving looks.
        staging = out.with_name(out.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        report = bootstrap_planner(vocabulary, staging, config, progress=not options["no_progress"])
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
