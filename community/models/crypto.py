"""Medical notes, key-safe codes and box passwords encrypted at rest (Fernet: AES-128-CBC with
HMAC-SHA256, from `cryptography`).

The database, its backups and anyone reading them see only tokens; the key lives apart
(keys.py). The data key may hold several keys, newest first (MultiFernet): the first encrypts,
every one decrypts, and `eldergate community rotate-keys` re-encrypts every value with the first,
after which the older keys can be removed.

A value read from the database is a ``Sealed`` string (still encrypted); any other string saved into
an encrypted field is encrypted, whatever it looks like: there is no plaintext path into the
column, not even for a note that happens to begin like a token ("gAAAA…"). Reads go through
models.people.read_medical(), which writes the audit entry."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

from eldergate.community.keys import keys_of


class Sealed(str):
    """A value as the database holds it: a token, never encrypted twice."""

    __slots__ = ()


@lru_cache(maxsize=4)
def _fernet(key_text: str) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys_of(key_text)])


def encrypt(text: str) -> Sealed:
    return Sealed(_fernet(settings.DATA_KEY).encrypt(text.encode()).decode()) if text else Sealed("")


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(settings.DATA_KEY).decrypt(str(token).encode()).decode()
    except InvalidToken:
        return "[cannot be decrypted with this server's data key]"


def seal_bytes(data: bytes) -> bytes:
    """A whole file (a diagnostic capture) encrypted with the newest key."""
    return _fernet(settings.DATA_KEY).encrypt(data)


def open_bytes(token: bytes | memoryview) -> bytes | None:
    """None when no key of ours opens it."""
    try:
        return _fernet(settings.DATA_KEY).decrypt(bytes(token))
    except InvalidToken:
        return None


def rotate_bytes(token: bytes | memoryview) -> bytes | None:
    try:
        return _fernet(settings.DATA_KEY).rotate(bytes(token))
    except InvalidToken:
        return None


def rotate(token: str) -> Sealed | None:
    """``token`` encrypted again with the newest key; None when no key of ours opens it."""
    if not token:
        return None
    try:
        return Sealed(_fernet(settings.DATA_KEY).rotate(str(token).encode()).decode())
    except InvalidToken:
        return None


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Stores Fernet tokens; Python code sees the plain text only through decrypt()."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return Sealed(value) if value is not None else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value and not isinstance(value, Sealed):
            return str(encrypt(str(value)))
        return str(value) if isinstance(value, Sealed) else value


def encrypted_fields() -> Iterator[tuple[type[models.Model], str]]:
    """Every (model, field name) stored encrypted, for the key rotation."""
    from django.apps import apps

    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, EncryptedTextField):
                yield model, field.name
