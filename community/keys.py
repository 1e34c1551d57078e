"""The server's two secrets: Django's secret key (sessions, signed links) and the Fernet key that
encrypts medical notes at rest. From the file or the environment variable the configuration names;
with neither, created once beside the database (mode 0600) so the embedded default just runs.
Lose the data key and the medical notes cannot be read again: back it up apart from the database.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from eldergate.community.config import CommunityConfig


def _read_or_create(path: Path, make: str) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make + "\n")
    return path.read_text().strip()


def secret_key(cfg: CommunityConfig) -> str:
    s = cfg.server
    if s.secret_key_env:
        return os.environ[s.secret_key_env]
    path = cfg.resolve(s.secret_key_file or Path("secret.key"))
    return _read_or_create(path, secrets.token_urlsafe(50))


def data_key(cfg: CommunityConfig) -> str:
    s = cfg.server
    if s.data_key_env:
        return os.environ[s.data_key_env]
    path = cfg.resolve(s.data_key_file or Path("data.key"))
    return _read_or_create(path, Fernet.generate_key().decode())
