"""``eldergate community dead-letters [list|replay|forget]``: what the ingest could not store, for
the platform operator, and the way back once the cause is fixed.

``replay`` stores each letter again through the same path as the ingest (the contract, the time
window, the unique keys): what is stored now leaves the table, what still fails stays with its new
reason. No receipt is sent (a box still waiting for one resends its alert, and that copy is
receipted as usual)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

EXIT_OK = 0


def add_parser(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    dl = with_config(sub.add_parser("dead-letters", help="messages the ingest could not store: list, replay, forget"))
    dl.add_argument("action", choices=("list", "replay", "forget"), nargs="?", default="list")
    dl.add_argument("ids", type=int, nargs="*", help="letters to replay or forget (default for replay: all)")
    dl.add_argument("--limit", type=int, default=50, help="rows to list")


def run(args: argparse.Namespace, start: Callable[[], Any]) -> int:
    cfg = start()
    from eldergate.community.clock import now
    from eldergate.community.ingest import deadletters
    from eldergate.community.models import DeadLetter

    if args.action == "list":
        for d in deadletters.listing(args.limit):
            print(f"{d.pk:>6}  {d.last_at:%Y-%m-%d %H:%M}  {d.site}/{d.gateway}/{d.leaf}  x{d.count}  "
                  f"{d.size} B  {d.reason}")
        for site, gw, rows in deadletters.by_gateway()[:10]:
            print(f"# {site}/{gw}: {rows} letter(s)")
        print(f"{DeadLetter.objects.count()} dead letter(s)")
        return EXIT_OK
    if args.action == "forget":
        print(f"{deadletters.forget(args.ids, now(), 'operator')} dead letter(s) removed")
        return EXIT_OK
    stored, still = deadletters.replay(args.ids or None, now(), cfg)
    print(f"{stored} replayed and stored, {still} still refused")
    return EXIT_OK
