"""The OpenAPI schema's global responses: the errors any operation can answer (401, 406, 413, 414, 415, 429,
431), added by :func:`document_global_responses`, a drf-spectacular postprocessing hook (``SPECTACULAR_SETTINGS``).
"""

from __future__ import annotations

ERROR_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": 'An error: {"detail": "..."}.',
}
FIELD_ERRORS = {
    "type": "object",
    "description": 'Bad input, by field: {"transcript": ["This field may not be blank."]}; a list\'s items by '
    'index ({"issues": {"0": ["..."]}}); a body that is not JSON: {"detail": "JSON parse error - ..."}.',
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"anyOf": [{"type": "array"}, {"type": "object"}]},
}
# status -> (when, for which operations: "all", "body": those that take a request body)
GLOBAL_RESPONSES = {
    "401": ("No valid token (Authorization: Token <key>); also a wrong token where none is needed.", "all"),
    "406": ("The Accept header names no type this API answers (application/json).", "all"),
    "413": ("The request body is over MAX_REQUEST_BYTES (64 KiB).", "body"),
    "414": ("The request line (path and query string) is over 4094 bytes: refused by gunicorn.", "all"),
    "415": ("The body is not sent as application/json.", "body"),
    "429": ("Throttled: too many requests, or too many failed sign-ins from this address.", "all"),
    "431": ("A request header, or all of them together, is too large: refused by gunicorn.", "all"),
}


def document_global_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the errors every operation can answer, with the bodies it sends.

    Each is ``{"detail": "..."}`` (gunicorn's own 414 and 431 too: ``command_center/gunicorn_worker.py``); an
    operation that takes a body also answers 400 (not JSON) with :data:`FIELD_ERRORS`, unless it says more.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorDetail"] = ERROR_DETAIL
    schemas["FieldErrors"] = FIELD_ERRORS
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            takes_body = "requestBody" in operation
            for code, (description, where) in GLOBAL_RESPONSES.items():
                if where == "body" and not takes_body:
                    continue
                responses.setdefault(code, _json_response("ErrorDetail", description))
            if takes_body:
                responses.setdefault("400", _json_response("FieldErrors", "Bad input (see FieldErrors)."))
            operation["responses"] = dict(sorted(responses.items()))
    return result


def _json_response(component: str, description: str) -> dict:
    return {
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
        "description": description,
    }
