"""The server's two secrets: Django's secret key (sessions, signed links) and the Fernet key that
encrypts medical notes at rest. From the file or the environment variable the configuration names;
with neither, created once beside the database (mode 0600) so the embedded default just runs —
`check --deploy` then warns, because a copy of the data folder would hold both lock and key.
Lose the data key and the medical notes cannot be read again: back it up apart from the database.

The data key may list several keys, newest first (one per line, or comma-separated in the
environment): the newest encrypts, all decrypt. `eldergate community rotate-keys --new-key` puts a
fresh key first and re-encrypts everything with it; the older lines can then be removed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from eldergate.community.config import CommunityConfig, CommunityConfigError


def keys_of(text: str) -> list[str]:
    """The data key's text: one Fernet key per line (or comma), newest first; '#' starts a comment."""
    found = []
    for line in text.replace(",", "\n").splitlines():
        key = line.split("#", 1)[0].strip()
        if key:
            found.append(key)
    return found


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


def data_key_path(cfg: CommunityConfig) -> Path | None:
    """The data key's file (None when it comes from the environment)."""
    s = cfg.server
    return None if s.data_key_env else cfg.resolve(s.data_key_file or Path("data.key"))


def data_key(cfg: CommunityConfig) -> str:
    s = cfg.server
    path = data_key_path(cfg)
    text = os.environ[s.data_key_env] if s.data_key_env else _read_or_create(path or Path("data.key"),
                                                                             Fernet.generate_key().decode())
    field = f"server.data_key_env ({s.data_key_env})" if s.data_key_env else f"server.data_key_file ({path})"
    keys = keys_of(text)
    if not keys:
        raise CommunityConfigError(f"{field}: holds no key")
    for i, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise CommunityConfigError(f"{field}: key {i} is not a Fernet key (32 url-safe base64 bytes)") from None
    return text


def key_in_data_dir(cfg: CommunityConfig) -> bool:
    path = data_key_path(cfg)
    return path is not None and path.resolve().is_relative_to(cfg.server.data_dir.resolve())


def add_data_key(cfg: CommunityConfig) -> Path:
    """A fresh key first in the data key's file (the older ones stay, for reading, until rotated)."""
    path = data_key_path(cfg)
    if path is None:
        raise CommunityConfigError(f"server.data_key_env ({cfg.server.data_key_env}): put the new key first in "
                                   "that variable yourself (comma-separated), then run rotate-keys without --new-key")
    old = path.read_text(encoding="utf-8")
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(Fernet.generate_key().decode() + "\n" + old)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
