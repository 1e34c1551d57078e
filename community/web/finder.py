"""/f/<code>: the page a passer-by opens by scanning an anti-lost badge. It asks nothing but a tap
(and, if they allow, their location and a phone number to call back); it shows no name, address
or health data of the elder, only the community's hotline and that someone is coming. A revoked
or unknown code shows the hotline alone. Public: no login; audited and rate-limited in work/lost.py."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from eldergate.community.clock import now
from eldergate.community.config import active
from eldergate.community.web.common import page
from eldergate.community.web.login import client_ip
from eldergate.community.work import lost


@require_http_methods(["GET", "POST"])
def finder_view(request: HttpRequest, code: str) -> HttpResponse:
    badge = lost.live_badge(code)
    if badge is None:
        return page(request, "finder.html", {"hotline": lost.hotline_of(code), "revoked": True}, status=404)
    hotline = badge.resident.home.community.hotline
    if request.method != "POST":
        return page(request, "finder.html", {"hotline": hotline, "code": badge.code})
    lost.found(badge, now(), active(), client_ip(request) or "-", lat=request.POST.get("lat"),
               lon=request.POST.get("lon"), accuracy=request.POST.get("accuracy"), phone=request.POST.get("phone"))
    # the same thanks whether this tap raised the alert, added to it or was over the limit
    return page(request, "finder.html", {"hotline": hotline, "sent": True})
