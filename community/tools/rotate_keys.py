"""`eldergate community rotate-keys --new-key`, then (after restarting `serve`) `eldergate community
rotate-keys [--batch N]`: every encrypted value (medical notes,
key-safe codes, box passwords, diagnostic captures) encrypted again with the data key's newest key, in batches of N rows
per transaction, so a large registry never holds one long lock. Safe to interrupt and run again:
a value already under the newest key is rotated again, harmlessly. Audited."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from eldergate.community.config import CommunityConfig

EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    rk = with_config(sub.add_parser("rotate-keys", help="re-encrypt every encrypted value with the newest data key"))
    rk.add_argument("--new-key", action="store_true",
                    help="only put a fresh key at the top of the data key's file (step 1 of 2)")
    rk.add_argument("--batch", type=int, default=500, help="rows per transaction (default 500)")


def rotate_all(batch: int = 500) -> tuple[int, int]:
    """(values re-encrypted, values no key of ours opens: left as they are, and counted)."""
    from django.db import transaction

    from eldergate.community.models import DiagnosticCapture
    from eldergate.community.models.crypto import Sealed, encrypted_fields, rotate, rotate_bytes

    done = unreadable = 0
    for model, name in encrypted_fields():
        last = 0
        while True:
            with transaction.atomic():
                rows = list(model._default_manager.select_for_update().filter(pk__gt=last).exclude(**{name: ""})
                            .order_by("pk").values_list("pk", name)[:batch])
                if not rows:
                    break
                for pk, token in rows:
                    fresh = rotate(token)
                    if fresh is None:
                        unreadable += 1
                        continue
                    model._default_manager.filter(pk=pk).update(**{name: Sealed(fresh)})
                    done += 1
                last = rows[-1][0]
    for pk in list(DiagnosticCapture.objects.values_list("pk", flat=True)):  # up to 16 MB each: one at a time
        with transaction.atomic():
            sealed = DiagnosticCapture.objects.select_for_update().values_list("sealed", flat=True).get(pk=pk)
            fresh_bytes = rotate_bytes(sealed)
            if fresh_bytes is None:
                unreadable += 1
                continue
            DiagnosticCapture.objects.filter(pk=pk).update(sealed=fresh_bytes)
            done += 1
    return done, unreadable


def run(args: argparse.Namespace, start: Callable[[], CommunityConfig], cfg: CommunityConfig) -> int:
    if not 1 <= args.batch <= 100_000:
        print("eldergate community rotate-keys: --batch between 1 and 100000", file=sys.stderr)
        return EXIT_USAGE
    if args.new_key:  # step 1 of 2: a running server must read the new key before anything is under it
        from eldergate.community.keys import add_data_key

        path = add_data_key(cfg)
        print(f"a new data key is first in {path}: restart `eldergate community serve` (every process), "
              "then run `eldergate community rotate-keys` to re-encrypt everything with it")
        return EXIT_OK
    start()
    from eldergate.community.clock import now
    from eldergate.community.models.audit import record

    done, unreadable = rotate_all(args.batch)
    record(now(), "cli", "data_key_rotated", "keys:data", values=done, unreadable=unreadable)
    print(f"{done} value(s) re-encrypted with the newest key"
          + (f"; {unreadable} could not be opened with any key (left as they were)" if unreadable else ""))
    if not unreadable:
        print("the older keys may now be removed from the data key (keep a backup until the next backup of "
              "the database)")
    return EXIT_OK
