"""The Claude judge: the official ``anthropic`` SDK, structured output, validated before use.

One experience is one conversation. The model is given the rubric
(``rl/judges/claude_prompt.py``) and answers in JSON constrained by
``output_config.format`` to the evaluation schema (``rl/judges/evaluation.py``),
as the SDK's ``transform_schema`` rewrites it for the API: structured outputs
accept no numeric or length bounds, so those move into the field descriptions,
and the full schema is checked here. Current models refuse a forced
``tool_choice`` (Claude Sonnet 5.5) and any sampling parameter (API version
2026-10-21: no ``temperature``, ``top_p``, ``top_k``), so neither is sent; the
test stand-in (``tests/rl/judges/messages_stand_in.py``) refuses them as the API
does. A rejected evaluation (malformed JSON, a missing field, a score out of
range, a widget that is not in the plan) is sent back naming the fault, and the
model tries again, up to ``max_attempts`` in all; after that the experience is
skipped with the reason.

Transport failures are retried here rather than by the SDK (its own retries
are off, ``max_retries=0``): 408, 409, 429, 5xx, 529 and network errors wait
for the ``retry-after-ms``/``retry-after`` the server sent, or back off
exponentially with jitter (``retry_base_delay`` doubling to
``retry_max_delay``, so tests can make waits short by configuration), up to
``max_retries`` times. The SDK would also retry a 429 that means the spend
limit is reached; that, a billing error, and a rejected key (401/403) or an
unknown model (404) raise :class:`~rl.judges.evaluation.JudgeStopped` at once,
since every later call would fail the same way.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from dataclasses import dataclass, field

import anthropic

from rl.experiences.records import Experience
from rl.judges.claude_prompt import SYSTEM_PROMPT, rubric_prompt
from rl.judges.evaluation import InvalidEvaluation, JudgeStopped, Verdict, evaluation_schema, parse_evaluation

logger = logging.getLogger(__name__)

# Claude Sonnet 5.5, the recommended replacement for Sonnet 4.5 (retired 2026-11-30). Model ids from the 4.6
# generation on carry no date and are themselves the pinned version; pin another with JUDGE_MODEL / --model.
DEFAULT_MODEL = "claude-sonnet-5-5"
# USD per million (input, output) tokens, by model id prefix (longest match wins); public list prices where
# known (Sonnet 5.5's assumed to be Sonnet's usual; pass --input-price / --output-price to be exact).
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "claude-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4": (15.0, 75.0),
}
RETRYABLE_STATUS = frozenset({408, 409, 429})  # and every 5xx, 529 (overloaded) included
SPEND_LIMIT_CODES = frozenset(
    {
        "enforced_spend_limit_reached",
        "contract_spend_limit_reached",
        "linked_organization_spend_limit_reached",
        "linked_organization_billing_unavailable",
    }
)
BILLING_WORDS = ("credit balance", "spend limit", "usage limit", "billing")


@dataclass
class ClaudeJudgeConfig:
    """How the Claude judge calls the Messages API."""

    api_key: str = field(metadata={"help": "The Messages API key (ANTHROPIC_API_KEY)."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Claude model id."})
    base_url: str | None = field(
        default=None, metadata={"help": "Messages API endpoint (ANTHROPIC_BASE_URL); None: the SDK's default."}
    )
    max_output_tokens: int = field(default=2048, metadata={"help": "Most output tokens per call."})
    max_attempts: int = field(
        default=2, metadata={"help": "Calls per experience when evaluations are rejected (1: no second chance)."}
    )
    max_retries: int = field(
        default=4, metadata={"help": "Retries of one call after 408/409/429/5xx/529 or a network error."}
    )
    retry_base_delay: float = field(
        default=1.0, metadata={"help": "First retry delay in seconds; doubles each retry (with up to 25% jitter off)."}
    )
    retry_max_delay: float = field(default=30.0, metadata={"help": "Longest retry delay, in seconds."})
    max_retry_after: float = field(
        default=120.0, metadata={"help": "A retry-after longer than this (seconds) gives the experience up."}
    )
    timeout: float = field(default=120.0, metadata={"help": "Seconds per HTTP call."})
    input_price_per_mtok: float | None = field(
        default=None, metadata={"help": "USD per million input tokens; None: from PRICES_PER_MTOK by model."}
    )
    output_price_per_mtok: float | None = field(
        default=None, metadata={"help": "USD per million output tokens; None: from PRICES_PER_MTOK by model."}
    )

    def __post_init__(self):
        if not self.api_key:
            raise ValueError("api_key is empty: set ANTHROPIC_API_KEY (or use the offline judge)")
        if not self.model:
            raise ValueError("model must be a Claude model id, got ''")
        for name in ("max_output_tokens", "max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")
        for name in ("retry_base_delay", "retry_max_delay", "max_retry_after", "timeout"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more seconds, got {getattr(self, name)}")
        for name in ("input_price_per_mtok", "output_price_per_mtok"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")

    def prices(self) -> tuple[float, float] | None:
        """USD per million (input, output) tokens; None when neither given nor known for the model."""
        if self.input_price_per_mtok is not None and self.output_price_per_mtok is not None:
            return self.input_price_per_mtok, self.output_price_per_mtok
        known = [p for p in PRICES_PER_MTOK if self.model.startswith(p)]
        listed = PRICES_PER_MTOK[max(known, key=len)] if known else None
        if listed is None:
            return None
        return (
            listed[0] if self.input_price_per_mtok is None else self.input_price_per_mtok,
            listed[1] if self.output_price_per_mtok is None else self.output_price_per_mtok,
        )


class _GiveUp(Exception):
    """This experience cannot be judged now (retries spent); the run goes on."""


class ClaudeJudge:
    source = "judge:claude"

    def __init__(self, config: ClaudeJudgeConfig):
        self.config = config
        self._client = anthropic.Anthropic(
            api_key=config.api_key, base_url=config.base_url or None, max_retries=0, timeout=config.timeout
        )

    def close(self) -> None:
        self._client.close()

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        prices = self.config.prices() or PRICES_PER_MTOK["claude-sonnet"]
        return (input_tokens * prices[0] + output_tokens * prices[1]) / 1_000_000

    def evaluate(self, experience: Experience) -> Verdict:
        """An evaluation of ``experience``, or the reason there is none. Raises ``JudgeStopped``."""
        output_format = {
            "type": "json_schema",
            "schema": anthropic.transform_schema(evaluation_schema(len(experience.widgets))),
        }
        messages: list[dict] = [{"role": "user", "content": rubric_prompt(experience)}]
        tokens_in = tokens_out = 0
        reason = ""
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                response = self._create(messages, output_format)
            except _GiveUp as give_up:
                return Verdict(None, str(give_up), tokens_in, tokens_out, attempt)
            usage = response.usage
            tokens_in += (
                usage.input_tokens + (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
            )
            tokens_out += usage.output_tokens
            try:
                evaluation = parse_evaluation(_reply_json(response), experience.widgets)
            except InvalidEvaluation as invalid:
                reason = invalid.reason
                logger.warning(
                    "claude judge: evaluation of %s rejected (attempt %d of %d): %s",
                    experience.query_id, attempt, self.config.max_attempts, reason,
                )  # fmt: skip
                messages += [_echo(response), _retry_message(reason)]
                continue
            return Verdict(evaluation, None, tokens_in, tokens_out, attempt)
        return Verdict(
            None, f"invalid evaluation after {self.config.max_attempts} attempts: {reason}", tokens_in, tokens_out,
            self.config.max_attempts,
        )  # fmt: skip

    # -- one call, with retries ------------------------------------------------------------

    def _create(self, messages: list[dict], output_format: dict) -> anthropic.types.Message:
        cfg = self.config
        for retry in range(cfg.max_retries + 1):
            try:
                return self._client.messages.create(
                    model=cfg.model,
                    max_tokens=cfg.max_output_tokens,
                    system=SYSTEM_PROMPT,
                    output_config={"format": output_format},
                    messages=messages,
                )
            except anthropic.APIStatusError as error:
                if (stop := stop_reason(error, cfg.model)) is not None:
                    raise JudgeStopped(stop) from error
                problem, headers = _describe(error), error.response.headers
                if not _retryable(error):
                    raise _GiveUp(f"{problem} (not retried)") from error
            except anthropic.APIConnectionError as error:  # includes timeouts
                problem, headers = f"network error: {error}", None
            except (json.JSONDecodeError, anthropic.APIResponseValidationError) as error:  # a garbled 200 body
                problem, headers = f"unreadable response body: {error}", None
            if retry == cfg.max_retries:
                raise _GiveUp(f"{problem}, still failing after {retry + 1} attempts")
            wait = self._wait(retry, headers)
            if wait > cfg.max_retry_after:
                raise _GiveUp(f"{problem}: the server asks to wait {wait:.0f} s, over max_retry_after")
            logger.info("claude judge: %s; retry %d of %d in %.2f s", problem, retry + 1, cfg.max_retries, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _wait(self, retry: int, headers) -> float:
        """What the server asked for, else exponential backoff with jitter."""
        asked = retry_after(headers) if headers is not None else None
        if asked is not None:
            return asked
        delay = min(self.config.retry_base_delay * 2**retry, self.config.retry_max_delay)
        return delay * (1 - 0.25 * random.random())


def retry_after(headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date); None if absent or unreadable."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(float(value) * scale, 0.0)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)
    return None


def stop_reason(error: anthropic.APIStatusError, model: str) -> str | None:
    """Why the whole run must stop on this error (a clear message), or None if only this call failed."""
    message = error.api_message or str(error)
    what = f"{error.status_code} {error.error_code or error.type or 'error'}: {message}"
    if (
        error.error_code in SPEND_LIMIT_CODES
        or error.type == "billing_error"
        or error.status_code == 402
        or any(word in message.lower() for word in BILLING_WORDS)
    ):
        return (
            f"Anthropic refused for spend or billing ({what}). Raise the spend limit or add credit in the "
            "Anthropic console, then run again."
        )
    if error.status_code == 401:
        return f"Anthropic rejected the API key ({what}). Check ANTHROPIC_API_KEY."
    if error.status_code == 403:
        return f"The API key may not use this model or endpoint ({what}). Check the key's workspace and --model."
    if error.status_code == 404:
        return f"Not found ({what}). Check --model ({model!r}) and ANTHROPIC_BASE_URL."
    return None


def _retryable(error: anthropic.APIStatusError) -> bool:
    should = error.response.headers.get("x-should-retry")
    if should in ("true", "false"):
        return should == "true"
    return error.status_code in RETRYABLE_STATUS or error.status_code >= 500


def _describe(error: anthropic.APIStatusError) -> str:
    return f"{error.status_code} {error.type or 'error'}: {error.api_message or error.message}"


def _reply_json(response: anthropic.types.Message) -> object:
    """The evaluation the model sent: the JSON of its text blocks (structured output)."""
    text = "".join(block.text for block in response.content if block.type == "text").strip()
    if response.stop_reason == "max_tokens":
        raise InvalidEvaluation("the reply was cut off at max_tokens before the evaluation was complete")
    if response.stop_reason == "refusal":
        raise InvalidEvaluation("the model declined to evaluate this answer (stop_reason refusal)")
    if not text:
        raise InvalidEvaluation(f"no evaluation in the reply (stop_reason {response.stop_reason})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidEvaluation(f"the reply is not valid JSON ({error.msg} at char {error.pos})") from None


def _echo(response: anthropic.types.Message) -> dict:
    """The model's reply as the assistant turn of the next request."""
    content = [block.model_dump(mode="json", exclude_none=True, warnings=False) for block in response.content]
    return {"role": "assistant", "content": content}


def _retry_message(reason: str) -> dict:
    """Tell the model what was wrong with its evaluation."""
    return {"role": "user", "content": f"Rejected: {reason}. Reply with a complete, corrected evaluation."}
