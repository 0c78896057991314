from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from industrial.views import HealthView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/industrial/", include("industrial.urls")),
    path("api/layer2/", include("layer2.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("layer2.console.urls")),  # the operator console (last: the API's paths come first)
]

handler400 = "command_center.error_views.bad_request"
handler403 = "command_center.error_views.permission_denied"
handler404 = "command_center.error_views.not_found"
handler500 = "command_center.error_views.server_error"
