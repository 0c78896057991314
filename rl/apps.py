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

    from rl.experiences.postgres import is_postgres_url

    url = settings.EXPERIENCE_STORE_URL
    if url and not is_postgres_url(url):
        return [
            checks.Error(
                f"EXPERIENCE_STORE_URL must be a postgresql:// URL or empty, got {url[:40]!r}",
                hint="Leave it empty for the experience journal on one host (docs/deployment.md).",
                id="rl.E001",
            )
        ]
    return []
