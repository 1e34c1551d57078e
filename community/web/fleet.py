"""/console/fleet: the platform operator's view of every box (version, configuration, last seen,
health, the last update) and of the rollouts; and /releases/<bundle>: the signed bundles the boxes
fetch (public: a box checks the signature itself, and a bundle holds no secret)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase

from eldergate.community.config import active
from eldergate.community.models import Gateway
from eldergate.community.models.releases import Release, Rollout
from eldergate.community.web.common import error_page, page
from eldergate.community.work import rollouts, scoping

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
