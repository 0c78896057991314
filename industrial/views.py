"""The read-only industrial API: equipment, latest readings, time series, alerts.

Each view validates its query string with a serializer from
``industrial/serializers.py``, makes one call to the time-series access layer
and serializes the record it gets back. Expected failures (unknown equipment
or metric, a bad window) are raised, not caught: ``command_center/api_errors.py``
maps them to 404/400.
"""

from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from industrial.serializers import (
    AlertListSerializer,
    AlertQuerySerializer,
    EquipmentQuerySerializer,
    EquipmentSerializer,
    HealthSerializer,
    LatestQuerySerializer,
    NotFoundSerializer,
    ReadingSerializer,
    SeriesSerializer,
    TimeSeriesQuerySerializer,
)
from industrial.timeseries.access import get_timeseries_access
from industrial.timeseries.health import plant_health

BAD_PARAMETER = OpenApiResponse(OpenApiTypes.OBJECT, description='A parameter is invalid: {"start": ["..."]}.')
NOT_FOUND = OpenApiResponse(NotFoundSerializer, description="No such equipment; suggestions holds close ids.")


def _query(serializer_class, request, **context) -> dict:
    """The request's query parameters, validated (a ValidationError is a 400 naming the parameter)."""
    serializer = serializer_class(data=request.query_params, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class HealthView(APIView):
    """Liveness plus a glance at the plant's store: is the database there and is data arriving?"""

    permission_classes = [AllowAny]

    @extend_schema(responses=HealthSerializer)
    def get(self, request):
        return Response({"status": "ok", "timeseries": asdict(plant_health(get_timeseries_access()))})


class EquipmentListView(APIView):
    """Every equipment of the plant, or of one type (`?type=chiller`), with its metrics."""

    @extend_schema(
        parameters=[EquipmentQuerySerializer], responses={200: EquipmentSerializer(many=True), 400: BAD_PARAMETER}
    )
    def get(self, request):
        access = get_timeseries_access()
        params = _query(EquipmentQuerySerializer, request, access=access)
        return Response(EquipmentSerializer(access.list_equipment(**params), many=True).data)


class EquipmentDetailView(APIView):
    """One equipment and its metrics."""

    @extend_schema(responses={200: EquipmentSerializer, 404: NOT_FOUND})
    def get(self, request, equipment_id: str):
        return Response(EquipmentSerializer(get_timeseries_access().equipment(equipment_id)).data)


class LatestReadingView(APIView):
    """The equipment's newest row: every metric, or those of `?metrics=a,b`."""

    @extend_schema(
        parameters=[LatestQuerySerializer],
        responses={200: ReadingSerializer, 400: BAD_PARAMETER, 404: NOT_FOUND},
    )
    def get(self, request, equipment_id: str):
        access = get_timeseries_access()
        params = _query(LatestQuerySerializer, request, access=access, equipment_id=equipment_id)
        reading = access.latest(equipment_id, params.get("metrics"))
        empty = {"equipment_id": equipment_id, "timestamp": None, "values": {}, "units": {}}
        return Response(ReadingSerializer(reading or empty).data)


class TimeSeriesView(APIView):
    """One metric over `[start, end)`, aggregated into buckets (or raw rows)."""

    @extend_schema(
        parameters=[TimeSeriesQuerySerializer],
        responses={200: SeriesSerializer, 400: BAD_PARAMETER, 404: NOT_FOUND},
    )
    def get(self, request, equipment_id: str):
        access = get_timeseries_access()
        params = _query(TimeSeriesQuerySerializer, request, access=access, equipment_id=equipment_id)
        return Response(SeriesSerializer(access.series(equipment_id, **params)).data)


class AlertListView(APIView):
    """Alerts, newest first, with how many match the same filters by severity."""

    @extend_schema(parameters=[AlertQuerySerializer], responses={200: AlertListSerializer, 400: BAD_PARAMETER})
    def get(self, request):
        access = get_timeseries_access()
        filters = _query(AlertQuerySerializer, request, access=access)
        alerts = access.alerts(**filters)
        filters.pop("limit")
        body = {"count": len(alerts), "counts_by_severity": access.alert_counts(**filters), "alerts": alerts}
        return Response(AlertListSerializer(body).data)
