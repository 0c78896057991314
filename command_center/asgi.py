"""The ASGI application gunicorn serves (``command_center/gunicorn_conf.py``).

Under ASGI each worker's event loop reads requests: a client that sends half a header, or a body a byte a
second, holds a coroutine, not the worker. Django runs the views, which are sync, in a thread.

Which thread: Django's handler gives every request its own (a fresh executor per request, joined after it),
so nothing thread-local outlives a request: Django's database connections were opened and closed each
time (~3 ms for SQLite in WAL mode), a new thread started and joined, and an answer cost ~10 ms more than
under a sync worker. :class:`OneThreadASGIHandler` runs every request's sync code on the process's one
thread-sensitive thread instead, one request at a time, as a sync worker does: connections persist
(``CONN_MAX_AGE``) and the views need be no more thread-safe than they were.

Django's ASGI handler spools a whole request body to a temporary file before anything looks at its size,
so :class:`BodyLimit` refuses a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` as it arrives (413, in JSON), as
the WSGI handler did by reading lazily.
"""

import json
import os

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler


class OneThreadASGIHandler(ASGIHandler):
    """Django's ASGI handler without its per-request ``ThreadSensitiveContext`` (see the module docstring)."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: at most ``settings.DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes of request body."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            return await _too_large(send, limit)
        received = 0

        async def bounded_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # a chunked body (no content-length) that grew past it
                raise _TooLarge
            return message

        try:
            await self.app(scope, bounded_receive, send)
        except _TooLarge:
            await _too_large(send, limit)


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"detail": f"Request body exceeds {limit} bytes."}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "command_center.settings")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application does before making its handler
application = BodyLimit(OneThreadASGIHandler())
