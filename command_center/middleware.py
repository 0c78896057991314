"""Small response headers that help operators (and tests) see which worker answered."""

import os


class ServedByMiddleware:
    """Adds ``X-Served-By: <pid>``: with several gunicorn workers, which one handled the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Served-By"] = str(os.getpid())
        return response
