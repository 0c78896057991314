"""Judge the answers that have no rich evaluation yet, and post the evaluations to the server.

    python auto_evaluate_responses.py                       # Claude if ANTHROPIC_API_KEY is set, else offline
    python auto_evaluate_responses.py --judge offline --limit 20 --dry-run
    python auto_evaluate_responses.py --judge claude --since 24h --max-cost-usd 2 --concurrency 4
    */15 * * * * cd /srv/command-center && .venv/bin/python auto_evaluate_responses.py --no-progress  # cron

Each experience without an evaluation (``GET /api/layer2/experiences/
?has_evaluation=false``) is shown to a judge, and its evaluation, the overall
rating and the six rich fields, is validated and posted to
``/api/layer2/feedback/`` through a judge account, which the server records as
``judge:<account>``: run the ``claude`` judge with the token of an account made
by ``create_api_user claude --judge``, the ``offline`` one with ``offline``'s
(the run checks this first). An operator's own thumb is kept: the judge adds its
evaluation under it.

Judges: ``claude`` (the ``anthropic`` SDK; ``--model``, default Claude Sonnet
5.5; ``ANTHROPIC_BASE_URL`` for a gateway) and ``offline`` (a deterministic
rubric, no network; it re-reads the plant database to check the numbers).
See ``docs/judge.md``.

Settings come from the environment through ``command_center/settings.py``:
``COMMAND_CENTER_URL``, ``COMMAND_CENTER_TOKEN`` (``python manage.py
create_api_user claude --judge --quiet`` prints one), ``ANTHROPIC_API_KEY``,
``ANTHROPIC_BASE_URL``, ``JUDGE_MODEL``; the offline judge reads the plant
database the server is configured with.

A run holds ``$CC_STATE_DIR/auto_evaluate.lock``: a run that starts while
another holds it does nothing, so cron may start one every few minutes.
Exit status: 0 done (skipped answers included, or another run was busy);
1 the server could not be reached or refused; 2 stopped early (spend limit,
rejected API key) or misconfigured.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

logger = logging.getLogger("auto_evaluate")
_RELATIVE = re.compile(r"^(\d+)([mhd])$")


def parse_since(text: str) -> datetime:
    """``24h``, ``30m``, ``7d`` ago, or an ISO date/time (UTC when it names no zone)."""
    if match := _RELATIVE.match(text.strip()):
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use 24h, 7d or 2026-03-01T08:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="examples:\n" + __doc__.split("\n\n")[1] + "\n\nexit status: 0 done (or another run busy); "
        "1 server unreachable or token refused; 2 stopped early (spend limit, rejected key) or misconfigured. "
        "See docs/judge.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--judge",
        choices=["auto", "claude", "offline"],
        default="auto",
        help="Who judges (default auto: claude when ANTHROPIC_API_KEY is set, otherwise offline).",
    )
    parser.add_argument("--model", help="Claude model id (default: JUDGE_MODEL, Claude Sonnet 5.5).")
    parser.add_argument("--api-url", help="The Command Center server (default: COMMAND_CENTER_URL).")
    parser.add_argument("--token", help="Its API token (default: COMMAND_CENTER_TOKEN).")
    parser.add_argument("--limit", type=int, default=100, help="Judge at most this many answers (default 100).")
    parser.add_argument("--since", type=parse_since, help="Only answers from then on: 24h, 7d or an ISO time.")
    parser.add_argument("--dry-run", action="store_true", help="Judge, print the summary, post nothing.")
    parser.add_argument("--concurrency", type=int, default=4, help="Judge calls at a time (default 4).")
    parser.add_argument("--max-tokens-budget", type=int, help="Start no call once this many tokens are spent.")
    parser.add_argument("--max-cost-usd", type=float, help="Start no call once the estimated cost reaches this.")
    parser.add_argument("--input-price", type=float, help="USD per million input tokens (default: the model's).")
    parser.add_argument("--output-price", type=float, help="USD per million output tokens (default: the model's).")
    parser.add_argument(
        "--max-retries",
        type=int,
        default=4,
        help="Retries of one call on 429, 5xx, 529 or a network error (default 4).",
    )
    parser.add_argument(
        "--retry-base-delay", type=float, default=1.0, help="First backoff in seconds, doubling (default 1)."
    )
    parser.add_argument(
        "--max-attempts", type=int, default=2, help="Calls per answer when evaluations are invalid (default 2)."
    )
    parser.add_argument(
        "--lock-file", type=Path, help="Lock held by a run (default: $CC_STATE_DIR/auto_evaluate.lock)."
    )
    parser.add_argument("--no-progress", action="store_true", help="No progress bar (for cron and logs).")
    parser.add_argument("--json", action="store_true", help="Also print the summary as one JSON line.")
    parser.add_argument("--verbose", action="store_true", help="Also log every HTTP request.")
    return parser


def make_judge(args, settings):
    """The judge the arguments ask for (raises ValueError when it cannot be made)."""
    kind = args.judge if args.judge != "auto" else ("claude" if settings.ANTHROPIC_API_KEY else "offline")
    if kind == "offline":
        from rl.judges.offline import configured_offline_judge

        return configured_offline_judge()
    from rl.judges.claude import ClaudeJudge, ClaudeJudgeConfig

    config = ClaudeJudgeConfig(
        api_key=settings.ANTHROPIC_API_KEY,
        model=args.model or settings.JUDGE_MODEL,
        base_url=settings.ANTHROPIC_BASE_URL or None,
        max_retries=args.max_retries,
        retry_base_delay=args.retry_base_delay,
        max_attempts=args.max_attempts,
        input_price_per_mtok=args.input_price,
        output_price_per_mtok=args.output_price,
    )
    if config.prices() is None:
        logger.warning("no list price known for %s: cost is estimated at Sonnet prices", config.model)
    return ClaudeJudge(config)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
    import django

    django.setup()
    from django.conf import settings
    from tqdm.contrib.logging import logging_redirect_tqdm

    from rl.judges.auto_evaluate import ApiError, CommandCenterApi, RunBusy, RunConfig, run_evaluation

    if not args.verbose:
        logging.getLogger("httpx2").setLevel(logging.WARNING)
    try:
        config = RunConfig(
            api_url=args.api_url or settings.COMMAND_CENTER_URL,
            token=args.token or settings.COMMAND_CENTER_TOKEN,
            limit=args.limit,
            since=args.since,
            dry_run=args.dry_run,
            concurrency=args.concurrency,
            max_tokens=args.max_tokens_budget,
            max_cost_usd=args.max_cost_usd,
            lock_path=args.lock_file or settings.STATE_DIR / "auto_evaluate.lock",
            progress=not args.no_progress,
        )
        judge = make_judge(args, settings)
    except ValueError as error:
        print(f"auto_evaluate_responses: {error}", file=sys.stderr)
        return 2
    api = CommandCenterApi(config.api_url, config.token, config.http_timeout)
    try:
        with logging_redirect_tqdm():
            summary = run_evaluation(config=config, judge=judge, api=api)
    except RunBusy as busy:
        print(f"auto_evaluate_responses: {busy}")
        return 0
    except ApiError as error:
        print(f"auto_evaluate_responses: {error}", file=sys.stderr)
        return 1
    finally:
        api.close()
        if hasattr(judge, "close"):
            judge.close()
    print("\n".join(summary.lines()))
    if args.json:
        print(json.dumps(summary.to_dict()))
    return 2 if summary.stopped else 0


if __name__ == "__main__":
    sys.exit(main())
