"""`eldergate community release add|list` and `rollout start|status|halt`: the platform operator's
side of software updates (docs/deploy-city.md, "Software updates").

    eldergate community release add eldergate-0.2.0.zip          # checked against [fleet] release_public_key_file
    eldergate community rollout start 0.2.0 --canary 5 --waves 4 --check 15m
    eldergate community rollout status                           # also on the fleet page, /console/fleet
    eldergate community rollout halt --reason "wrong night hours on the canaries"
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eldergate.community.config import CommunityConfig

EXIT_OK, EXIT_USAGE = 0, 2


def add_parsers(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    rel = with_config(sub.add_parser("release", help="add a signed release bundle (eldergate release build), "
                                     "or list them"))
    rel.add_argument("action", choices=("add", "list"))
    rel.add_argument("bundle", type=Path, nargs="?")
    ro = with_config(sub.add_parser("rollout", help="offer a release to the boxes: a canary group, then waves; "
                                    "halted by itself when a stage is not healthy"))
    ro.add_argument("action", choices=("start", "status", "halt"))
    ro.add_argument("version", nargs="?")
    ro.add_argument("--canary", type=float, default=5.0, help="percent of the boxes first (at least one box)")
    ro.add_argument("--waves", type=int, default=3, help="the rest, in this many waves")
    ro.add_argument("--check", default="10m", help="how long each stage has to prove healthy, and is watched after "
                    "(e.g. 30s, 10m, 1h)")
    ro.add_argument("--community", action="append", default=[], help="only this community's boxes (repeatable)")
    ro.add_argument("--reason", default="halted by the operator")


def _seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m|h)?", text.strip())
    if m is None:
        raise ValueError(f"--check {text!r}: expected e.g. 30s, 10m or 1h")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def releases_dir(cfg: CommunityConfig) -> Path:
    return cfg.resolve(cfg.fleet.releases_dir)


def run(args: argparse.Namespace, start: Callable[[], CommunityConfig]) -> int:
    cfg = start()
    try:
        if args.command == "release":
            return _release(args, cfg)
        return _rollout(args, cfg)
    except ValueError as err:
        print(f"eldergate community {args.command}: {err}", file=sys.stderr)
        return EXIT_USAGE


def _release(args: argparse.Namespace, cfg: CommunityConfig) -> int:
    from eldergate.community.clock import now
    from eldergate.community.models.audit import record
    from eldergate.community.models.releases import Release
    from eldergate.contract.releases import BadRelease, verify

    if args.action == "list":
        for r in Release.objects.all():
            print(f"{r.version}\t{r.created_at:%Y-%m-%d %H:%M}\t{r.size} bytes\tsha256 {r.sha256}")
        return EXIT_OK
    if args.bundle is None:
        raise ValueError("release add BUNDLE")
    if cfg.fleet.release_public_key_file is None:
        raise ValueError("[fleet] release_public_key_file is not set: the server checks a bundle as the boxes will")
    data = args.bundle.read_bytes()
    try:
        manifest = verify(data, cfg.resolve(cfg.fleet.release_public_key_file).read_bytes()).manifest
    except BadRelease as err:
        raise ValueError(f"{args.bundle}: {err}") from None
    folder = releases_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"eldergate-{manifest.version}.zip"
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(args.bundle, tmp)
    tmp.replace(target)
    r, _ = Release.objects.update_or_create(version=manifest.version, defaults={
        "sha256": manifest.sha256, "size": len(data), "manifest": manifest.model_dump(), "created_at": now()})
    record(now(), "cli", "release_added", r, version=r.version, sha256=r.sha256)
    print(f"eldergate {r.version}: signed by the release key; served at {cfg.public_url()}/releases/{target.name}")
    return EXIT_OK


def _rollout(args: argparse.Namespace, cfg: CommunityConfig) -> int:
    from eldergate.community.clock import now
    from eldergate.community.models.releases import Release, Rollout
    from eldergate.community.work import rollouts

    if args.action == "status":
        for r in Rollout.objects.select_related("release")[:5]:
            print(json.dumps({"id": r.pk, **rollouts.progress(r)}, ensure_ascii=False))
        return EXIT_OK
    if args.action == "halt":
        running = Rollout.objects.filter(state="running").select_related("release").first()
        if running is None:
            raise ValueError("no rollout is running")
        rollouts.halt(running, args.reason, now(), by="cli")
        print(f"rollout {running.pk} of {running.release.version} halted")
        return EXIT_OK
    release = Release.objects.filter(version=args.version or "").first()
    if release is None:
        raise ValueError(f"no release {args.version!r}: add its bundle first (eldergate community release add)")
    if not 0 < args.canary <= 100 or not 1 <= args.waves <= 100:
        raise ValueError("--canary is a percentage (0-100], --waves 1-100")
    r = rollouts.start(release, args.canary, args.waves, _seconds(args.check), "cli", now(),
                       communities=args.community or None)
    p = rollouts.progress(r)
    print(f"rollout {r.pk} of {release.version}: {sum(p['per_stage']['0'].values())} canary box(es), "
          f"{r.stages - 1} wave(s)")
    return EXIT_OK
