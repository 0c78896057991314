"""Train a LoRA adapter for the planner model on preference feedback (Tier 2), gate it and maybe promote it."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from rl.tier2.dpo import METHODS, Tier2Config
from rl.tier2.training import NotEnoughData, TrainingBusy, run_now


class Command(BaseCommand):
    help = (
        "Build preference pairs from rated answers, train a LoRA adapter (TRL DPO, or KTO when unpaired thumbs "
        "dominate), evaluate it against the serving adapter on held-out pairs and promote it only if it is better."
    )
    source = "buffer"  # where rated answers come from; train_from_live_feedback reads WidgetRating rows

    def add_arguments(self, parser):
        defaults = Tier2Config()
        parser.add_argument(
            "--method",
            choices=METHODS,
            default="auto",
            help="auto picks KTO when unpaired thumbs outnumber paired answers 4:1, else DPO (default auto).",
        )
        parser.add_argument(
            "--epochs", type=float, default=defaults.epochs, help=f"Passes over the pairs (default {defaults.epochs})."
        )
        parser.add_argument(
            "--learning-rate",
            type=float,
            default=defaults.learning_rate,
            help=f"LoRA learning rate (default {defaults.learning_rate}).",
        )
        parser.add_argument(
            "--beta", type=float, default=defaults.beta, help=f"DPO/KTO beta (default {defaults.beta})."
        )
        parser.add_argument(
            "--lora-r", type=int, default=defaults.lora_r, help=f"LoRA rank (default {defaults.lora_r})."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=defaults.batch_size,
            help=f"Pairs per step (default {defaults.batch_size}).",
        )
        parser.add_argument(
            "--device",
            choices=["auto", "cpu", "cuda"],
            default=settings.TIER2_DEVICE,
            help="Where to train (default TIER2_DEVICE, 'auto': CUDA when present).",
        )
        parser.add_argument(
            "--min-pairs",
            type=int,
            default=settings.TIER2_MIN_PAIRS,
            help=f"Refuse to train below this many pairs (default {settings.TIER2_MIN_PAIRS}).",
        )
        parser.add_argument("--approved-by", default="", help="Who approved the run (kept in the adapter's metadata).")
        parser.add_argument("--run-id", default=None, help="Run id (set by the background trainer).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")

    def handle(self, *args, **options):
        try:
            config = Tier2Config(
                method=options["method"],
                epochs=options["epochs"],
                learning_rate=options["learning_rate"],
                beta=options["beta"],
                lora_r=options["lora_r"],
                batch_size=options["batch_size"],
                device=options["device"],
            )
            record = run_now(
                source=self.source,
                config=config,
                approved_by=options["approved_by"],
                run_id=options["run_id"],
                min_pairs=options["min_pairs"],
                progress_bar=not options["no_progress"],
            )
        except (ValueError, TrainingBusy, NotEnoughData) as error:
            raise CommandError(str(error)) from error
        candidate = record.metrics["candidate"]
        self.stdout.write(
            f"{record.version} ({record.method}, {record.training_seconds:.0f} s) on {record.data}: held-out "
            f"preference accuracy {candidate['preference_accuracy']:.3f}, reward margin "
            f"{candidate['reward_margin']:+.4f}, valid JSON {candidate['valid_json_rate']:.1%}"
        )
        self.stdout.write(record.decision)
