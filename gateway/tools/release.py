"""``eldergate release``: the platform operator's side of software updates (contract/releases.py).

    eldergate release keygen /secure/release.key          # the signing key (0600) and release.key.pub
    eldergate release build dist/eldergate-0.2.0-py3-none-any.whl --key /secure/release.key \
        [--with wheels/some_dependency-1.2-py3-none-any.whl ...]
    eldergate release verify eldergate-0.2.0.zip --public-key /etc/eldergate/release.pub

The public key goes to every box at installation (``[updates] public_key_file``) and to the
community server (``[fleet] release_public_key_file``); the private key stays offline.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from eldergate.contract.releases import BadRelease, build, new_key, verify
from eldergate.drivers.errors import InputError


def add_release_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rel = sub.add_parser("release", help="platform operator: the release key, signed bundles for the boxes")
    rs = rel.add_subparsers(dest="release_command", metavar="ACTION", required=True)
    k = rs.add_parser("keygen", help="make the ed25519 release key (KEY, mode 0600) and its public half (KEY.pub)")
    k.add_argument("key", type=Path)
    b = rs.add_parser("build", help="sign an eldergate wheel into a bundle (eldergate-<version>.zip)")
    b.add_argument("wheel", type=Path)
    b.add_argument("--key", type=Path, required=True, help="the private release key")
    b.add_argument("--out", type=Path, help="the bundle to write (default: beside the wheel)")
    b.add_argument("--with", dest="with_wheel", type=Path, action="append", default=[], metavar="WHEEL",
                   help="a dependency's wheel the boxes' installation lacks or needs newer, built for the "
                        "boxes' platform (e.g. pip download --only-binary=:all: --platform "
                        "manylinux2014_aarch64); repeatable")
    v = rs.add_parser("verify", help="check a bundle as a box would")
    v.add_argument("bundle", type=Path)
    v.add_argument("--public-key", type=Path, required=True)


def cmd_release(args: argparse.Namespace) -> int:
    try:
        if args.release_command == "keygen":
            return _keygen(args.key)
        if args.release_command == "build":
            out = args.out or args.wheel.with_name(f"eldergate-{args.wheel.name.split('-')[1]}.zip")
            m = build(args.wheel, args.key.read_bytes(), out, tuple(args.with_wheel))
            print(f"{out}: eldergate {m.version}, wheel sha256 {m.sha256}"
                  + "".join(f"\n  with {d.wheel} sha256 {d.sha256}" for d in m.dependencies))
            return 0
        m = verify(args.bundle.read_bytes(), args.public_key.read_bytes()).manifest
        deps = "".join(f"\n  with {d.wheel}" for d in m.dependencies)
        print(f"{args.bundle}: eldergate {m.version}, signed by this key{deps}")
        return 0
    except BadRelease as err:
        raise InputError(str(err)) from None
    except OSError as err:
        raise InputError(f"{err.filename}: {err.strerror}") from None


def _keygen(key: Path) -> int:
    if key.exists():
        raise InputError(f"{key} exists: a new key would orphan every box that trusts the old one")
    private, public = new_key()
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    pub = key.with_name(key.name + ".pub")
    pub.write_bytes(public)
    print(f"{key} (keep it offline) and {pub} (for the boxes and the server)")
    return 0
