"""Django started from a community configuration, the database migrated."""

from __future__ import annotations

import os

from eldergate.community.config import CommunityConfig, activate


def start_django(cfg: CommunityConfig, migrate: bool = True) -> None:
    activate(cfg)
    os.environ["DJANGO_SETTINGS_MODULE"] = "eldergate.community.settings"
    cfg.server.data_dir.mkdir(parents=True, exist_ok=True)
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
