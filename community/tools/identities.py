"""``eldergate community identities|broker|ca``: who may speak for a box, for operators.

* ``identities list|issue|revoke|sync``: the boxes' broker identities (claims from the console
  are the installer's way; ``issue`` writes a credentials file for an operator who installs by
  hand, or a site-wide one for a simulator; ``sync`` gives the broker every identity again, after
  its store was lost).
* ``identities nats-users --out FILE [--on-change CMD]``: the NATS cluster's users file, rewritten
  only when an identity changed (a timer on each node; identity/nats_users.py).
* ``broker init``: the dynamic security plugin's first file and the server's own credentials.
* ``ca init|issue|revoke``: the community's certificate authority in files (``identity/ca.py``).
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    ids = with_config(sub.add_parser("identities", help="the boxes' broker identities: list, issue, revoke, sync"))
    ids.add_argument("action", choices=("list", "issue", "revoke", "sync", "nats-users"), nargs="?", default="list")
    ids.add_argument("box", nargs="?", help="SITE/GATEWAY (issue, revoke)")
    ids.add_argument("--site-wide", metavar="SITE", help="issue: one identity for every gateway of SITE "
                     "(a contract-level simulator or a test rig, never a box)")
    ids.add_argument("--certificate", action="store_true",
                     help="issue: the box authenticates with a client certificate (CN SITE.GATEWAY), not a password")
    ids.add_argument("--out", type=Path, help="issue: write the credentials file here (mode 0600); nats-users: "
                     "the users file the NATS node includes")
    ids.add_argument("--on-change", metavar="COMMAND", help="nats-users: run this when the file changed "
                     "(systemctl reload eldergate-nats@n1)")
    ids.add_argument("--reason", default="revoked by the operator")

    br = sub.add_parser("broker", help="the broker's identity store: init")
    br.add_argument("action", choices=("init",))
    br.add_argument("--dynsec", type=Path, required=True,
                    help="the dynamic security plugin's file to create (plugin_opt_config_file)")
    br.add_argument("--credentials", type=Path, required=True,
                    help="where to write the server's own broker credentials ([broker] credentials_file)")
    br.add_argument("--username", default="eldergate-server")
    br.add_argument("--prefix", default="eldergate/v1")

    ca = sub.add_parser("ca", help="the community's certificate authority in files: init, issue, revoke")
    ca.add_argument("action", choices=("init", "issue", "revoke"))
    ca.add_argument("folder", type=Path, help="the CA's folder (keep it offline or on the server only)")
    ca.add_argument("name", nargs="?", help="init: the CA's name; issue: the certificate's CN "
                    "(SITE.GATEWAY for a box); revoke: the certificate file")
    ca.add_argument("--host", action="append", default=[],
                    help="issue a server certificate for this DNS name or IP address (repeat)")
    ca.add_argument("--out", type=Path, help="issue: the folder for NAME.crt and NAME.key (default: the CA's)")
    ca.add_argument("--serial", help="revoke by serial number (hex) instead of by file")


def _secret_file(path: Path, text: str) -> None:
    from eldergate.community.identity.ca import write_file

    write_file(path, text.encode(), private=True)


def run_broker(args: argparse.Namespace) -> int:
    import json

    from eldergate.community.identity.dynsec_file import initial_store

    if args.dynsec.exists():
        print(f"eldergate community broker init: {args.dynsec} exists (it holds every box's identity)",
              file=sys.stderr)
        return EXIT_USAGE
    password = secrets.token_urlsafe(24)
    store = initial_store(args.prefix, args.username, password)
    args.dynsec.parent.mkdir(parents=True, exist_ok=True)
    _secret_file(args.dynsec, json.dumps(store, indent=1) + "\n")
    _secret_file(args.credentials, f"{args.username}\n{password}\n")
    print(f"wrote {args.dynsec} (give it to the broker's user: chown mosquitto) and {args.credentials}\n"
          f"next: plugin_opt_config_file {args.dynsec} in the broker's file, credentials_file = "
          f"\"{args.credentials}\" and identities = \"dynsec\" under [broker] in community.toml")
    return EXIT_OK


def run_ca(args: argparse.Namespace) -> int:
    from eldergate.community.identity import ca

    try:
        if args.action == "init":
            auth = ca.init(args.folder, args.name or "eldergate community CA")
            print(f"CA in {args.folder}: {auth.cert_file} goes to every box and broker; {auth.key_file} stays here")
        elif args.action == "issue":
            if not args.name:
                print("eldergate community ca issue: name the certificate (its CN)", file=sys.stderr)
                return EXIT_USAGE
            crt, key = ca.issue(args.folder, args.name, args.out or args.folder, args.host)
            print(f"wrote {crt} and {key} ({'server: ' + ', '.join(args.host) if args.host else 'client'})")
        else:
            serial = ca.revoke(args.folder, Path(args.name) if args.name else None, args.serial)
            print(f"revoked {serial}; {ca.Authority(args.folder).crl_file} is the new CRL: copy it to the brokers "
                  "(Mosquitto reads crlfile for every new connection after a reload, `systemctl reload mosquitto`)")
    except ca.CaError as err:
        print(f"eldergate community ca: {err}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _nats_users(args: argparse.Namespace, cfg: Any) -> int:
    import subprocess

    from eldergate.community.identity import nats_users
    from eldergate.community.models import BoxIdentity
    from eldergate.community.models.crypto import decrypt

    if args.out is None or cfg.broker.credentials_file is None:
        print("eldergate community identities nats-users: needs --out and [broker] credentials_file (the server's "
              "own user)", file=sys.stderr)
        return EXIT_USAGE
    name, password = cfg.broker.credentials_file.read_text().splitlines()[:2]
    users = [nats_users.User(name.strip(), password.strip(), server=True)]
    seen = list(BoxIdentity.objects.filter(applied=False).values_list("pk", "revoked_at"))
    for i in BoxIdentity.objects.filter(revoked_at__isnull=True, kind=BoxIdentity.Kind.PASSWORD):
        users.append(nats_users.User(i.username, decrypt(i.secret), i.site, i.box_id))
    old = args.out.read_text() if args.out.exists() else ""
    text = nats_users.render(cfg.broker.prefix, users, nats_users.digests(old))
    if text == old:
        print(f"{args.out}: unchanged ({len(users)} users)")
    else:
        _secret_file(args.out, text)
        args.out.chmod(0o644)  # the node runs as a dynamic user; it holds digests of random tokens only
        print(f"{args.out}: {len(users)} users written")
        if args.on_change and subprocess.run(args.on_change, shell=True).returncode != 0:
            print(f"eldergate community identities nats-users: {args.on_change!r} failed", file=sys.stderr)
            return EXIT_FAIL
    for pk, revoked_at in seen:  # what the file now says (a row revoked meanwhile waits for the next run)
        BoxIdentity.objects.filter(pk=pk, revoked_at=revoked_at).update(applied=True)
    return EXIT_OK


def run_identities(args: argparse.Namespace, start: Callable[[], Any]) -> int:
    cfg = start()
    from eldergate.community.clock import now
    from eldergate.community.identity import issue
    from eldergate.community.models import BoxIdentity

    try:
        if args.action == "list":
            for i in BoxIdentity.objects.order_by("username", "-pk"):
                state = "live" if i.revoked_at is None else f"revoked {i.revoked_at:%Y-%m-%d %H:%M} ({i.reason})"
                unsent = f", {i.unsent_at_revoke} alert(s) unsent on the box" if i.unsent_at_revoke else ""
                broker = "" if i.applied else ", broker not yet told"
                print(f"{i.username:<40} {i.kind:<11} issued {i.issued_at:%Y-%m-%d %H:%M} by {i.issued_by}  "
                      f"{state}{unsent}{broker}")
            return EXIT_OK
        if args.action == "nats-users":
            return _nats_users(args, cfg)
        if args.action == "sync":
            n = BoxIdentity.objects.update(applied=False)
            print(f"{n} identities will be given to the broker again by the running server (their boxes reconnect)")
            return EXIT_OK
        if args.action == "issue":
            if args.site_wide:
                site, gw = args.site_wide, ""
            else:
                site, _, gw = issue.username_of(args.box or "").partition(".")
            kind = BoxIdentity.Kind.CERTIFICATE if args.certificate else BoxIdentity.Kind.PASSWORD
            got = issue.issue(site, gw, "operator", now(), kind=kind)
            if kind == BoxIdentity.Kind.CERTIFICATE:
                print(f"{got.identity.username}: give the box a client certificate with CN {got.identity.username} "
                      "(eldergate community ca issue)")
            elif args.out:
                _secret_file(args.out, f"{got.identity.username}\n{got.password}\n")
                print(f"{got.identity.username}: credentials written to {args.out} "
                      "(mode 0600; the box's uplink.credentials_file)")
            else:
                print(f"{got.identity.username}: no --out given, so the password is shown once:\n{got.password}")
            return EXIT_OK
        gone = issue.revoke(issue.username_of(args.box or ""), "operator", now(), args.reason)
        print(f"{gone.username} revoked: the broker refuses it within seconds")
        if gone.unsent_at_revoke:
            print(f"its last status listed {gone.unsent_at_revoke} unsent alert(s): they stay in the box's outbox; "
                  "claim it again (or its replacement's status page) to deliver them")
        return EXIT_OK
    except issue.IdentityError as err:
        print(f"eldergate community identities: {err}", file=sys.stderr)
        return EXIT_USAGE
