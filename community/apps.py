from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "eldergate.community"
    label = "community"
    verbose_name = "eldergate community"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from eldergate.community import checks  # noqa: F401  (registers the deploy checks)
