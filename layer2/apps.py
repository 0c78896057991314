from django.apps import AppConfig
from django.core import checks


class Layer2Config(AppConfig):
    name = "layer2"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(plant_time_zone_check)


def plant_time_zone_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """``PLANT_TIME_ZONE`` must be an IANA name the machine knows, or every calendar word would fail."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from django.conf import settings

    try:
        ZoneInfo(settings.PLANT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return [
            checks.Error(
                f"PLANT_TIME_ZONE {settings.PLANT_TIME_ZONE!r} is not an IANA time zone name",
                hint="Use a name like 'UTC', 'Asia/Kolkata' or 'America/Chicago'.",
                id="layer2.E001",
            )
        ]
    return []
