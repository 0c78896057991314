"""The industrial API, mounted at /api/industrial/ (see docs/api_industrial.md)."""

from django.urls import path

from industrial import views

urlpatterns = [
    path("equipment/", views.EquipmentListView.as_view(), name="equipment-list"),
    path("equipment/<str:equipment_id>/", views.EquipmentDetailView.as_view(), name="equipment-detail"),
    path("equipment/<str:equipment_id>/latest/", views.LatestReadingView.as_view(), name="equipment-latest"),
    path("equipment/<str:equipment_id>/timeseries/", views.TimeSeriesView.as_view(), name="equipment-timeseries"),
    path("alerts/", views.AlertListView.as_view(), name="alert-list"),
]
