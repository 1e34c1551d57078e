"""The Django admin is the platform operator's tool only, and only in a session opened with a
password and a second factor (a TOTP code, django-otp): a one-time login link, a token or a stolen
phone's long session does not open it. Community
staff work in /console; what they may see is decided in work/scoping.py."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse


class OperatorAdminSite(admin.AdminSite):
    site_header = "eldergate · platform operator"

    def has_permission(self, request: HttpRequest) -> bool:
        from eldergate.community.web.login import opened_with_password
        from eldergate.community.work.scoping import role

        user = request.user
        return bool(user.is_active and user.is_staff and role(user) == "platform-operator"
                    and opened_with_password(request) and user.is_verified())  # type: ignore[attr-defined]

    def login(self, request: HttpRequest, extra_context: object = None) -> HttpResponse:
        # one login page for everything, throttled and audited there
        if request.user.is_authenticated:  # logged in, but not as the admin needs: say why, no loop
            from eldergate.community.web.common import lang
            from eldergate.community.work.words import t

            return HttpResponse(t("admin_needs_otp", lang(request)), status=403,
                                content_type="text/plain; charset=utf-8")
        nxt = request.GET.get("next", reverse("admin:index"))
        return HttpResponseRedirect(reverse("login") + "?" + urlencode({"next": nxt}))


class OperatorAdminConfig(AdminConfig):
    default_site = "eldergate.community.admin_site.OperatorAdminSite"
