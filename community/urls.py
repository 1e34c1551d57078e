from django.contrib import admin
from django.contrib.staticfiles.views import serve as static_serve
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, re_path

from eldergate.community.api.app import api
from eldergate.community.web import claims, console, finder, login, lost_pages, reports, wall


def home(_request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/console")


urlpatterns = [
    path("", home),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("wall", wall.wall),
    path("wall/tiles", wall.wall_tiles),
    path("wall/events", wall.wall_events),
    path("console", console.alerts_view),
    path("console/login", login.login_view),
    path("console/logout", login.logout_view),
    path("console/link/<str:secret>", login.link_view),
    path("console/alerts/<str:alert_id>", console.alert_view),
    path("console/alerts/<str:alert_id>/step", console.alert_step),
    path("console/residents/<int:pk>", console.resident_view),
    path("console/residents/<int:pk>/medical", console.medical_view),
    path("console/residents/<int:pk>/access", console.access_view),
    path("console/residents/<int:pk>/badge", lost_pages.badge_view),
    path("f/<str:code>", finder.finder_view),
    path("console/residents/<int:pk>/visit", console.visit_view),
    path("console/residents/<int:pk>/consent", console.consent_view),
    path("console/residents/<int:pk>/settings", console.settings_view),
    path("console/visits", console.visit_list),
    path("console/claim", claims.claim_view),
    path("family", console.family_view),
    path("reports", reports.reports_view),
    path("reports.xlsx", reports.reports_xlsx),
    # the admin's own CSS and scripts, for the embedded one-process server (a proxy serves them in production)
    re_path(r"^static/(?P<path>.*)$", static_serve, {"insecure": True}),
]

handler404 = "eldergate.community.web.common.not_found"
handler403 = "eldergate.community.web.common.forbidden"
handler500 = "eldergate.community.web.common.server_error"
