"""Train a LoRA adapter for the planner model on preference feedback (Tier 2), gate it and maybe promote it."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from command_center.config_options import add_config_options, config_from_options
from rl.tier2.dpo import Tier2Config
from rl.tier2.training import NotEnoughData, TrainingBusy, run_now


class Command(BaseCommand):
    help = (
        "Build preference pairs from rated answers, train a LoRA adapter (TRL DPO, or KTO when unpaired thumbs "
        "dominate), evaluate it against the serving adapter on held-out pairs and promote it only if it is better. "
        "Every Tier2Config field is an option; --device defaults to TIER2_DEVICE."
    )
    source = "buffer"  # where rated answers come from; train_from_live_feedback reads WidgetRating rows

    def add_arguments(self, parser):
        add_config_options(parser, Tier2Config, defaults={"device": settings.TIER2_DEVICE})
        parser.add_argument(
            "--min-pairs",
            type=int,
            default=settings.TIER2_MIN_PAIRS,
            help=f"Refuse to train below this many pairs (default {settings.TIER2_MIN_PAIRS}).",
        )
        parser.add_argument("--approved-by", default="", help="Who approved the run (kept in the adapter's metadata).")
        parser.add_argument("--run-id", default=None, help="Run id (set by the background trainer).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")

    def tier2_config(self, options: dict) -> Tier2Config:
        """The run's config from the parsed command line (raises ``ValueError`` naming a bad field)."""
        return config_from_options(Tier2Config, options)

    def handle(self, *args, **options):
        try:
            config = self.tier2_config(options)
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
            f"{candidate['reward_margin']:+.4f}, plan quality on {candidate.get('fresh_questions', 0)} fresh questions "
            f"{_scores(candidate)}; unconstrained valid JSON {candidate['valid_json_rate']:.1%} (training health)"
        )
        self.stdout.write(record.decision)


def _scores(metrics: dict) -> str:
    return ", ".join(f"{name} {score:+.3f}" for name, score in metrics.get("plan_quality", {}).items()) or "-"
