from django.apps import AppConfig
from django.core import checks


class RlConfig(AppConfig):
    name = "rl"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(experience_store_url_check)


def experience_store_url_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """``EXPERIENCE_STORE_URL`` is empty or PostgreSQL: a typo stops ``migrate`` (run before every start)
    instead of failing the first answer."""
    from django.core.exceptions import ImproperlyConfigured

    from rl.experiences.postgres import shared_store_url

    try:
        shared_store_url()
    except ImproperlyConfigured as error:
        return [
            checks.Error(
                str(error),
                hint="Leave it empty for the experience journal on one host (docs/deployment.md).",
                id="rl.E001",
            )
        ]
    return []
