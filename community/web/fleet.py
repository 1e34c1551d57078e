"""/console/fleet: the platform operator's view of every box (version, configuration, last seen,
health, the last update) and of the rollouts; /releases/<bundle>: the signed bundles the boxes
fetch (public: a box checks the signature itself, and a bundle holds no secret); and
/captures/<command>/<token>: where a box posts the capture a diagnostics command asked for (the
one-time address is its own authentication: work/diagnostic_captures.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from eldergate.community.clock import now
from eldergate.community.config import active
from eldergate.community.models import Gateway
from eldergate.community.models.releases import Release, Rollout
from eldergate.community.web.common import error_page, page
from eldergate.community.work import diagnostic_captures, rollouts, scoping

SHOWN = 2000  # boxes on the page at most; the API pages through all of them


@login_required
def fleet_view(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if scoping.role(user) != "platform-operator":
        return error_page(request, 403, "error_403", "fleet_operator_only")
    boxes = Gateway.objects.select_related("home__community").order_by("site", "gateway")
    versions: dict[str, int] = {}
    for v in boxes.values_list("version", flat=True):
        versions[v or "?"] = versions.get(v or "?", 0) + 1
    runs = [rollouts.progress(r) | {"id": r.pk, "created_at": r.created_at}
            for r in Rollout.objects.select_related("release")[:5]]
    return page(request, "fleet.html", {"boxes": boxes[:SHOWN], "count": boxes.count(), "versions": sorted(
        versions.items()), "rollouts": runs, "releases": Release.objects.all()[:10]})


def release_bundle(request: HttpRequest, version: str) -> HttpResponseBase:
    if not Release.objects.filter(version=version).exists():
        raise Http404
    cfg = active()
    path = cfg.resolve(cfg.fleet.releases_dir) / f"eldergate-{version}.zip"
    if not path.is_file():
        raise Http404
    return FileResponse(path.open("rb"), content_type="application/zip", as_attachment=True, filename=path.name)


@csrf_exempt  # a box posts here, with no session: the address itself is the credential
@require_POST
def capture_upload(request: HttpRequest, command: int, token: str) -> HttpResponse:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    limit = diagnostic_captures.MAX_UPLOAD
    if declared > limit:
        return JsonResponse({"detail": f"a capture is at most {limit} bytes"}, status=413)
    try:
        span_s = float(request.headers.get("X-Capture-Span-S", "0"))
    except ValueError:
        span_s = 0.0
    try:
        up = diagnostic_captures.receive(command, token, request.read(limit + 1), span_s, now())
    except diagnostic_captures.Refused as why:
        return JsonResponse({"detail": str(why)}, status=why.status)
    return JsonResponse({"received": up.size, "raw_waveforms": up.raw_waveforms}, status=201)
