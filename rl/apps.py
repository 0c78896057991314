from django.apps import AppConfig


class RlConfig(AppConfig):
    name = "rl"
    default_auto_field = "django.db.models.BigAutoField"
