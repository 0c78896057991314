"""What both APIs share about their fields: strict about what a client sends, never guessing, and described
in the OpenAPI schema as they are enforced (``docs/fuzzing.md``: a schemathesis run holds the two to each other).

The schema's global responses are ``command_center/api_schema.py``'s.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.fields import empty

# What ``str.strip()`` removes (every character whose ``isspace()`` is true), spelled out: JSON Schema's
# ``\s`` (ECMA-262) is another set, and a blank-looking string must read the same to a client as to DRF.
WHITESPACE = r"\x09-\x0d\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]+$"  # DRF refuses NUL (\u0000) in every string field
NOT_BLANK = rf"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$"  # ... and, unless allow_blank, one that strips to ""


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO-8601 datetime that carries its timezone; a naive one is refused rather than guessed."""

    default_error_messages = {"naive": "Datetime has no timezone; add Z or an offset such as +05:30."}

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class QueryParameters(serializers.Serializer):
    """A query string's parameters, where one given empty (``?since=``, ``?limit=``) is refused.

    DRF reads an empty value of an optional field as the field left out (a habit from HTML forms); the schema
    declares no empty value for any parameter (an ``allow_blank`` one aside), so a client that sends one has
    made a mistake it should hear about.
    """

    default_error_messages = {"empty": "Give a value, or leave the parameter out."}

    def to_internal_value(self, data):
        empty_given = {
            name: [self.error_messages["empty"]]
            for name, field in self.fields.items()
            if not field.read_only and not getattr(field, "allow_blank", False) and data.get(name) == ""
        }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**exc.detail, **empty_given}) from exc
        if empty_given:
            raise serializers.ValidationError(empty_given)
        return value


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField would quietly turn 123 into "123".

    ``max_length`` counts the string as sent, before whitespace is trimmed: the schema's ``maxLength`` does.
    """

    def run_validation(self, data=empty):
        if data is not empty and data is not None and not isinstance(data, str):
            self.fail("invalid")
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length, length=len(data))
        return super().run_validation(data)


class StrictRegexField(StrictCharField):
    """A string the whole of which matches ``pattern`` (no trimming, and no newline slipping past ``$``)."""

    def __init__(self, pattern: str, **kwargs):
        self.pattern = pattern
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self._regex = re.compile(pattern)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if not self._regex.fullmatch(value):
            self.fail("invalid")
        return value


class StrictFloatField(serializers.FloatField):
    """A JSON number, and only a number: DRF's FloatField would take "0.5" and true. For request bodies."""

    def to_internal_value(self, data) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (2 or 2.0), and only that: DRF's IntegerField would take "2" and true. For request bodies."""

    def to_internal_value(self, data) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false, and only those: DRF's BooleanField would take "yes", 1 and "on". For request bodies."""

    def to_internal_value(self, data) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):
    """The schema of a strict string: what it refuses (NUL; blank unless ``allow_blank``) is in its pattern."""

    target_class = StrictCharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        field = self.target
        if isinstance(field, StrictRegexField):
            schema["pattern"] = f"^(?:{field.pattern})$"
        else:
            # The non-empty strings it takes; with allow_blank, drf-spectacular adds "" as a oneOf branch of its own.
            blank_refused = field.trim_whitespace and not field.allow_blank
            schema["pattern"] = NOT_BLANK if blank_refused else NO_NUL
            schema["minLength"] = max(schema.get("minLength", 0), 1)
        return schema
