"""Medical notes encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256, from `cryptography`).

The database, its backups and anyone reading them see only tokens; the key lives apart
(keys.py). Reads go through models.people.read_medical(), which writes the audit entry."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())


def encrypt(text: str) -> str:
    return _fernet(settings.DATA_KEY).encrypt(text.encode()).decode() if text else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(settings.DATA_KEY).decrypt(token.encode()).decode()
    except InvalidToken:
        return "[cannot be decrypted with this server's data key]"


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Stores Fernet tokens; Python code sees the plain text only through decrypt()."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value and not str(value).startswith("gAAAA"):  # already a token: leave it
            return encrypt(str(value))
        return value
