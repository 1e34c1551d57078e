from django.contrib import admin
from django.contrib.staticfiles.views import serve as static_serve
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, re_path, reverse

from eldergate.community.api.app import api
from eldergate.community.web import (
    claims,
    console,
    family,
    finder,
    fleet,
    login,
    lost_pages,
    reports,
    residents,
    wall,
)


def home(_request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(reverse("console"))


# Every page has a name: Python says reverse("resident", args=[pk]), a template {% url "resident" r.pk %};
# the paths themselves are an interface (pushes, badges and printed wall links carry them).
urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("wall", wall.wall, name="wall"),
    path("wall/tiles", wall.wall_tiles, name="wall-tiles"),
    path("wall/events", wall.wall_events, name="wall-events"),
    path("console", console.alerts_view, name="console"),
    path("console/login", login.login_view, name="login"),
    path("console/logout", login.logout_view, name="logout"),
    path("console/link/<str:secret>", login.link_view, name="login-link"),
    path("console/alerts/<str:alert_id>", console.alert_view, name="alert"),
    path("console/alerts/<str:alert_id>/step", console.alert_step, name="alert-step"),
    path("console/residents/<int:pk>", residents.resident_view, name="resident"),
    path("console/residents/<int:pk>/medical", residents.medical_view, name="resident-medical"),
    path("console/residents/<int:pk>/access", residents.access_view, name="resident-access"),
    path("console/residents/<int:pk>/badge", lost_pages.badge_view, name="resident-badge"),
    path("f/<str:code>", finder.finder_view, name="finder"),
    path("console/residents/<int:pk>/visit", residents.visit_view, name="resident-visit"),
    path("console/residents/<int:pk>/consent", residents.consent_view, name="resident-consent"),
    path("console/residents/<int:pk>/settings", residents.settings_view, name="resident-settings"),
    path("console/visits", residents.visit_list, name="visits"),
    path("console/claim", claims.claim_view, name="claim"),
    path("console/fleet", fleet.fleet_view, name="fleet"),
    path("releases/eldergate-<str:version>.zip", fleet.release_bundle, name="release-bundle"),
    path("captures/<int:command>/<str:token>", fleet.capture_upload, name="capture-upload"),
    path("family", family.family_view, name="family"),
    path("reports", reports.reports_view, name="reports"),
    path("reports.xlsx", reports.reports_xlsx, name="reports-xlsx"),
    # the admin's own CSS and scripts, for the embedded one-process server (a proxy serves them in production)
    re_path(r"^static/(?P<path>.*)$", static_serve, {"insecure": True}),
]

handler404 = "eldergate.community.web.common.not_found"
handler403 = "eldergate.community.web.common.forbidden"
handler500 = "eldergate.community.web.common.server_error"
