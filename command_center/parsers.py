"""The API's JSON parser: DRF's, refusing JSON nested deeper than any request of ours is (400).

No request body here is nested more than a few levels (feedback's per-widget entries are the deepest).
Python's decoder itself gives up with a ``RecursionError`` somewhere near 1,000 levels, where exactly
depending on the thread's stack: refused at ``MAX_DEPTH`` whatever the thread, the answer is the same 400.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser

MAX_DEPTH = 32
TOO_DEEP = f"JSON parse error - nested too deeply (more than {MAX_DEPTH} levels)"


class JSONParser(DRFJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if _depth(data) > MAX_DEPTH:
            raise ParseError(TOO_DEEP)
        return data


def _depth(value) -> int:
    """How deep lists and objects nest in ``value`` (a scalar: 0), without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:  # past it the answer is known
            stack.extend((child, level + 1) for child in children)
    return deepest
