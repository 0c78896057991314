"""Request and response shapes of the industrial API (``industrial/views.py``).

Query serializers turn a query string into the keyword arguments of a
:class:`~industrial.timeseries.access.TimeSeriesDataAccess` method (``source``
maps a parameter to its argument: ``type`` -> ``equipment_type``, ``agg`` ->
``aggregation``), and their errors name the parameter: ``{"start": ["..."]}``.
Names are checked against the catalog of ``context["access"]``; an unknown
equipment in the URL (``context["equipment_id"]``) is left to raise
``UnknownEquipment``, which the exception handler turns into a 404.

Response serializers read the access layer's dataclasses as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from command_center.api_fields import AwareDateTimeField, QueryParameters
from industrial.errors import UnknownEquipment, UnknownEquipmentType, UnknownMetric
from industrial.plant.spec import READING_INTERVAL
from industrial.timeseries.access import AGGREGATIONS, BUCKET_CHOICES, SEVERITIES

DEFAULT_WINDOW = timedelta(hours=24)
_NAME_LENGTH = 100  # longer than any table or column name PostgreSQL allows (63)


# --------------------------------------------------------------------------- fields


class CommaSeparatedField(serializers.CharField):
    """``a,b`` in a query string -> ``["a", "b"]`` (blanks and repeats dropped), each one of ``choices`` if given."""

    default_error_messages = {"empty": "Give at least one name."}

    def __init__(self, *, choices: tuple[str, ...] | None = None, **kwargs):
        self.choices = choices
        kwargs.setdefault("max_length", 1000)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> list[str]:
        text = super().to_internal_value(data)
        names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
        if not names:
            self.fail("empty")
        for name in names:
            if self.choices is not None and name not in self.choices:
                raise serializers.ValidationError(_one_of(self.choices).format(input=name), code="invalid_choice")
        return names


@extend_schema_field(
    {
        "type": "array",
        "description": "[timestamp, value] pairs, oldest first; value is null where a bucket has only nulls.",
        "items": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "number", "nullable": True}]},
        },
    }
)
class PointsField(serializers.Field):
    """``[(datetime, value), ...]`` as ``[["2026-03-01T00:00:00Z", 412.5], ...]``."""

    def to_representation(self, points) -> list[list]:
        iso = serializers.DateTimeField()
        return [[iso.to_representation(ts), value] for ts, value in points]


def _one_of(choices) -> str:
    """An ``invalid_choice`` message that lists the choices."""
    return '"{input}" is not one of ' + ", ".join(choices) + "."


def _day_before(end: datetime) -> datetime:
    """``end`` - 24 h, or the first instant a datetime holds when that is closer (an ``end`` in year 1)."""
    earliest = datetime.min.replace(tzinfo=UTC)
    if end - earliest <= DEFAULT_WINDOW:
        if end == earliest:
            raise serializers.ValidationError({"end": [f"Must be after {_iso(earliest)}, the earliest datetime."]})
        return earliest
    return end - DEFAULT_WINDOW


def _iso(value: datetime) -> str:
    return serializers.DateTimeField().to_representation(value)


def _known_type(access, equipment_type: str) -> str:
    try:
        access.catalog.ids_of_type(equipment_type)
    except UnknownEquipmentType as exc:
        raise serializers.ValidationError(str(exc)) from exc
    return equipment_type


# --------------------------------------------------------------------------- query parameters


class EquipmentQuerySerializer(QueryParameters):
    type = serializers.CharField(
        required=False, max_length=_NAME_LENGTH, source="equipment_type", help_text="Only this equipment type."
    )

    def validate_type(self, value: str) -> str:
        return _known_type(self.context["access"], value)


class LatestQuerySerializer(QueryParameters):
    metrics = CommaSeparatedField(required=False, help_text="Comma-separated metric names; default all.")

    def validate_metrics(self, value: list[str]) -> list[str]:
        for metric in value:
            try:
                self.context["access"].metric(self.context["equipment_id"], metric)
            except UnknownMetric as exc:
                raise serializers.ValidationError(str(exc)) from exc
        return value


class WindowQuerySerializer(QueryParameters):
    """``start`` and ``end`` (ISO-8601 with a timezone), start before end; an empty parameter is a 400."""

    start = AwareDateTimeField(required=False, help_text="Inclusive, ISO-8601 with a timezone.")
    end = AwareDateTimeField(required=False, help_text="Exclusive, ISO-8601 with a timezone.")

    def validate(self, attrs: dict) -> dict:
        attrs = self.fill_window(attrs)
        if "start" in attrs and "end" in attrs and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"start": [f"Must be before end ({_iso(attrs['end'])})."]})
        return attrs

    def fill_window(self, attrs: dict) -> dict:
        return attrs


class TimeSeriesQuerySerializer(WindowQuerySerializer):
    """Without ``end``: the equipment's latest reading + 1 minute; without ``start``: ``end`` - 24 h (year 1 at
    the earliest, so an ``end`` at the edge of the calendar is a 400 naming it, never an overflow)."""

    metric = serializers.CharField(max_length=_NAME_LENGTH, help_text="One metric column of the equipment.")
    bucket = serializers.ChoiceField(
        choices=list(BUCKET_CHOICES),
        default="1h",
        error_messages={"invalid_choice": _one_of(BUCKET_CHOICES)},
        help_text="Bucket width, aligned to UTC (1w from Monday, 1mo by calendar month); raw for rows.",
    )
    agg = serializers.ChoiceField(
        choices=list(AGGREGATIONS),
        default="avg",
        source="aggregation",
        error_messages={"invalid_choice": _one_of(AGGREGATIONS)},
        help_text="Aggregation within a bucket.",
    )

    def validate_metric(self, value: str) -> str:
        # Unknown equipment (404) or metric (400 {"metric": [...], "suggestions": [...]}): the handler's job.
        self.context["access"].metric(self.context["equipment_id"], value)
        return value

    def fill_window(self, attrs: dict) -> dict:
        if "end" not in attrs:
            reading = self.context["access"].latest(self.context["equipment_id"], [attrs["metric"]])
            attrs["end"] = reading.timestamp + READING_INTERVAL if reading else timezone.now()
        if "start" not in attrs:
            attrs["start"] = _day_before(attrs["end"])
        return attrs


class AlertQuerySerializer(WindowQuerySerializer):
    """Filters of ``access.alerts`` and ``access.alert_counts``; ``start``/``end`` bound ``raised_at``."""

    active = serializers.BooleanField(default=False, source="active_only", help_text="Only alerts not cleared.")
    severity = CommaSeparatedField(
        required=False, choices=SEVERITIES, help_text=f"Comma-separated, of {', '.join(SEVERITIES)}."
    )
    equipment_id = serializers.CharField(required=False, max_length=_NAME_LENGTH, help_text="Only this equipment.")
    type = serializers.CharField(
        required=False, max_length=_NAME_LENGTH, source="equipment_type", help_text="Only this equipment type."
    )
    limit = serializers.IntegerField(default=100, min_value=1, max_value=1000, help_text="Most alerts returned.")

    def validate_equipment_id(self, value: str) -> str:
        try:
            self.context["access"].catalog.table(value)
        except UnknownEquipment as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate_type(self, value: str) -> str:
        return _known_type(self.context["access"], value)


# --------------------------------------------------------------------------- responses


class MetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    unit = serializers.CharField(help_text="'' for dimensionless metrics (cop, power_factor, running_status).")
    label = serializers.CharField()


class EquipmentSerializer(serializers.Serializer):
    equipment_id = serializers.CharField()
    equipment_type = serializers.CharField()
    display_name = serializers.CharField()
    building = serializers.CharField(allow_null=True)
    zone = serializers.CharField(allow_null=True)
    rated_capacity = serializers.FloatField(allow_null=True)
    rated_unit = serializers.CharField(allow_null=True)
    install_date = serializers.DateField(allow_null=True)
    criticality = serializers.CharField(allow_null=True)
    metrics = MetricSerializer(many=True)


class ReadingSerializer(serializers.Serializer):
    equipment_id = serializers.CharField()
    timestamp = serializers.DateTimeField(allow_null=True, help_text="null while the equipment has no readings.")
    values = serializers.DictField(child=serializers.FloatField(allow_null=True))
    units = serializers.DictField(child=serializers.CharField())


class SeriesSerializer(serializers.Serializer):
    equipment_id = serializers.CharField()
    metric = serializers.CharField()
    unit = serializers.CharField()
    bucket = serializers.CharField()
    aggregation = serializers.CharField(help_text="raw when bucket is raw.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    points = PointsField()


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    equipment_id = serializers.CharField()
    equipment_type = serializers.CharField()
    display_name = serializers.CharField()
    severity = serializers.CharField()
    metric = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    message = serializers.CharField()
    raised_at = serializers.DateTimeField()
    cleared_at = serializers.DateTimeField(allow_null=True)
    acknowledged = serializers.BooleanField()
    active = serializers.BooleanField()


class AlertListSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Alerts in this response (at most limit).")
    counts_by_severity = serializers.DictField(
        child=serializers.IntegerField(), help_text="Every alert matching the filters, by severity (limit ignored)."
    )
    alerts = AlertSerializer(many=True)


class PlantHealthSerializer(serializers.Serializer):
    equipment = serializers.IntegerField()
    types = serializers.DictField(child=serializers.IntegerField(), help_text="Equipment count by type.")
    latest_reading = serializers.DateTimeField(allow_null=True)
    active_alerts = serializers.IntegerField()


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    timeseries = PlantHealthSerializer()


class NotFoundSerializer(serializers.Serializer):
    detail = serializers.CharField()
    suggestions = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Close real equipment ids (an unknown id's 404)."
    )
