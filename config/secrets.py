"""Read secrets from files or environment variables; show them only redacted."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from eldergate.drivers.errors import ConfigurationError


class SecretError(ConfigurationError):
    """A secret named by the configuration cannot be read."""


def read_secret(file: Path | None = None, env: str | None = None) -> str | None:
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise SecretError(f"cannot read secret file {file}: {err.strerror}") from None
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise SecretError(f"environment variable {env} is not set")
        return value
    return None


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password, even by accident
        return f"Credentials(username={self.username!r}, password='***')"


def read_credentials(file: Path) -> Credentials:
    """A credentials file holds the username on the first line, the password on the second."""
    text = read_secret(file=file) or ""
    lines = text.splitlines()
    if len(lines) < 2:
        raise SecretError(f"credentials file {file} needs two lines: username, then password")
    return Credentials(lines[0].strip(), lines[1].strip())


def redact_url(url: str) -> str:
    """Keep the scheme and host so an installer can recognise the channel; hide the rest."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host[:3]}***" if host else f"{scheme}://***"
