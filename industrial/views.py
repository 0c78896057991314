from dataclasses import asdict

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from industrial.health import plant_health
from industrial.timeseries_access import get_timeseries_access


class HealthView(APIView):
    """Liveness plus a glance at the plant's store: is the database there and is data arriving?"""

    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"status": "ok", "timeseries": asdict(plant_health(get_timeseries_access()))})
