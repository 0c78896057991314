from django.apps import AppConfig
from django.core import checks


class RlConfig(AppConfig):
    name = "rl"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(experience_store_url_check)


def experience_store_url_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """``EXPERIENCE_STORE_URL`` is empty or PostgreSQL: a typo must stop ``migrate`` and the server's start,
    not the first answer."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from rl.experiences.postgres import check_store_url

    try:
        if settings.EXPERIENCE_STORE_URL:
            check_store_url(settings.EXPERIENCE_STORE_URL)
    except ImproperlyConfigured as error:
        return [
            checks.Error(
                str(error),
                hint="Leave it empty for the experience journal on one host (docs/deployment.md).",
                id="rl.E001",
            )
        ]
    return []
