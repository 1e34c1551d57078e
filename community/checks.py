"""The server's own `check --deploy` findings, beside Django's (manage.py check --deploy)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def data_key_apart(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    from eldergate.community.config import active
    from eldergate.community.keys import data_key_path, key_in_data_dir

    cfg = active()
    if not key_in_data_dir(cfg):
        return []
    return [Warning(f"the data key ({data_key_path(cfg)}) is inside the data folder ({cfg.server.data_dir}): a copy "
                    "of the folder or its backup holds both the medical notes and their key",
                    hint="set server.data_key_file to a file outside it (e.g. /etc/eldergate/keys/data.key, "
                         "mode 0600) or server.data_key_env", id="eldergate.W001")]
