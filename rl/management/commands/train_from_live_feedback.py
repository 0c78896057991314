"""Tier 2 from the ratings the API stored (``WidgetRating`` rows and the experiences they rate)."""

from rl.management.commands import train_dpo
from rl.tier2.preference_data import data_from_widget_ratings


class Command(train_dpo.Command):
    help = (
        "The live-feedback bridge: read WidgetRating rows (operators' thumbs and the judge's evaluations) with "
        "their experiences, build preference pairs and train a planner adapter exactly as train_dpo does. "
        "--dry-run only counts the pairs."
    )
    source = "ratings"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--dry-run", action="store_true", help="Print the pairs by source and stop.")

    def handle(self, *args, **options):
        if options["dry_run"]:
            from rl.experiences.buffer import get_experience_buffer

            counts = data_from_widget_ratings(get_experience_buffer()).counts()
            self.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()))
            return
        super().handle(*args, **options)
