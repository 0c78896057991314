from django.apps import AppConfig


class Layer2Config(AppConfig):
    name = "layer2"
    default_auto_field = "django.db.models.BigAutoField"
