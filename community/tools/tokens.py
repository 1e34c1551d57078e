"""`eldergate community tokens list|issue|revoke`, `login-link` and `otp add|remove`: personal API
tokens with a name
and an expiry, revoked one by one or all of a user's at once (a lost phone: that also ends every
browser session of the user and spends their unused login links)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from eldergate.community.config import CommunityConfig

EXIT_OK, EXIT_USAGE = 0, 2


def add_parsers(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    tk = with_config(sub.add_parser("tokens", help="personal API tokens: list, issue, revoke"))
    tk.add_argument("action", choices=("list", "issue", "revoke"), nargs="?", default="list")
    tk.add_argument("id", nargs="?", type=int, help="revoke: the token's number (from list)")
    tk.add_argument("--user", help="list: only this user's; issue: for this user; revoke: all of this user's "
                    "tokens, sessions and login links")
    tk.add_argument("--name", default="", help="issue: what the token is for ('reports script')")
    tk.add_argument("--days", type=int, default=90, help="issue: valid for this many days (1-366)")

    otp = with_config(sub.add_parser("otp", help="a user's second factor (TOTP): add prints the authenticator's "
                                     "QR code; the admin requires one"))
    otp.add_argument("action", choices=("add", "remove"))
    otp.add_argument("user")

    ll = with_config(sub.add_parser("login-link", help="print a one-time login link for a user (valid 15 minutes "
                                    "unless --minutes; opened once, it becomes a session)"))
    ll.add_argument("user")
    ll.add_argument("--next", default="/console", help="the page it opens (a path of this server)")
    ll.add_argument("--minutes", type=int, default=15)


def _user(name: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username=name).first()


def end_sessions(user: Any) -> int:
    """Every browser session of ``user`` (sessions live in the database; a few thousand rows)."""
    from django.contrib.sessions.models import Session

    from eldergate.community.clock import now

    ended = 0
    for s in Session.objects.filter(expire_date__gt=now()).iterator():
        if str(s.get_decoded().get("_auth_user_id")) == str(user.pk):
            s.delete()
            ended += 1
    return ended


def run_tokens(args: argparse.Namespace, start: Callable[[], CommunityConfig]) -> int:
    start()
    from eldergate.community.clock import now
    from eldergate.community.models import ApiToken, LoginLink
    from eldergate.community.models.audit import record

    user = _user(args.user) if args.user else None
    if args.user and user is None:
        print(f"eldergate community tokens: --user: no user {args.user!r}", file=sys.stderr)
        return EXIT_USAGE
    at = now()
    if args.action == "list":
        rows = ApiToken.objects.select_related("user").order_by("pk")
        if user is not None:
            rows = rows.filter(user=user)
        print(f"{'id':>5}  {'user':<20} {'name':<24} {'created':<16} {'expires':<16} {'last used':<16} state")
        for r in rows:
            state = "revoked" if r.revoked else ("expired" if r.expires and r.expires <= at else "live")
            print(f"{r.pk:>5}  {r.user.get_username():<20} {r.name or '-':<24} {_day(r.created)} {_day(r.expires)} "
                  f"{_day(r.last_used)} {state}")
        return EXIT_OK
    if args.action == "issue":
        if user is None or not 1 <= args.days <= 366:
            print("eldergate community tokens issue: needs --user NAME and --days between 1 and 366", file=sys.stderr)
            return EXIT_USAGE
        token = ApiToken.issue(user, name=args.name, days=args.days, at=at)
        record(at, "cli", "token_issued", user, name=args.name[:100], days=args.days)
        print(token)
        return EXIT_OK
    # revoke
    if args.id is not None:
        n = ApiToken.objects.filter(pk=args.id, revoked=False).update(revoked=True)
        if not n:
            print(f"eldergate community tokens revoke: no live token {args.id}", file=sys.stderr)
            return EXIT_USAGE
        record(at, "cli", "token_revoked", f"apitoken:{args.id}")
        print(f"token {args.id} revoked: the API refuses it from now on")
        return EXIT_OK
    if user is None:
        print("eldergate community tokens revoke: name a token (ID) or a user (--user NAME)", file=sys.stderr)
        return EXIT_USAGE
    n = ApiToken.objects.filter(user=user, revoked=False).update(revoked=True)
    links = LoginLink.objects.filter(user=user, used_at__isnull=True).update(used_at=at)
    sessions = end_sessions(user)
    record(at, "cli", "user_access_revoked", user, tokens=n, sessions=sessions, links=links)
    print(f"{args.user}: {n} token(s) revoked, {sessions} session(s) ended, {links} login link(s) spent")
    return EXIT_OK


def _day(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if t else f"{'-':<16}"


def run_otp(args: argparse.Namespace, start: Callable[[], CommunityConfig]) -> int:
    start()
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from eldergate.community.clock import now
    from eldergate.community.models.audit import record

    user = _user(args.user)
    if user is None:
        print(f"eldergate community otp: no user {args.user!r}", file=sys.stderr)
        return EXIT_USAGE
    if args.action == "remove":
        n, _ = TOTPDevice.objects.filter(user=user).delete()
        record(now(), "cli", "second_factor_removed", user, devices=n)
        print(f"{args.user}: {n} authenticator(s) removed")
        return EXIT_OK
    TOTPDevice.objects.filter(user=user).delete()  # one authenticator per user: a new phone replaces the old
    device = TOTPDevice.objects.create(user=user, name="eldergate", confirmed=True)
    record(now(), "cli", "second_factor_added", user)
    import segno

    print("scan this with an authenticator app (or type the address into it); shown once:")
    segno.make(device.config_url, error="m").terminal(compact=True)
    print(device.config_url)
    return EXIT_OK


def run_login_link(args: argparse.Namespace, start: Callable[[], CommunityConfig]) -> int:
    cfg = start()
    from django.urls import reverse

    from eldergate.community.clock import now
    from eldergate.community.models import LoginLink
    from eldergate.community.models.audit import record
    from eldergate.community.web.login import safe_next

    user = _user(args.user)
    if user is None or not user.is_active:
        print(f"eldergate community login-link: no active user {args.user!r}", file=sys.stderr)
        return EXIT_USAGE
    if not 1 <= args.minutes <= 24 * 60:
        print("eldergate community login-link: --minutes between 1 and 1440", file=sys.stderr)
        return EXIT_USAGE
    secret = LoginLink.issue(user, now(), next_path=safe_next(args.next), minutes=args.minutes)
    record(now(), "cli", "login_link_issued", user, minutes=args.minutes)
    print(cfg.public_url() + reverse("login-link", args=[secret]))
    return EXIT_OK
