"""Logging in and out: a password (throttled and audited by django-axes), or a one-time login link
(/console/link/<secret>, short-lived, spent by a POST so a chat app's link preview cannot use it).
API tokens never open a browser session, and no credential ever rides in a query string."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from eldergate.community.clock import now
from eldergate.community.config import active
from eldergate.community.models import LoginLink
from eldergate.community.models.audit import record
from eldergate.community.web.common import lang, page
from eldergate.community.work.words import t

LOGIN = "/console/login"
VIA_PASSWORD = "password"  # the session key "eg_via" says how a session was opened
VIA_LINK = "link"


def safe_next(nxt: str | None) -> str:
    """Only a page of this server: never an open redirect (//elsewhere.example)."""
    if not nxt or not nxt.startswith("/") or not url_has_allowed_host_and_scheme(nxt, allowed_hosts=None):
        return "/console"
    return nxt


def login_view(request: HttpRequest) -> HttpResponse:
    nxt = safe_next(request.GET.get("next") or request.POST.get("next"))
    error = ""
    if request.method == "POST":
        user = authenticate(request, username=request.POST.get("username", "")[:150],
                            password=request.POST.get("password", "")[:200])
        if user is not None:
            login(request, user)
            request.session["eg_via"] = VIA_PASSWORD
            return HttpResponseRedirect(nxt)
        error = t("login_failed", lang(request))
    return page(request, "login.html", {"next": nxt, "error": error})


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
    return HttpResponseRedirect(LOGIN)


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
    return page(request, "login.html", {"next": "/console", "error": t("locked_out", lang(request), minutes=minutes),
                                        "locked": True}, status=429)
