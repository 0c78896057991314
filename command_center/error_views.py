"""Django's error pages for the API: JSON under ``/api/``, Django's own HTML elsewhere (the admin).

DRF answers the errors its views raise; these answer the rest: a path no URL matches, a failure outside a
view (a middleware, a host name not allowed), and anything that escapes as a 500.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": f"No API endpoint at {request.path} (see /api/schema/)."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Internal server error; it has been logged."}, status=500)
    return defaults.server_error(request)
