"""Pushes to people, through Apprise (WeCom, DingTalk, Feishu, ntfy, SMS gateways, e-mail...)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import apprise

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Push:
    title: str
    body: str
    link: str


class Notifier(Protocol):
    def send(self, urls: list[str], push: Push) -> bool: ...


class AppriseNotifier:
    def send(self, urls: list[str], push: Push) -> bool:
        ap = apprise.Apprise()
        for url in urls:
            if not ap.add(url):
                log.warning("a notify_url is not a valid Apprise URL (scheme %s)", url.split(":", 1)[0])
        if len(ap) == 0:
            return False
        return bool(ap.notify(title=push.title, body=f"{push.body}\n{push.link}"))


@dataclass
class RecordingNotifier:
    """For tests and the demo: keeps what would have been sent."""

    sent: list[tuple[list[str], Push]] = field(default_factory=list)
    fail: bool = False

    def send(self, urls: list[str], push: Push) -> bool:
        if self.fail:
            return False
        self.sent.append((list(urls), push))
        return True
