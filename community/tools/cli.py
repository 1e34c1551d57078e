"""``eldergate community init|serve|check-config|import-residents|create-user|escalate|dead-letters|identities|
broker|ca|openapi``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from eldergate.community.config import CommunityConfig, CommunityConfigError, load, with_overrides
from eldergate.community.tools import dead_letters, identities, lost_cli, releases_cli, rotate_keys, tokens

log = logging.getLogger("eldergate.community")
EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
ROLES = ("platform-operator", "street-admin", "community-admin", "grid-worker", "volunteer", "relative", "installer")

EXAMPLE = """\
# eldergate community server (docs/community.md). Every value shown is the default.
[server]
listen = "127.0.0.1:8000"
database = "sqlite:///eldergate-community.sqlite3"   # or postgresql://eldergate@127.0.0.1:5432/eldergate
time_zone = "Asia/Shanghai"
language = "zh-hans"
# public_url = "https://community.example.cn"       # the address in pushes' links
# secret_key_file = "secret.key"                     # created beside the database when absent
# data_key_file = "data.key"                         # encrypts medical notes: back it up apart

[broker]
url = "mqtt://127.0.0.1:1883"
prefix = "eldergate/v1"

[offline]
grace_s = 120
silence_s = 600
test_every_days = 30

[escalation]
night = "22:00-07:00"
remind_every_s = 900
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eldergate community", description="The community server.")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def with_config(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--config", type=Path, help="community.toml (default: built-in defaults, this folder)")
        sp.add_argument("--db", help="database URL (overrides the file)")
        return sp

    init = sub.add_parser("init", help="write community.toml and the keys, create the database")
    init.add_argument("folder", type=Path, nargs="?", default=Path("."))
    init.add_argument("--street", default="", help="also create this street...")
    init.add_argument("--community", default="", help="...and this community (its code is the gateways' site)")
    init.add_argument("--db", help="database URL (written into the new community.toml)")
    init.add_argument("--name", default="", help="the community's name as people say it (default: its code)")

    srv = with_config(sub.add_parser("serve", help="run the server (web, ingest and timers)"))
    srv.add_argument("--broker", help="mqtt://HOST:PORT (overrides the file)")
    srv.add_argument("--listen", help="HOST:PORT (overrides the file)")
    srv.add_argument("--role", choices=("all", "web", "ingest", "escalation"), default="all")

    chk = sub.add_parser("check-config", help="validate community.toml and say what it sets")
    chk.add_argument("file", type=Path)

    imp = with_config(sub.add_parser("import-residents", help="import a resident list (.xlsx or .csv)"))
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="check every row, import nothing")

    cu = with_config(sub.add_parser("create-user", help="create a user; --token prints an API token last"))
    cu.add_argument("name")
    # the box's TOML writes a contact's role grid_worker: the same word is taken here (one vocabulary)
    cu.add_argument("--role", required=True, choices=ROLES, type=lambda r: r.replace("_", "-"))
    cu.add_argument("--community", help="community code (for community roles)")
    cu.add_argument("--street", help="street name (street admin)")
    cu.add_argument("--resident", type=int, help="resident record id (relative)")
    cu.add_argument("--notify-url", default="", help="Apprise URL for escalation pushes")
    cu.add_argument("--password-file", type=Path, help="a file holding a password for the admin pages (/admin/)")
    cu.add_argument("--token", action="store_true", help="print a new API token on the last line")
    cu.add_argument("--display-name", default="", help="the name pages show for this person (李明); default: NAME")

    esc = with_config(sub.add_parser("escalate", help="run the due escalation steps once (cron, or a test clock)"))
    esc.add_argument("--now", help="ISO 8601 time to run at (default: now)")

    sim = sub.add_parser("simulate", help="many homes at the contract level (the demo; load)")
    sim.add_argument("--broker", required=True)
    sim.add_argument("--site", required=True, help="the community's code (the gateways' site)")
    sim.add_argument("--gateways", nargs="+", required=True, help="gateway ids to simulate")
    sim.add_argument("--duration", type=float, help="seconds (default: until interrupted)")
    sim.add_argument("--credentials", type=Path, help="a site-wide identity's credentials file "
                     "(eldergate community identities issue --site-wide SITE --out FILE)")

    wu = with_config(sub.add_parser("wall-url", help="print the wall screen's address for a community"))
    wu.add_argument("--community", help="community code (default: the first)")

    dead_letters.add_parser(sub, with_config)
    identities.add_parsers(sub, with_config)
    tokens.add_parsers(sub, with_config)
    lost_cli.add_parsers(sub, with_config)
    releases_cli.add_parsers(sub, with_config)
    rotate_keys.add_parser(sub, with_config)

    cr = with_config(sub.add_parser("config-resend", help="send every home's whole configuration to its boxes "
                                    "again, as a new version (a community-wide change, a restored backup)"))
    cr.add_argument("--community", help="only this community's homes (its code)")
    cr.add_argument("--why", default="", help="recorded in the audit trail")

    oa = sub.add_parser("openapi", help="print the API's OpenAPI document (docs/openapi.json)")
    oa.add_argument("--out", type=Path)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("django", "uvicorn", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(COMMANDS[args.command](args))
    except CommunityConfigError as err:
        print(f"eldergate community: invalid configuration: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_OK


def _config(args: argparse.Namespace) -> CommunityConfig:
    cfg = load(getattr(args, "config", None))
    return with_overrides(cfg, db=getattr(args, "db", None), broker=getattr(args, "broker", None),
                          listen=getattr(args, "listen", None))


def _django(cfg: CommunityConfig) -> None:
    from django.db import DatabaseError

    from eldergate.community.bootstrap import start_django

    try:
        start_django(cfg)
    except DatabaseError as err:
        raise CommunityConfigError(f"server.database: cannot use {cfg.server.database.split('@')[-1]}: "
                                   f"{str(err).strip().splitlines()[0]}") from None


def cmd_init(args: argparse.Namespace) -> int:
    folder: Path = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    cfg_file = folder / "community.toml"
    if not cfg_file.exists():
        text = EXAMPLE
        if args.db:
            text = text.replace('database = "sqlite:///eldergate-community.sqlite3"', f'database = "{args.db}"')
        cfg_file.write_text(text, encoding="utf-8")
        print(f"wrote {cfg_file}")
    cfg = load(cfg_file)
    _django(cfg)
    if args.community:
        from eldergate.community.models import Community, Street

        street, _ = Street.objects.get_or_create(name=args.street or args.community)
        Community.objects.get_or_create(code=args.community,
                                        defaults={"name": args.name or args.community, "street": street})
        print(f"community {args.community} under street {street.name}")
    print(f"database ready: {cfg.server.database}\nnext: eldergate community create-user NAME --role "
          f"platform-operator --token --config {cfg_file}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    cfg = _config(args)
    _django(cfg)
    from eldergate.community.tools.serve import serve

    return serve(cfg, args.role)


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = load(args.file)
    s = cfg.server
    print(f"listen {s.listen}, database {s.database.split('@')[-1]}, broker {cfg.broker.url} ({cfg.broker.prefix})")
    print(f"time zone {s.time_zone}, language {s.language}, night {cfg.escalation.night}")
    for sev, steps in cfg.escalation.ladders.items():
        print(f"ladder {sev}: " + (" → ".join(f"{st.to} at {st.after_s:g} s" for st in steps) or "nobody is paged"))
    print(f"offline after a will + {cfg.offline.grace_s:g} s or {cfg.offline.silence_s:g} s of silence; "
          f"test round every {cfg.offline.test_every_days:g} days")
    print("retention (days): " + ", ".join(f"{k} {v}" for k, v in cfg.retention.model_dump().items()))
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    cfg = _config(args)
    _django(cfg)
    from eldergate.community.work.importer import import_residents

    report = import_residents(args.file, args.dry_run)
    for e in report.errors:
        print(e)
    if not report.ok:
        print(f"{len(report.errors)} problem(s) in {report.rows} row(s): nothing imported")
        return EXIT_FAIL
    if report.dry_run:
        print(f"{report.rows} row(s) checked, all good (dry run: nothing imported)")
    else:
        print(f"{report.rows} row(s) imported: " + ", ".join(f"{v} {k}" for k, v in report.created.items()))
        missing = report.created.get("residents", 0) - report.created.get("consents", 0)
        if missing:
            print(f"{missing} resident(s) without a recorded consent to monitoring (columns 同意人, 同意日期): their "
                  "vitals and nightly figures stay hidden until it is recorded on their page; alerts work as always")
    return EXIT_OK


def cmd_create_user(args: argparse.Namespace) -> int:
    cfg = _config(args)
    _django(cfg)
    from eldergate.community.tools.users import UserError, create_user

    password = None
    if args.password_file is not None:
        try:
            password = args.password_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            print(f"eldergate community: --password-file: {err.strerror}", file=sys.stderr)
            return EXIT_CONFIG
    new_community: list[str] = []
    try:
        token = create_user(args.name, args.role, community=args.community, street=args.street,
                            resident=args.resident, notify_url=args.notify_url, token=args.token,
                            password=password, created_community=new_community, display_name=args.display_name)
    except UserError as err:
        print(f"eldergate community: {err}", file=sys.stderr)
        return EXIT_CONFIG
    for code in new_community:
        print(f"community {code} did not exist: created it (name and street: {code}; change them in the admin)")
    print(f"user {args.name} ({args.role}) ready")
    if token is not None:
        print(token)
    return EXIT_OK


def cmd_escalate(args: argparse.Namespace) -> int:
    cfg = _config(args)
    _django(cfg)
    from datetime import UTC, datetime

    from eldergate.community.work import escalation
    from eldergate.community.work.notify import AppriseNotifier

    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    sent = escalation.drain(now if now.tzinfo else now.replace(tzinfo=UTC), cfg, AppriseNotifier())
    print(f"{sent} push(es) sent")
    return EXIT_OK


def cmd_openapi(args: argparse.Namespace) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load(None).model_copy(update={"server": load(None).server.model_copy(update={"data_dir": Path(tmp)})})
        from eldergate.community.bootstrap import start_django

        start_django(cfg, migrate=False)
        from eldergate.community.api.app import api

        text = json.dumps(api.get_openapi_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from eldergate.community.tools.simulate import run

    sent = run(args.broker, args.site, args.gateways, args.duration, args.credentials)
    print(f"{sent} message(s) sent for {len(args.gateways)} simulated home(s)")
    return EXIT_OK


def cmd_wall_url(args: argparse.Namespace) -> int:
    cfg = _config(args)
    _django(cfg)
    from django.urls import reverse

    from eldergate.community.models import Community

    qs = Community.objects.order_by("pk")
    c = qs.filter(code=args.community).first() if args.community else qs.first()
    if c is None:
        print("eldergate community: no such community", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{cfg.public_url()}{reverse('wall')}?key={c.wall_key}")
    return EXIT_OK


def cmd_dead_letters(args: argparse.Namespace) -> int:
    def start() -> CommunityConfig:
        cfg = _config(args)
        _django(cfg)
        return cfg

    return dead_letters.run(args, start)


def cmd_identities(args: argparse.Namespace) -> int:
    def start() -> CommunityConfig:
        cfg = _config(args)
        _django(cfg)
        return cfg

    return identities.run_identities(args, start)


def cmd_django_tool(args: argparse.Namespace) -> int:
    """The commands that need only the database: tokens, login links, second factors, badges, weather."""
    def start() -> CommunityConfig:
        cfg = _config(args)
        _django(cfg)
        return cfg

    run = {"tokens": tokens.run_tokens, "otp": tokens.run_otp, "badge": lost_cli.run, "locator": lost_cli.run,
           "weather": lost_cli.run, "release": releases_cli.run, "rollout": releases_cli.run,
           }.get(args.command, tokens.run_login_link)
    return run(args, start)


def cmd_config_resend(args: argparse.Namespace) -> int:
    cfg = _config(args)
    _django(cfg)
    from eldergate.community.clock import now
    from eldergate.community.models import Community, Home
    from eldergate.community.work.desired_config import resend

    homes = Home.objects.all()
    if args.community:
        if not Community.objects.filter(code=args.community).exists():
            print(f"eldergate community: no community {args.community!r}", file=sys.stderr)
            return EXIT_CONFIG
        homes = homes.filter(community__code=args.community)
    n = resend(homes, now(), "cli", args.why or "config-resend")
    print(f"{n} home(s) get their configuration again; the running server sends it to their boxes within seconds")
    return EXIT_OK


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    cfg = _config(args)

    def start() -> CommunityConfig:
        _django(cfg)
        return cfg

    return rotate_keys.run(args, start, cfg)


COMMANDS = {"simulate": cmd_simulate, "dead-letters": cmd_dead_letters, "wall-url": cmd_wall_url,
            "init": cmd_init, "serve": cmd_serve, "check-config": cmd_check_config, "import-residents": cmd_import,
            "create-user": cmd_create_user, "escalate": cmd_escalate, "openapi": cmd_openapi,
            "identities": cmd_identities, "rotate-keys": cmd_rotate_keys, "config-resend": cmd_config_resend,
            **dict.fromkeys(("tokens", "login-link", "otp", "badge", "locator", "weather", "release", "rollout"),
                            cmd_django_tool),
            "broker": identities.run_broker, "ca": identities.run_ca}
