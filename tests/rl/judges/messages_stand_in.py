"""A stand-in for Anthropic's Messages API on loopback, with replies scripted per test.

The real ``anthropic`` SDK is pointed at it with ``base_url``. Each
``POST /v1/messages`` is recorded (headers, JSON body, time) so a test can
check what the judge sent and how long it waited, then checked as the API
checks it (:func:`refusal`); a request the API would refuse gets the API's
error, and any other takes the next scripted :class:`Reply` (the last one
repeats once the script runs out). Error bodies have the shape the API sends:
``{"type": "error", "error": {"type", "message", "details": {"error_code"}}}``.

What the API refuses, as of 2026-12 (docs/judge.md, "Request settings", cites the sources): a retired model
(404); under the API version SDK 2.x sends (2026-10-21), any sampling parameter; on Claude Sonnet 5.5 and
Opus 5.5, a forced ``tool_choice``; on any model, thinking with a forced tool; in ``output_config.format``,
a JSON schema using what structured outputs do not support (numeric and length bounds, ``minItems`` other
than 0 or 1, an object without ``additionalProperties: false``).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow API)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict
    at: float  # time.monotonic()


def message(content: list[dict], *, stop_reason: str = "tool_use", input_tokens: int = 1200, output_tokens: int = 300):
    return {
        "id": "msg_stand_in",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-5-5",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def json_reply(evaluation: object, **usage) -> Reply:
    """The model answering with structured output: ``evaluation`` as the JSON of one text block."""
    block = {"type": "text", "text": json.dumps(evaluation)}
    return Reply(200, json.dumps(message([block], stop_reason="end_turn", **usage)).encode())


def tool_reply(evaluation: object, *, tool: str = "record_evaluation", **usage) -> Reply:
    """The model calling ``tool`` (the judge's ``record_evaluation``) with ``evaluation`` as its input."""
    block = {"type": "tool_use", "id": "toolu_stand_in", "name": tool, "input": evaluation}
    return Reply(200, json.dumps(message([block], **usage)).encode())


def text_reply(text: str, **usage) -> Reply:
    """The model answering in text instead of calling the tool."""
    return Reply(200, json.dumps(message([{"type": "text", "text": text}], stop_reason="end_turn", **usage)).encode())


def error_reply(status: int, error_type: str, text: str, *, error_code: str | None = None, **headers: str) -> Reply:
    error: dict = {"type": error_type, "message": text}
    if error_code:
        error["details"] = {"error_code": error_code}
    body = {"type": "error", "error": error, "request_id": "req_stand_in"}
    return Reply(status, json.dumps(body).encode(), {k.replace("_", "-"): v for k, v in headers.items()})


def evaluation_for(widget_types: list[str], *, rating: str = "up", score: float = 0.8) -> dict:
    """A complete, valid evaluation of a plan that showed ``widget_types``."""
    return {
        "query_understanding": "The operator wants chiller 1's power draw now.",
        "per_widget_feedback": [
            {
                "widget_index": i,
                "widget_type": t,
                "appropriateness_score": score,
                "size_appropriate": i % 2 == 0,
                "issues": [] if i == 0 else [f"widget {i} is secondary"],
                "strengths": [f"widget {i} shows the asked metric"],
            }
            for i, t in enumerate(widget_types)
        ],
        "missing_widgets": ["alerts_list"],
        "suggested_improvements": ["show the alarm limits next to the value"],
        "evaluation_reasoning": "The KPI answers the question; the spoken number matches the data.",
        "rating": rating,
        "evaluation_confidence": 0.85,
    }


DROP = Reply(0, b"")  # the connection is closed with no response
OVERLOADED = error_reply(529, "overloaded_error", "Overloaded")
SPEND_LIMIT = error_reply(
    429,
    "rate_limit_error",
    "Your organization has reached its monthly spend limit. Raise it in the console to continue.",
    error_code="enforced_spend_limit_reached",
    retry_after="1",
)
BAD_KEY = error_reply(401, "authentication_error", "invalid x-api-key")


class MessagesStandIn:
    """``with MessagesStandIn() as api: api.script(...)``; ``api.base_url`` for the SDK."""

    def __init__(self):
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self.received: list[Received] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = stand_in._next(Received(self.path, headers, body, time.monotonic()))
                time.sleep(reply.delay)
                if reply.status == 0:
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply.body)))
                self.send_header("request-id", "req_stand_in")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies = list(replies)

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            if received.path != "/v1/messages":
                return error_reply(404, "not_found_error", f"no route {received.path}")
            if (refused := refusal(received.body)) is not None:
                return refused
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]

    def __enter__(self) -> MessagesStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


# --------------------------------------------------------------------------- what the API refuses

RETIRED_MODELS = frozenset(
    {
        "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "claude-sonnet-4-20250514", "claude-sonnet-4-0",
        "claude-opus-4-20250514", "claude-opus-4-0", "claude-3-7-sonnet-20250219", "claude-3-5-haiku-20241022",
    }
)  # fmt: skip
NO_FORCED_TOOL_MODELS = frozenset({"claude-sonnet-5-5", "claude-opus-5-5"})
SAMPLING = ("temperature", "top_p", "top_k")
# What a structured-output schema may hold (the API's limits; anthropic.transform_schema keeps to them).
SCHEMA_KEYS = frozenset(
    {"type", "description", "title", "enum", "const", "anyOf", "allOf", "$ref", "$defs", "properties", "required",
     "additionalProperties", "items", "minItems", "format"}
)  # fmt: skip


def refusal(body: dict) -> Reply | None:
    """The API's error for a request it would refuse; None for one it accepts."""
    model = body.get("model", "")
    if model in RETIRED_MODELS:
        return error_reply(404, "not_found_error", f"model: {model}")
    for name in SAMPLING:
        if name in body:
            return _invalid(f"{name}: Extra inputs are not permitted")
    forced = (body.get("tool_choice") or {}).get("type") in ("tool", "any")
    if forced and model in NO_FORCED_TOOL_MODELS:
        return _invalid(f"tool_choice: forced tool use is not supported by {model}; use tool_choice auto or none")
    if forced and (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        return _invalid("Thinking may not be enabled when tool_choice forces tool use.")
    output_format = (body.get("output_config") or {}).get("format")
    if output_format is not None:
        problem = _schema_problem(output_format.get("schema") or {})
        if output_format.get("type") != "json_schema" or problem:
            return _invalid(f"output_config.format.schema: {problem or 'format type must be json_schema'}")
    return None


def _invalid(text: str) -> Reply:
    return error_reply(400, "invalid_request_error", text)


def _schema_problem(schema: dict) -> str | None:
    unsupported = sorted(set(schema) - SCHEMA_KEYS)
    if unsupported:
        return f"For '{schema.get('type')}' type, properties {', '.join(unsupported)} are not supported"
    if schema.get("minItems", 0) not in (0, 1):
        return "For 'array' type, 'minItems' values other than 0 or 1 are not supported"
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        return "For 'object' type, 'additionalProperties' must be explicitly set to false"
    children = [*schema.get("properties", {}).values(), *schema.get("anyOf", []), *schema.get("allOf", [])]
    children += [schema["items"]] if isinstance(schema.get("items"), dict) else []
    children += list(schema.get("$defs", {}).values())
    return next((p for child in children if (p := _schema_problem(child))), None)
