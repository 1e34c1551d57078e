"""Logging in and out: a password (throttled and audited by django-axes) and, for a user with a
TOTP device (`eldergate community otp add USER`; required for the admin), its 6-digit code; or a one-time login link
(/console/link/<secret>, short-lived, spent by a POST so a chat app's link preview cannot use it).
API tokens never open a browser session, and no credential ever rides in a query string."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import user_has_device

from eldergate.community.clock import now
from eldergate.community.config import active
from eldergate.community.models import LoginLink
from eldergate.community.models.audit import record
from eldergate.community.web.common import lang, page
from eldergate.community.work.words import t

VIA_PASSWORD = "password"  # the session key "eg_via" says how a session was opened
VIA_LINK = "link"
PENDING = "eg_second_factor_for"  # the user whose password was right, until the code is given


def safe_next(nxt: str | None, otherwise: str | None = None) -> str:
    """Only a page of this server: never an open redirect (//elsewhere.example)."""
    if not nxt or not nxt.startswith("/") or not url_has_allowed_host_and_scheme(nxt, allowed_hosts=None):
        return otherwise or reverse("console")
    return nxt


def login_view(request: HttpRequest) -> HttpResponse:
    nxt = safe_next(request.GET.get("next") or request.POST.get("next"))
    if request.method == "POST" and "otp_token" in request.POST:
        return _second_factor(request, nxt)
    error = ""
    if request.method == "POST":
        user = authenticate(request, username=request.POST.get("username", "")[:150],
                            password=request.POST.get("password", "")[:200])
        if user is not None and user_has_device(user):  # the password was right: now the code
            request.session[PENDING] = user.pk
            return page(request, "login.html", {"next": nxt, "second_factor": True})
        if user is not None:
            login(request, user)
            request.session["eg_via"] = VIA_PASSWORD
            return HttpResponseRedirect(nxt)
        error = t("login_failed", lang(request))
    return page(request, "login.html", {"next": nxt, "error": error})


def _second_factor(request: HttpRequest, nxt: str) -> HttpResponse:
    """The 6-digit code of the user whose password was right a moment ago (django-otp's TOTP
    device, which throttles wrong codes itself)."""
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    pk = request.session.get(PENDING)
    user = get_user_model().objects.filter(pk=pk, is_active=True).first() if pk else None
    if user is None:
        return HttpResponseRedirect(reverse("login"))
    token = "".join(ch for ch in request.POST.get("otp_token", "") if ch.isdigit())[:8]
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(token):
            del request.session[PENDING]
            user.otp_device = device  # type: ignore[attr-defined]  # django-otp keeps it in the session at login
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            request.session["eg_via"] = VIA_PASSWORD
            record(now(), user, "login_second_factor", f"user:{user.pk}")
            return HttpResponseRedirect(nxt)
    record(now(), user, "second_factor_refused", f"user:{user.pk}")
    return page(request, "login.html", {"next": nxt, "second_factor": True,
                                        "error": t("otp_failed", lang(request))})


def link_view(request: HttpRequest, secret: str) -> HttpResponse:
    """GET shows a button; POST spends the link and opens the session."""
    if request.method != "POST":
        return page(request, "link.html", {"secret": secret[:100]})
    link = LoginLink.spend(secret[:100], now())
    if link is None:
        return page(request, "link.html", {"spent": True}, status=410)
    login(request, link.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session["eg_via"] = VIA_LINK
    record(now(), link.user, "login_link", f"user:{link.user.pk}")
    return HttpResponseRedirect(safe_next(link.next_path))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect(reverse("login"))


def opened_with_password(request: HttpRequest) -> bool:
    return request.session.get("eg_via") == VIA_PASSWORD


def client_ip(request: HttpRequest) -> str | None:
    """The address the login throttle counts. Behind the shipped proxy, which overwrites
    X-Forwarded-For with the address it saw, that header; otherwise the socket's peer."""
    if active().server.behind_proxy:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return str(forwarded[:45])
    peer = request.META.get("REMOTE_ADDR")
    return str(peer) if peer else None


def locked_out(request: HttpRequest, *_: Any) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return page(request, "login.html", {"next": reverse("console"), "locked": True,
                                        "error": t("locked_out", lang(request), minutes=minutes)}, status=429)
