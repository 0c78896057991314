"""Small response headers that help operators (and tests) see which worker answered."""

import os

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class ServedByMiddleware:
    """Adds ``X-Served-By: <pid>``: with several gunicorn workers, which one handled the request.

    Both sync and async, so that under ASGI Django does not hop threads for it.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return _served_by(self.get_response(request))

    async def _acall(self, request):
        return _served_by(await self.get_response(request))


def _served_by(response):
    response["X-Served-By"] = str(os.getpid())
    return response
