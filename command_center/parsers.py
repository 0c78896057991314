"""The API's JSON parser: DRF's, with nesting too deep for Python's decoder refused as a 400."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser


class JSONParser(DRFJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:  # ~1000 nested arrays or objects exhaust the decoder's stack
            raise ParseError("JSON parse error - nested too deeply") from None
