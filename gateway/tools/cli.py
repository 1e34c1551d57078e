"""The ``eldergate`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eldergate.config.loader import ConfigError, load_config, parse_config
from eldergate.config.schema import Config
from eldergate.drivers.errors import InputError
from eldergate.drivers.protocols import PROTOCOLS, describe
from eldergate.gateway.core.logsetup import setup_logging
from eldergate.gateway.core.version import version
from eldergate.gateway.links.capture import CaptureError
from eldergate.gateway.tools.console_client import cmd_console
from eldergate.gateway.tools.release import add_release_parser, cmd_release
from eldergate.gateway.tools.signals import stop_on_signals
from eldergate.gateway.tools.vitals_csv import cmd_vitals

log = logging.getLogger("eldergate")

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eldergate", description="Edge gateway for elderly people who live alone.")
    p.add_argument("--version", action="version", version=f"eldergate {version()}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("community", help="the community server: init, serve, create-user, import-residents... "
                   "(eldergate community --help)", add_help=False)

    run = sub.add_parser("run", help="run the gateway for a home")
    run.add_argument("--config", required=True, type=Path, help="the home's TOML file")
    run.add_argument("--state-dir", type=Path, help="override gateway.state_dir")
    run.add_argument("--console", action="store_true", help="also print a live, readable view")

    chk = sub.add_parser("check-config", help="validate a configuration file and summarise it")
    chk.add_argument("file", type=Path)

    demo = sub.add_parser("demo", help="run a simulated home (no hardware, no servers), about a minute")
    demo.add_argument("--speedup", type=float, default=1.0, help="run the scripted day N times faster")
    demo.add_argument("--color", action="store_true", help="colour the alerts")
    demo.add_argument("--status-port", type=int, default=8080, help="the status page's port on 127.0.0.1 (0: any)")
    demo.add_argument("--keep-running", action="store_true", help="keep the community (wall, console) running after "
                      "the scripted night, until Ctrl-C")
    demo.add_argument("--no-community", action="store_true", help="only the home: no broker, no community server")

    rec = sub.add_parser("record", help="record what the home's sensors send to a capture file")
    rec.add_argument("--config", required=True, type=Path)
    rec.add_argument("--out", required=True, type=Path, help="capture file (JSON lines) to write")
    rec.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    rec.add_argument("--json", action="store_true", help="print what the live pipeline made of it (JSON lines)")

    rep = sub.add_parser(
        "replay", help="run a capture through the real drivers and pipeline",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="protocols (for --sensor ID=PROTOCOL):\n" + describe(),
    )
    rep.add_argument("capture", type=Path, help="capture file (JSON lines)")
    rep.add_argument("--config", type=Path, help="the home's TOML file")
    rep.add_argument("--sensor", action="append", default=[], metavar="ID=PROTOCOL",
                     help="declare a capture's sensor when there is no --config (repeatable)")
    rep.add_argument("--json", action="store_true", help="one JSON object per line")
    rep.add_argument("--readings", action="store_true", help="also print every decoded reading")
    rep.add_argument("--speed", type=float, help="N times real time (default: as fast as possible)")
    rep.add_argument("--timezone", default="Asia/Shanghai", help="for --sensor mode (night hours)")

    com = sub.add_parser("commission", help="installer: check every sensor and walk through a test of the home")
    com.add_argument("--config", required=True, type=Path)
    com.add_argument("--yes", action="store_true", help="do not wait for Enter between steps (each step waits "
                     "for its event until the timeout)")
    com.add_argument("--step-timeout", type=float, default=120.0, help="seconds to wait for each step's event")
    com.add_argument("--alive-timeout", type=float, default=30.0, help="seconds to wait for every sensor's frames")
    com.add_argument("--retries", type=int, default=0, help="with --yes: try a failed step again this many times "
                     "(interactively, Enter tries again and s skips)")

    con = sub.add_parser("console", help="community side: the server's open alerts in a terminal; acknowledge")
    con.add_argument("--server", required=True, help="the community server, e.g. http://127.0.0.1:8000")
    con.add_argument("--token-file", type=Path, help="a file holding your API token (eldergate community create-user)")
    con.add_argument("--token-env", default="ELDERGATE_TOKEN", help="or the environment variable holding it")
    con.add_argument("--json", action="store_true", help="one JSON line per alert that is new or changed")
    con.add_argument("--every", type=float, default=3.0, help="seconds between looks at the server")
    con.add_argument("--duration", type=float, help="stop after this many seconds")

    add_release_parser(sub)

    vit = sub.add_parser("vitals", help="heart and breathing rate from a CSV of chest displacement")
    vit.add_argument("input", type=Path, help="CSV with columns t (s) and displacement_mm")
    vit.add_argument("--usual-heart-rate", type=float, metavar="BPM",
                     help="the person's own resting heart rate from earlier nights (settles octave doubts)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["community"]:
        return _community(argv[1:])
    args = build_parser().parse_args(argv)
    setup_logging(verbose=args.verbose)
    try:
        return int(_COMMANDS[args.command](args))
    except ConfigError as err:
        _print_config_error(err)
        return EXIT_CONFIG
    except CaptureError as err:
        print(f"eldergate: bad capture: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except InputError as err:  # any other input the command cannot use: one line, exit 2
        print(f"eldergate: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:  # `eldergate replay ... | head`: the reader has gone, end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK


def _community(argv: list[str]) -> int:
    """The community server's commands live in their own package, installed with the
    ``community`` extra; the box in the home never has it (and never imports it)."""
    import importlib

    try:
        cli = importlib.import_module("eldergate.community.tools.cli")
    except ImportError as err:
        print(f"eldergate community: the community server is not installed ({err.name} is missing): "
              "pip install 'eldergate[community]'", file=sys.stderr)
        return EXIT_CONFIG
    return int(cli.main(argv))


def _print_config_error(err: ConfigError) -> None:
    print(f"eldergate: invalid configuration {err.source}:", file=sys.stderr)
    for path, reason in err.problems:
        print(f"  {path}: {reason}", file=sys.stderr)


def _preflight(cfg: Config, source: str, at_start: bool) -> None:
    """What the file points at (contacts' addresses, TLS and credential files, serial ports): an
    error refuses the configuration (exit 2), a warning is said and the command goes on."""
    from eldergate.config.preflight import preflight

    findings = preflight(cfg)
    fatal = [f for f in findings if f.severity == "error" or (at_start and f.severity == "environment")]
    for f in findings:
        if f not in fatal:
            log.warning("%s: %s", f.path, f.message) if at_start else print(f"warning: {f.path}: {f.message}")
    if fatal:
        raise ConfigError(source, [(f.path, f.message) for f in fatal])


def cmd_check_config(args: argparse.Namespace) -> int:
    from eldergate.gateway.tools.config_report import report

    cfg = load_config(args.file)
    _preflight(cfg, str(args.file), at_start=False)
    print(report(cfg))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from eldergate.gateway.tools import demo_community
    from eldergate.gateway.tools.demo import run_demo

    community = None
    why = "--no-community" if args.no_community else demo_community.missing()
    if why is None:
        community = demo_community.CommunityDemo(sys.stdout)
        try:
            community.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as err:
            print(f"the community part of the demo did not start ({err}); the home runs alone", file=sys.stderr)
            community.stop()
            community = None
    else:
        print(f"(the demo runs the home alone: {why})\n", flush=True)
    try:
        claimed = community is not None and community.identities
        result = run_demo(sys.stdout, speedup=args.speedup, color=args.color, status_port=args.status_port,
                          uplink_url=community.broker_url if community else None,
                          server_url=community.base if community is not None and claimed else None,
                          on_started=(lambda gw: _claim_in_demo(gw, community)) if claimed else None)
        if community is not None:
            community.grid_worker_answers()
            print(f"wall: {community.wall}", flush=True)
            print(f"console: {community.console}", flush=True)
            if args.keep_running:
                print("the community keeps running: open the wall and the console; Ctrl-C ends it", flush=True)
                stop = threading.Event()
                stop_on_signals(stop.set)
                stop.wait()
    finally:
        if community is not None:
            community.stop()
    return EXIT_OK if result.alerts else EXIT_FAIL


def _claim_in_demo(gw: Any, community: Any) -> None:
    """The installer's part, shown: the box's code, the claim, the credentials it collects."""
    claimer = gw.claimer
    if claimer is None:
        return
    print(f"this box is not claimed yet — claim code {claimer.claim.code} (also on its status page, with a QR code)",
          flush=True)
    print(community.claim(claimer.claim.code), flush=True)
    if claimer.done.wait(20):
        user = claimer.credentials.read_text().splitlines()[0]
        print(f"the box collected its broker credentials ({user}, file mode 0600); its uplink starts\n", flush=True)
    else:
        print("(the box has not collected its credentials yet; its alerts wait in its outbox)\n", flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from eldergate.gateway.core.sdnotify import SystemdNotifier
    from eldergate.gateway.core.sinks import Sink
    from eldergate.gateway.delivery.desired_config import DesiredConfig, effective_config
    from eldergate.gateway.delivery.updates import relaunch_command
    from eldergate.gateway.local.console_view import ConsoleView
    from eldergate.gateway.runtime import Gateway, default_store

    cfg, state = effective_config(Path(args.config), args.state_dir)  # the TOML, with the server's laid over it
    _preflight(cfg, str(args.config), at_start=True)
    store = default_store(cfg, args.state_dir)
    sinks: list[Sink] = [ConsoleView(sys.stdout, cfg.gateway.timezone, rooms=cfg.room_names())] if args.console else []
    desired = DesiredConfig(Path(args.config), args.state_dir or cfg.gateway.state_dir, state, cfg)
    gw = Gateway(cfg, sinks, store=store, desired=desired, state_dir=args.state_dir)
    stop_on_signals(gw.stop)
    gw.start()
    notifier = SystemdNotifier()
    gw.announce(notifier)
    log.info("gateway %s/%s running with %d sensor(s)", cfg.gateway.site, cfg.gateway.id, len(cfg.sensors))
    gw.run()
    notifier.notify("STOPPING=1")
    log.info("stopped; %d reading(s) processed, everything stored", gw.processed)
    if gw.updater.expired:  # a new release that did not prove healthy in time: the launcher goes back
        return EXIT_FAIL
    if gw.updater.relaunch and (launch := relaunch_command()) is not None:  # a new release is installed
        logging.shutdown()
        os.execv(launch[0], launch)
    if gw.restart_requested:  # the server's configuration changed: run again with it, as the same process
        logging.shutdown()
        os.execv(sys.executable, [sys.executable, "-m", "eldergate.gateway.tools.cli", *sys.argv[1:]])
    return EXIT_OK


def cmd_record(args: argparse.Namespace) -> int:
    from eldergate.gateway.core.sinks import JsonLinesSink
    from eldergate.gateway.links.capture import CaptureWriter
    from eldergate.gateway.runtime import Gateway

    cfg = load_config(args.config)
    with args.out.open("w", encoding="utf-8") as fh:
        writer: CaptureWriter | None = None
        lock = threading.Lock()

        def tap(t: float, sensor: str, data: bytes) -> None:
            with lock:
                assert writer is not None
                writer.serial(t, sensor, data)

        gw = Gateway(cfg, [JsonLinesSink(sys.stdout)] if args.json else [], raw_tap=tap)
        writer = CaptureWriter(fh, gw.clock.now(), cfg.gateway.timezone)
        gw.bus.raw_tap = lambda t, sensor, topic, payload: writer.message(t, sensor, topic, payload)
        stop_on_signals(gw.stop)
        if args.duration:
            threading.Timer(args.duration, gw.stop).start()
        gw.start()
        log.info("recording to %s: gateway %s/%s running with %d sensor(s)", args.out, cfg.gateway.site,
                 cfg.gateway.id, len(cfg.sensors))
        gw.run()
        writer.end(gw.clock.now())
    log.info("capture written to %s", args.out)
    return EXIT_OK


def adhoc_config(sensors: list[str], capture: Path, timezone: str) -> Config:
    """A configuration for --sensor ID=PROTOCOL: default settings, one resident, one room."""
    topics = _first_topics(capture)
    entries = []
    for i, spec in enumerate(sensors):
        sid, _, proto = spec.partition("=")
        info = PROTOCOLS.get(proto)
        if info is None:
            raise ConfigError("--sensor", [(f"--sensor[{i}]", f"{spec!r}: expected ID=PROTOCOL with one of "
                                            + ", ".join(PROTOCOLS))])
        if info.requires:
            raise ConfigError("--sensor", [(f"--sensor[{i}]", f"{spec!r}: a {proto} sensor needs "
                                            f"{', '.join(info.requires)}: describe it in a configuration file "
                                            "and use --config")])
        entry: dict[str, object] = {"id": sid, "protocol": proto, "role": info.role, "room": "home"}
        if info.link == "mqtt":
            entry["mqtt"] = {"topic": topics.get(sid, f"{proto}/{sid}")}
        else:
            entry["serial"] = {"port": f"capture:{sid}"}
        entries.append(entry)
    data = {
        "gateway": {"site": "replay", "id": "replay", "timezone": timezone},
        "residents": [{"id": "resident", "display_name": "resident", "birth_year": 1940}],
        "rooms": [{"id": "home", "name": "home"}],
        "sensors": entries,
    }
    return parse_config(data, "--sensor")


def _first_topics(capture: Path) -> dict[str, str]:
    """For MQTT sensors declared ad hoc: the device's state topic, as first seen."""
    from eldergate.gateway.links.capture import read_capture

    topics: dict[str, str] = {}
    _meta, items = read_capture(capture)
    for item in items:
        if item.topic and item.sensor not in topics and not item.topic.endswith(("/availability", "/state")):
            topics[item.sensor] = item.topic
    return topics


def cmd_replay(args: argparse.Namespace) -> int:
    from eldergate.gateway.core.sinks import JsonLinesSink
    from eldergate.gateway.local.console_view import ConsoleView
    from eldergate.gateway.tools.replay import replay

    if args.config is not None:
        cfg = load_config(args.config)
    elif args.sensor:
        cfg = adhoc_config(args.sensor, args.capture, args.timezone)
    else:
        print("eldergate replay: give --config FILE or --sensor ID=PROTOCOL", file=sys.stderr)
        return EXIT_CONFIG
    only_named = args.config is None  # --sensor picks some of the capture's sensors: the rest are skipped
    if args.json:
        sink = JsonLinesSink(sys.stdout, readings=args.readings)
        replay(cfg, args.capture, sink.emit, readings=args.readings, speed=args.speed, only_named=only_named)
        sink.close()
    else:
        view = ConsoleView(sys.stdout, cfg.gateway.timezone, vitals_every_s=60.0, rooms=cfg.room_names())
        replay(cfg, args.capture, view.emit, speed=args.speed, only_named=only_named)
    return EXIT_OK


def cmd_commission(args: argparse.Namespace) -> int:
    from eldergate.gateway.tools.commission import Commissioning, send_report

    cfg = load_config(args.config)
    wait = not args.yes and sys.stdin is not None and sys.stdin.isatty()
    report = Commissioning(cfg, sys.stdout, wait, args.step_timeout, args.alive_timeout, args.retries).run()
    send_report(cfg, report, cfg.gateway.state_dir, print)
    return EXIT_OK if report.ready else EXIT_FAIL


_COMMANDS = {
    "run": cmd_run,
    "check-config": cmd_check_config,
    "demo": cmd_demo,
    "record": cmd_record,
    "replay": cmd_replay,
    "vitals": cmd_vitals,
    "console": cmd_console,
    "commission": cmd_commission,
    "release": cmd_release,
}

if __name__ == "__main__":
    sys.exit(main())
