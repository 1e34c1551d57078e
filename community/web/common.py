"""Shared by the pages: the language of a request, the clock, the word function for templates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

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
