"""Shared by the pages: the language of a request, the clock, the word function for templates."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from eldergate.community.work.words import LANGS, T, t


def lang(request: HttpRequest) -> str:
    """?lang=en|zh-hans switches and is remembered in a cookie; Chinese first."""
    asked = request.GET.get("lang") or request.COOKIES.get("eg_lang") or str(settings.LANGUAGE_CODE)
    return asked if asked in LANGS else "zh-hans"


def words(language: str) -> dict[str, str]:
    return {k: t(k, language) for k in T}


def page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    language = lang(request)
    other = "en" if language == "zh-hans" else "zh-hans"
    response = render(request, f"eldergate/{template}", {
        "w": words(language), "lang": language, "other_lang": other,
        "html_lang": "zh-CN" if language == "zh-hans" else "en", **context}, status=status)
    if request.GET.get("lang") in LANGS:
        response.set_cookie("eg_lang", language, max_age=365 * 86400, samesite="Lax")
    return response


def word_fn(language: str) -> Callable[..., str]:
    return lambda key, **kw: t(key, language, **kw)


def error_page(request: HttpRequest, status: int, heading_key: str, explain_key: str,
               back: str | None = None) -> HttpResponse:
    """A page in the viewer's language with a way back, never Django's English one or a bare line."""
    language = lang(request)
    return page(request, "error.html", {"status": status, "heading": t(heading_key, language),
                                        "explain": t(explain_key, language), "back": back or reverse("console")},
                status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 404, "error_404", "error_404_explain")


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 403, "error_403", "error_403_explain")


def server_error(request: HttpRequest) -> HttpResponse:
    if _pool_exhausted(sys.exc_info()[1]):
        # overload, not a fault: every pooled connection was busy for the pool's timeout. A 503 the
        # client may retry, rendered without the database (a page would wait for the pool again)
        response = HttpResponse("busy: try again in a few seconds / 服务器繁忙，请稍后再试", status=503,
                                content_type="text/plain; charset=utf-8")
        response["Retry-After"] = "5"
        return response
    return error_page(request, 500, "error_500", "error_500_explain")


def _pool_exhausted(err: BaseException | None) -> bool:
    while err is not None:
        if type(err).__name__ == "PoolTimeout" or "couldn't get a connection" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False
