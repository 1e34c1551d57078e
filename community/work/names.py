"""People as pages name them: a user's display name (``create-user --display-name``), never a
login name when a display name is known; the box and the server in words."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from eldergate.community.work.words import t


class Names:
    """One lookup per username for a page (a history of ten rows makes one query, not ten)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._cache: dict[str, str] = {}

    def person(self, username: str) -> str:
        if not username:
            return ""
        if username not in self._cache:
            user = get_user_model().objects.filter(username=username).only("first_name", "last_name").first()
            full = user.get_full_name().strip() if user else ""
            self._cache[username] = full or username
        return self._cache[username]

    def actor(self, by: str, source: str) -> str:
        """Who took a step of an alert's history: a person, the home's box or the server."""
        if source == "gateway":
            return t("by_gateway", self.lang)
        if source == "server":
            return t("by_server", self.lang)
        return self.person(by)
