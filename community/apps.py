from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "eldergate.community"
    label = "community"
    verbose_name = "eldergate community"
    default_auto_field = "django.db.models.BigAutoField"
