"""Token authentication: ``Authorization: Bearer eg_...``. Only the token's SHA-256 is stored."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from eldergate.community.models import ApiToken


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        row = (ApiToken.objects.select_related("user__profile").filter(digest=ApiToken.digest_of(token), revoked=False)
               .first())
        if row is None or not row.user.is_active:
            return None
        request.user = row.user
        return row.user
