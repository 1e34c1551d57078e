"""Token authentication: ``Authorization: Bearer eg_...``: a named personal token, live until it
expires or is revoked (`eldergate community tokens`). Only the token's SHA-256 is stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from eldergate.community.clock import now
from eldergate.community.models import ApiToken

LAST_USED_GRAIN = timedelta(minutes=1)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        at = now()
        row = ApiToken.live(token, at)
        if row is None:
            return None
        if row.last_used is None or at - row.last_used > LAST_USED_GRAIN:  # one write a minute, not one a call
            ApiToken.objects.filter(pk=row.pk).update(last_used=at)
        request.user = row.user
        return row.user
