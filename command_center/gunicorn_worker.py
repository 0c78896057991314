"""The gunicorn worker class: gunicorn's asyncio ``asgi`` worker, answering its own errors in JSON.

Gunicorn refuses some requests before Django sees them (a request line over ``limit_request_line``: 414;
headers over the limits: 431; a malformed request: 400) with a ``text/plain`` body. Every client of this API
reads JSON, so those answers carry ``{"detail": "..."}`` like every other error here.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi


class JSONErrorProtocol(ASGIProtocol):
    def _send_error_response(self, status, message, extra_headers=()):
        """gunicorn's error response (27.0.1, ``asgi/protocol.py``) with a JSON body; the connection closes."""
        body = json.dumps({"detail": str(message) or f"HTTP {status}"}).encode()
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in extra_headers]
        self._safe_write(("\r\n".join([*head, "Connection: close", "", ""])).encode("latin-1"))
        self._safe_write(body)


class Worker(gasgi.ASGIWorker):
    def init_process(self):
        # gasgi builds each connection's protocol from its module's ASGIProtocol name; in this worker
        # process (only) that name is ours.
        gasgi.ASGIProtocol = JSONErrorProtocol
        super().init_process()
