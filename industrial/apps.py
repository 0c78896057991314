from django.apps import AppConfig


class IndustrialConfig(AppConfig):
    name = "industrial"
    default_auto_field = "django.db.models.BigAutoField"
