"""Positions from the tracking server a family already uses: Traccar's position forwarding
(`forward.type = json`, `forward.url = https://<server>/api/v1/positions/traccar`, and
`forward.header = Authorization: Bearer <token>` of a community admin's or an integration user's
token). The device's `uniqueId` is registered to a resident with `eldergate community locator`.
Positions are kept only as long as a search needs them (work/lost.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Router

from eldergate.community.api.common import user
from eldergate.community.clock import now
from eldergate.community.work import lost, scoping

router = Router(tags=["positions"])
MAX_BODY = 16_384  # one position and its device: a few hundred bytes


@router.post("/positions/traccar", summary="one position forwarded by a Traccar server (forward.type = json)",
             response={200: dict[str, str], 202: dict[str, str], 400: dict[str, str], 403: dict[str, str],
                       413: dict[str, str]})
def traccar(request: HttpRequest) -> Any:
    import json

    if len(request.body) > MAX_BODY:
        return JsonResponse({"detail": "too large"}, status=413)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return JsonResponse({"detail": "not JSON"}, status=400)
    who = user(request)
    if not scoping.may_administer(who):
        return JsonResponse({"detail": "positions are written by a community admin's or operator's token"},
                            status=403)
    mine = scoping.residents(who)
    status, word = lost.traccar_position(body, now(), lambda r: mine.filter(pk=r.pk).exists())
    return JsonResponse({"detail": word}, status=status)
