"""One evaluation run: the answers with no rich evaluation yet, judged, and the evaluations posted.

``auto_evaluate_responses.py`` is the shell around :func:`run_evaluation`.
The run talks to the Command Center server over HTTP like any client
(``GET /api/layer2/experiences/?has_evaluation=false``, ``POST
/api/layer2/feedback/``), so it can run from cron beside gunicorn, on the
same machine or another.

* **Never twice**: only experiences without an evaluation are fetched, each
  at most once a run, and a run holds a file lock (``lock_path``) for its
  whole length, so an overlapping run on the same machine finds it held and
  does nothing (:class:`RunBusy`). Runs on different machines are not
  coordinated; give the job to one machine.
* **Bounded**: at most ``concurrency`` judge calls at a time; before each
  call the token and cost budgets are checked, so a run overshoots them by at
  most the calls already in flight.
* **Stops cleanly**: a judge that raises ``JudgeStopped`` (spend limit,
  rejected key) ends the run; calls in flight finish, the rest are skipped,
  and the summary says why.
* **An operator's thumb stands**: the server keeps an operator's rating when
  a judge's evaluation arrives after it (``rl/experience_buffer._merge``).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx2
from filelock import FileLock, Timeout
from tqdm import tqdm

from rl.experiences.buffer import OPERATOR
from rl.experiences.records import Experience
from rl.judges.evaluation import Judge, JudgeStopped, Verdict

logger = logging.getLogger(__name__)

MAX_PAGE = 1000  # the experiences endpoint's largest page


class RunBusy(RuntimeError):
    """Another run holds the lock."""


class ApiError(RuntimeError):
    """The Command Center server could not be reached or refused a request."""


@dataclass
class RunConfig:
    """One run of the evaluator."""

    api_url: str = field(default="http://127.0.0.1:8000", metadata={"help": "The Command Center server."})
    token: str = field(default="", metadata={"help": "An API token (python manage.py create_api_user NAME --quiet)."})
    limit: int = field(default=100, metadata={"help": "Experiences judged at most."})
    since: datetime | None = field(
        default=None, metadata={"help": "Only experiences created at or after this (timezone-aware)."}
    )
    dry_run: bool = field(default=False, metadata={"help": "Judge, but post nothing."})
    concurrency: int = field(default=4, metadata={"help": "Judge calls at a time."})
    max_tokens: int | None = field(
        default=None, metadata={"help": "Stop starting calls once this many tokens (in + out) are spent."}
    )
    max_cost_usd: float | None = field(
        default=None, metadata={"help": "Stop starting calls once the estimated cost reaches this."}
    )
    lock_path: Path | None = field(default=None, metadata={"help": "Lock held by a run; None: no lock."})
    progress: bool = field(default=True, metadata={"help": "A tqdm bar on stderr."})
    http_timeout: float = field(default=30.0, metadata={"help": "Seconds per request to the server."})
    page_size: int = field(default=200, metadata={"help": "Experiences fetched a request."})

    def __post_init__(self):
        if not self.api_url.startswith(("http://", "https://")):
            raise ValueError(f"api_url must be an http(s) URL, got {self.api_url!r}")
        if not self.token:
            raise ValueError("token is empty: pass --token or set COMMAND_CENTER_TOKEN")
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        if not 1 <= self.concurrency <= 64:
            raise ValueError(f"concurrency must be in 1..64, got {self.concurrency}")
        if self.since is not None and self.since.tzinfo is None:
            raise ValueError(f"since must be timezone-aware, got {self.since.isoformat()}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.max_cost_usd is not None and self.max_cost_usd <= 0:
            raise ValueError(f"max_cost_usd must be more than 0, got {self.max_cost_usd}")
        if not 1 <= self.page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be in 1..{MAX_PAGE}, got {self.page_size}")
        if self.http_timeout <= 0:
            raise ValueError(f"http_timeout must be more than 0, got {self.http_timeout}")


@dataclass
class RunSummary:
    judge: str
    dry_run: bool = False
    candidates: int = 0  # experiences without an evaluation that were picked
    evaluated: int = 0  # valid evaluations produced
    posted: int = 0
    operator_rating_kept: int = 0  # posted onto an experience an operator had rated: their thumb stands
    skipped: Counter = field(default_factory=Counter)  # reason -> experiences
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    stopped: str | None = None  # why the run ended early

    def lines(self) -> list[str]:
        posted = "nothing posted (dry run)" if self.dry_run else f"posted {self.posted}"
        kept = f" (an operator's own rating kept on {self.operator_rating_kept})" if self.operator_rating_kept else ""
        lines = [
            f"{self.judge}: {self.candidates} answers without an evaluation; evaluated {self.evaluated}, "
            f"{posted}{kept}, skipped {sum(self.skipped.values())}"
        ]
        lines += [f"  skipped {n}: {reason}" for reason, n in self.skipped.most_common()]
        lines.append(f"tokens: {self.input_tokens} in, {self.output_tokens} out; estimated cost ${self.cost_usd:.4f}")
        if self.stopped:
            lines.append(f"stopped: {self.stopped}")
        return lines

    def to_dict(self) -> dict:
        return {**{k: v for k, v in vars(self).items() if k != "skipped"}, "skipped": dict(self.skipped)}


class CommandCenterApi:
    """The two endpoints the evaluator uses, over HTTP with token auth."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self._client = httpx2.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Token {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=httpx2.HTTPTransport(retries=2),  # connection failures only
        )

    def close(self) -> None:
        self._client.close()

    def unevaluated(self, since: datetime | None, limit: int, page_size: int = 200) -> list[Experience]:
        """Up to ``limit`` experiences without a rich evaluation, oldest first, each once."""
        found: dict[str, Experience] = {}
        cursor = since
        while len(found) < limit:
            params = {"has_evaluation": "false", "limit": page_size}
            if cursor is not None:
                params["since"] = cursor.isoformat()
            body = self._request("GET", "/api/layer2/experiences/", params=params)
            page = [Experience.from_dict(e) for e in body["experiences"]]
            fresh = [e for e in page if e.query_id not in found]
            for experience in fresh[: limit - len(found)]:
                found[experience.query_id] = experience
            if not fresh or len(page) < page_size:
                break
            cursor = max(e.created_at for e in page)  # the next page starts where this one ended
        return list(found.values())

    def check_posts_as(self, source: str) -> None:
        """Raise ``ApiError`` unless the token is a judge account whose feedback the server records as ``source``."""
        account = self._request("GET", "/api/layer2/account/")
        if account["feedback_source"] != source:
            name = source.removeprefix("judge:")
            raise ApiError(
                f"the token belongs to {account['username']!r}, whose feedback is recorded as "
                f"{account['feedback_source']!r}, not {source!r}: give this judge its own account with "
                f"'python manage.py create_api_user {name} --judge --quiet' and pass its token"
            )

    def post_feedback(self, payload: dict) -> dict:
        return self._request("POST", "/api/layer2/feedback/", json=payload)

    def _request(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx2.HTTPError as error:
            raise ApiError(f"cannot reach {self.base_url}: {error}") from error
        if response.status_code in (401, 403):
            raise ApiError(
                f"{method} {path}: {response.status_code}: the server refused the token. Create one with "
                "'python manage.py create_api_user claude --judge --quiet' (or offline) and pass it as --token or "
                "COMMAND_CENTER_TOKEN"
            )
        if response.status_code >= 400:
            raise ApiError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()


class Budget:
    """Tokens and estimated dollars spent so far by the run's judge calls (shared by its threads)."""

    def __init__(self, judge: Judge, max_tokens: int | None, max_cost_usd: float | None):
        self.judge, self.max_tokens, self.max_cost_usd = judge, max_tokens, max_cost_usd
        self.input_tokens = self.output_tokens = 0
        self._lock = threading.Lock()

    @property
    def cost_usd(self) -> float:
        return self.judge.cost_usd(self.input_tokens, self.output_tokens)

    def spend(self, verdict: Verdict) -> None:
        with self._lock:
            self.input_tokens += verdict.input_tokens
            self.output_tokens += verdict.output_tokens

    def exhausted(self) -> str | None:
        with self._lock:
            tokens = self.input_tokens + self.output_tokens
            if self.max_tokens is not None and tokens >= self.max_tokens:
                return f"token budget spent ({tokens} of {self.max_tokens})"
            if self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd:
                return f"cost budget spent (${self.cost_usd:.4f} of ${self.max_cost_usd:.4f})"
            return None


@dataclass(frozen=True)
class _Outcome:
    evaluated: bool = False
    posted: bool = False
    operator_rated: bool = False
    skipped: str | None = None


def run_evaluation(*, config: RunConfig, judge: Judge, api: CommandCenterApi) -> RunSummary:
    """Judge the unevaluated experiences and post the evaluations. Raises ``RunBusy`` or ``ApiError``."""
    lock = FileLock(str(config.lock_path), timeout=0) if config.lock_path else nullcontext()
    try:
        with lock:
            return _run(config, judge, api)
    except Timeout:
        raise RunBusy(f"another evaluation run holds {config.lock_path}; nothing done") from None


def _run(config: RunConfig, judge: Judge, api: CommandCenterApi) -> RunSummary:
    summary = RunSummary(judge.source, dry_run=config.dry_run)
    api.check_posts_as(judge.source)
    experiences = api.unevaluated(config.since, config.limit, min(config.page_size, config.limit))
    summary.candidates = len(experiences)
    budget, stopped = Budget(judge, config.max_tokens, config.max_cost_usd), threading.Event()
    reasons: list[str] = []

    def one(experience: Experience) -> _Outcome:
        if stopped.is_set():
            return _Outcome(skipped="not judged: the run stopped")
        if (spent := budget.exhausted()) is not None:
            return _Outcome(skipped=spent)
        try:
            verdict = judge.evaluate(experience)
        except JudgeStopped as stop:
            reasons.append(str(stop))
            stopped.set()
            return _Outcome(skipped="not judged: the run stopped")
        except Exception as error:  # one answer the judge trips on must not cost the batch the rest
            logger.exception("%s: %s failed", judge.source, experience.query_id)
            return _Outcome(skipped=f"judge failed: {type(error).__name__}: {error}")
        budget.spend(verdict)
        return _post(config, judge, api, experience, verdict)

    with (
        ThreadPoolExecutor(config.concurrency, thread_name_prefix="judge") as pool,
        tqdm(total=len(experiences), disable=not config.progress, unit="answer", desc=judge.source) as bar,
    ):
        for future in as_completed([pool.submit(one, e) for e in experiences]):
            _count(summary, future.result())
            bar.update()
            bar.set_postfix(posted=summary.posted, skipped=sum(summary.skipped.values()), refresh=False)
    summary.input_tokens, summary.output_tokens = budget.input_tokens, budget.output_tokens
    summary.cost_usd = budget.cost_usd
    summary.stopped = reasons[0] if reasons else None
    return summary


def _post(config: RunConfig, judge: Judge, api: CommandCenterApi, experience: Experience, verdict: Verdict):
    if verdict.evaluation is None:
        logger.warning("%s: %s skipped: %s", judge.source, experience.query_id, verdict.skip_reason)
        return _Outcome(skipped=verdict.skip_reason)
    operator_rated = experience.feedback is not None and experience.feedback.source == OPERATOR
    if config.dry_run:
        logger.info("%s: %s rated %s (dry run)", judge.source, experience.query_id, verdict.evaluation.rating)
        return _Outcome(evaluated=True)
    try:
        api.post_feedback(verdict.evaluation.feedback_payload(experience.query_id))
    except ApiError as error:
        logger.warning("%s: %s not posted: %s", judge.source, experience.query_id, error)
        return _Outcome(evaluated=True, skipped=f"post refused: {error}")
    return _Outcome(evaluated=True, posted=True, operator_rated=operator_rated)


def _count(summary: RunSummary, outcome: _Outcome) -> None:
    summary.evaluated += outcome.evaluated
    summary.posted += outcome.posted
    summary.operator_rating_kept += outcome.operator_rated
    if outcome.skipped:
        summary.skipped[outcome.skipped] += 1
