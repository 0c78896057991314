"""Serializer fields both APIs share: strict about what a client sends, never guessing."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO-8601 datetime that carries its timezone; a naive one is refused rather than guessed."""

    default_error_messages = {"naive": "Datetime has no timezone; add Z or an offset such as +05:30."}

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField would quietly turn 123 into "123"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
