"""`eldergate community badge RESIDENT_ID [--revoke]` (an anti-lost badge: prints the finder's URL
as its last line, and with --svg writes the printable QR code), `locator RESIDENT_ID UNIQUE_ID
[--remove]` (a family's tracker, as its Traccar server names it) and `weather --temperature C`
(the community's outdoor temperature, sent to its homes: outings run short in the cold)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eldergate.community.config import CommunityConfig

EXIT_OK, EXIT_USAGE = 0, 2


def add_parsers(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    b = with_config(sub.add_parser("badge", help="issue a resident's anti-lost badge (the old code stops working); "
                                   "the finder's URL is the last line"))
    b.add_argument("resident", type=int, help="the resident's record id")
    b.add_argument("--revoke", action="store_true", help="stop the resident's badge without a new one")
    b.add_argument("--svg", type=Path, help="also write the badge's QR code to this SVG file, for printing")
    loc = with_config(sub.add_parser("locator", help="register a family's tracker (its Traccar uniqueId) for a "
                                     "resident: its forwarded positions show on a lost-resident alert"))
    loc.add_argument("resident", type=int)
    loc.add_argument("unique_id")
    loc.add_argument("--remove", action="store_true")
    wx = with_config(sub.add_parser("weather", help="set the community's outdoor temperature (from the weather "
                                    "source it chooses, e.g. by cron); its homes are told"))
    wx.add_argument("--temperature", type=float, required=True, help="degrees Celsius")
    wx.add_argument("--community", help="community code (default: every community)")


def _resident(pk: int) -> Any:
    from eldergate.community.models import Resident

    return Resident.objects.filter(pk=pk).select_related("home__community").first()


def run(args: argparse.Namespace, start: Callable[[], CommunityConfig]) -> int:
    cfg = start()
    from eldergate.community.clock import now
    from eldergate.community.work import lost

    if args.command == "weather":
        from eldergate.community.models import Community
        from eldergate.community.models.audit import record

        if not (math.isfinite(args.temperature) and -60 <= args.temperature <= 60):
            print("eldergate community weather: --temperature between -60 and 60", file=sys.stderr)
            return EXIT_USAGE
        qs = Community.objects.all() if not args.community else Community.objects.filter(code=args.community)
        n = qs.update(outdoor_temperature_c=args.temperature, outdoor_temperature_at=now())
        record(now(), "cli", "outdoor_temperature", "community:" + (args.community or "*"), c=args.temperature)
        print(f"{n} communit{'y' if n == 1 else 'ies'}: {args.temperature:g} °C (the homes are told within a minute)")
        return EXIT_OK if n else EXIT_USAGE
    r = _resident(args.resident)
    if r is None:
        print(f"eldergate community {args.command}: no resident {args.resident}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "locator":
        return _locator(args, r, now())
    if args.revoke:
        n = lost.revoke_badges(r, "cli", now())
        print(f"resident {r.pk}: {n} badge(s) revoked")
        return EXIT_OK
    badge = lost.issue_badge(r, "cli", now())
    url = lost.badge_url(cfg, badge)
    if args.svg is not None:
        import segno

        segno.make(url, error="m").save(str(args.svg), scale=8)
        print(f"QR code: {args.svg}")
    print(f"code: {badge.code}")
    print(url)
    return EXIT_OK


def _locator(args: argparse.Namespace, r: Any, at: Any) -> int:
    from eldergate.community.models import Locator
    from eldergate.community.models.audit import record

    unique = args.unique_id.strip()[:64]
    if args.remove:
        n, _ = Locator.objects.filter(resident=r, unique_id=unique).delete()
        record(at, "cli", "locator_removed", r)
        print(f"{n} locator(s) removed")
        return EXIT_OK
    if not unique:
        print("eldergate community locator: an empty device id", file=sys.stderr)
        return EXIT_USAGE
    Locator.objects.update_or_create(unique_id=unique, defaults={"resident": r, "created_at": at})
    record(at, "cli", "locator_added", r)
    print(f"resident {r.pk}: positions of device {unique} will show on a lost-resident alert")
    return EXIT_OK
