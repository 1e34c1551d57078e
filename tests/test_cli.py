"""The command line as a user meets it: check-config, replay, run + SIGTERM, --help."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from eldergate.drivers.readings import Distance, Presence, Target, TargetHeight, Targets
from eldergate.drivers.seeed_tinyframe import encode_reading
from eldergate.gateway.tools.emulation import FrameEmulator

from capture_builder import CaptureBuilder
from testutil import ROOT, clean_env, eldergate_cmd, pty_home, read_lines, wait_for, with_check_in

T0 = datetime(2026, 11, 21, 21, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(eldergate_cmd(*args), capture_output=True, text=True, timeout=timeout, env=clean_env())


def test_version_and_help_on_every_command() -> None:
    assert run("--version").stdout.startswith("eldergate ")
    for cmd in ("run", "check-config", "demo", "record", "replay", "vitals"):
        res = run(cmd, "--help")
        assert res.returncode == 0 and "usage: eldergate" in res.stdout, cmd
    rep = run("replay", "--help").stdout
    for name in ("mr60bha2", "mr60fda2", "zigbee2mqtt"):
        assert name in rep


def test_check_config_accepts_the_demo_and_says_what_the_example_needs(tmp_path: Path) -> None:
    res = run("check-config", str(ROOT / "config" / "demo.toml"))
    assert res.returncode == 0 and "configuration OK" in res.stdout, res.stderr
    # the example points at the files an installer provides: check-config names every one
    res = run("check-config", str(ROOT / "config" / "example.toml"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    needed = ["residents[0].contacts[0].notify_file", "residents[0].contacts[2].notify_file", "uplink.ca_file",
              "telemetry.ca_file", "telemetry.token_file"]
    for path in needed:
        assert path in res.stderr, (path, res.stderr)
    assert "ELDERGATE_RELATIVE_URL" in res.stdout  # the service's environment: said, not refused, in a shell
    # once they are there, it is accepted
    etc = tmp_path / "etc"
    text = (ROOT / "config" / "example.toml").read_text().replace("/etc/eldergate/", f"{etc}/")
    for line in text.splitlines():
        if line.split("=")[0].strip() in ("notify_file", "ca_file", "cert_file", "key_file", "token_file"):
            f = Path(line.split("=", 1)[1].split("#")[0].strip().strip('"'))
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("json://127.0.0.1:9/x\n")
    (tmp_path / "home.toml").write_text(text)
    res = subprocess.run(eldergate_cmd("check-config", str(tmp_path / "home.toml")), capture_output=True, text=True,
                         timeout=60, env={**clean_env(), "ELDERGATE_RELATIVE_URL": "json://127.0.0.1:9/r"})
    assert res.returncode == 0 and "configuration OK" in res.stdout, res.stderr


BAD = """
[gateway]
site = "s"
id = "g"
[[residents]]
id = "r1"
display_name = "x"
birth_yaer = 1940
[[rooms]]
id = "bedroom"
name = "b"
[[sensors]]
id = "bed"
protocol = "mr60bha2"
role = "bed_radar"
room = "bedroom"
serial = { baud = 115200 }
[[sensors]]
id = "door"
protocol = "zigbee2mqtt"
role = "door"
room = "bedroom"
mqtt = { topic = "zigbee2mqtt/door" }
check_in = "often"
[residents.thresholds]
heart_rate_max_bpm = "fast"
"""


def test_check_config_names_every_bad_field_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    res = run("check-config", str(bad))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    for path in ("residents[0].birth_yaer: unknown key", "residents[0].birth_year: field required",
                 "residents[0].thresholds.heart_rate_max_bpm", "sensors[0].serial.port: field required",
                 "sensors[1].check_in"):
        assert path in res.stderr, (path, res.stderr)


def test_check_config_never_prints_secrets(tmp_path: Path) -> None:
    secret = tmp_path / "grid.url"
    secret.write_text("ntfy://user:S3CRET-TOKEN@ntfy.example/topic")
    demo = (ROOT / "config" / "demo.toml").read_text()
    inline = 'notify = "json://127.0.0.1:9/grid_worker"'
    assert inline in demo  # the line this test turns into a secret file
    text = demo.replace(inline, f'notify_file = "{secret}"')
    cfg = tmp_path / "home.toml"
    cfg.write_text(text)
    res = run("check-config", str(cfg))
    assert res.returncode == 0
    assert "S3CRET" not in res.stdout + res.stderr and "王奶奶" not in res.stdout
    assert "readable from file" in res.stdout


def build_capture(path: Path) -> Path:
    cap = CaptureBuilder(T0)
    for k in range(0, 500):  # in bed from 21:00 to 21:08:20
        cap.serial(float(k), "bed_radar", Presence(present=True), Distance(distance_m=0.62))
    for k in range(500, 1000, 2):
        cap.serial(float(k), "bed_radar", Presence(present=False), Distance(distance_m=None))
    cap.mqtt(690.0, "kitchen_gas", "zigbee2mqtt/kitchen_gas", {"gas": False, "battery": 90})
    cap.mqtt(700.0, "kitchen_gas", "zigbee2mqtt/kitchen_gas", {"gas": True, "battery": 90})
    cap.mqtt(760.0, "kitchen_gas", "zigbee2mqtt/kitchen_gas", {"gas": True, "battery": 89})  # cached, no new leak
    cap.mqtt(800.0, "kitchen_gas", "zigbee2mqtt/kitchen_gas", {"gas": False, "battery": 89})
    for k in range(0, 400):  # the room radar at 5 Hz from 21:14:40; a fall at 21:15:00
        t = 880.0 + k * 0.2
        z = 1.0 if t <= 900.0 else max(0.2, 1.0 - (t - 900.0) * 1.4)
        cap.serial(t, "room_radar", Presence(present=True), Targets(targets=(Target(id=1, x=0.3, y=1.0),)),
                   TargetHeight(height_m=z))
    cap.raw(950.0, "room_radar", b"\x01\x02garbage\x01\x00")
    return cap.write(path)


def ten_minute_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "home.toml"
    cfg.write_text(with_check_in((ROOT / "config" / "demo.toml").read_text(), "10min"))
    return cfg


def test_replay_yields_the_exact_events(tmp_path: Path) -> None:
    capture = build_capture(tmp_path / "night.jsonl")
    res = run("replay", "--config", str(ten_minute_config(tmp_path)), str(capture), "--json")
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    for obj in lines:
        assert {"t", "record", "sensor", "resident"} <= obj.keys()
    events = [(round(o["t"] - T0, 1), o["name"]) for o in lines if o["record"] == "event"]
    # the room radar says nothing for its first 880 s, longer than its 10 min check-in
    assert events == [(0.0, "bed_entry"), (500.0, "bed_exit"), (600.0, "sensor_silent"), (700.0, "gas"),
                      (800.0, "gas_cleared"), (880.0, "sensor_recovered"), (901.2, "possible_fall"),
                      (946.2, "fall")]
    alerts = [(round(o["t"] - T0, 1), o["kind"], o["state"]) for o in lines if o["record"] == "alert"]
    assert alerts == [(600.0, "sensor_offline", "raised"), (700.0, "gas", "raised"), (800.0, "gas", "resolved"),
                      (880.0, "sensor_offline", "resolved"), (946.2, "fall", "raised")]
    fall = next(o for o in lines if o["record"] == "alert" and o["kind"] == "fall")
    assert fall["severity"] == "critical" and fall["resident"] == "r1" and fall["room"] == "bedroom"
    assert [o["record"] for o in lines].count("summary") == 1


def test_replay_is_deterministic_and_prints_readings(tmp_path: Path) -> None:
    capture = build_capture(tmp_path / "night.jsonl")
    args = ("replay", "--config", str(ROOT / "config" / "demo.toml"), str(capture), "--json")
    first, second = run(*args).stdout, run(*args).stdout
    assert first == second
    with_readings = [json.loads(x) for x in run(*args, "--readings").stdout.splitlines()]
    readings = [o for o in with_readings if o["record"] == "reading"]
    assert {o["name"] for o in readings} >= {"presence", "distance", "targets", "target_height"}
    gas = [o for o in readings if o["sensor"] == "kitchen_gas" and o["name"] == "alarm"]
    assert [o["active"] for o in gas] == [False, True, True, False]


def test_replay_with_sensor_declarations_and_no_config(tmp_path: Path) -> None:
    capture = build_capture(tmp_path / "night.jsonl")
    res = run("replay", str(capture), "--json", "--sensor", "bed_radar=mr60bha2", "--sensor", "room_radar=mr60fda2",
              "--sensor", "kitchen_gas=zigbee2mqtt")
    assert res.returncode == 0, res.stderr
    names = [json.loads(x)["name"] for x in res.stdout.splitlines() if '"record":"event"' in x]
    assert [n for n in names if n != "sensor_silent"][:4] == ["bed_entry", "bed_exit", "gas", "gas_cleared"]
    assert "fall" in names
    res = run("replay", str(capture), "--sensor", "bed_radar=nonsense")
    assert res.returncode == 2 and "expected ID=PROTOCOL" in res.stderr


def test_replay_names_a_bad_capture_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 1, "sensor": "bed_radar", "hex": "01"}\n{"t": "x", "sensor": "bed_radar"}\n')
    res = run("replay", "--config", str(ROOT / "config" / "demo.toml"), str(bad), "--json")
    assert res.returncode == 2 and "line 2" in res.stderr


@pytest.mark.slow
def test_sigterm_stops_cleanly_within_5s_with_everything_stored(tmp_path: Path) -> None:
    cfg, ports = pty_home(tmp_path)
    proc = subprocess.Popen(eldergate_cmd("run", "--config", str(cfg)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=clean_env())
    assert proc.stderr is not None
    stderr = proc.stderr
    log, reader = read_lines(stderr)
    try:
        bed = FrameEmulator(ports["bed_radar"], encode_reading)
        # the window starts when the gateway runs (a loaded machine can take seconds to start it)
        assert wait_for(lambda: any("running with" in line for line in list(log)), 60), "".join(log)
        end = time.monotonic() + 14  # in bed for 14 s: the bed entry (after 10 s) must be stored
        while time.monotonic() < end:
            bed.send(Presence(present=True), Distance(distance_m=0.6))
            time.sleep(0.1)
        assert proc.poll() is None, "".join(log)
        t_stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=5)
        took = time.monotonic() - t_stop
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in ports.values():
            p.close()
    db = tmp_path / "state" / "eldergate.db"
    assert rc == 0 and took < 5.0
    assert _count(db, "SELECT count(*) FROM events WHERE name='bed_entry'") == 1
    reader.join(timeout=5)  # the process has exited: its stderr is read to the end
    stderr.close()
    err = "".join(log)
    assert "received SIGTERM" in err and "王奶奶" not in err


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:
            return -1


def test_signal_folder_never_shadows_the_standard_library() -> None:
    code = "import asyncio, signal; asyncio.run(asyncio.sleep(0)); print(signal.SIGTERM)"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=clean_env())
    assert res.returncode == 0 and res.stdout.strip() in ("15", "Signals.SIGTERM"), res.stderr
    assert not (ROOT / "signal" / "__init__.py").exists()


def test_drivers_and_signal_import_nothing_from_gateway() -> None:
    import ast

    for folder in ("drivers", "signal"):
        for path in (ROOT / folder).glob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                for name in names:
                    assert not name.startswith("eldergate.gateway"), f"{path.name} imports {name}"
                    assert name.split(".")[0] not in ("gateway", "drivers", "config"), f"{path.name}: bare {name}"


def test_bad_input_is_one_line_and_exit_2_never_a_traceback(tmp_path: Path) -> None:
    res = run("replay", str(tmp_path / "missing.jsonl"), "--config", str(ROOT / "config" / "demo.toml"))
    assert res.returncode == 2 and "missing.jsonl" in res.stderr and "Traceback" not in res.stderr
    for args in (("check-config", str(tmp_path)), ("run", "--config", str(tmp_path))):  # a folder for a file
        res = run(*args)
        assert res.returncode == 2 and "Is a directory" in res.stderr and "Traceback" not in res.stderr, args


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path: Path) -> None:
    cap = CaptureBuilder(T0)
    for k in range(3000):
        cap.serial(k * 0.1, "bed_radar", Presence(present=True), Distance(distance_m=0.62))
    path = cap.write(tmp_path / "c.jsonl")
    proc = subprocess.Popen(eldergate_cmd("replay", str(path), "--config", str(ROOT / "config" / "demo.toml"),
                                          "--json", "--readings"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    assert proc.stdout is not None and proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err and "BrokenPipe" not in err


CANNOT_WORK = """
[gateway]
site = "s"
id = "g"
timezone = "Asia/Shangai"
[[residents]]
id = "r1"
display_name = "x"
birth_year = 1940
  [[residents.contacts]]
  name = "grid worker"
  role = "grid_worker"
[[rooms]]
id = "hall"
name = "h"
[[sensors]]
id = "door"
protocol = "zigbee2mqtt"
role = "door"
room = "hall"
mqtt = { topic = "zigbee2mqtt/door" }
[local_mqtt]
url = "mqtt://127.0.0.1:88a3"
[uplink]
broker_url = "mqtts://:8883"
"""


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_a_file_that_cannot_work_is_refused_at_check_and_at_start(tmp_path: Path, command: str) -> None:
    """A time-zone typo, a port that is not a number, a broker without a host, a contact without an
    address: each named, exit 2, no traceback (a crash loop under systemd before)."""
    bad = tmp_path / "home.toml"
    bad.write_text(CANNOT_WORK)
    res = run(command, str(bad)) if command == "check-config" else run(command, "--config", str(bad))
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    for path in ("gateway.timezone", "Asia/Shangai", "local_mqtt.url", "88a3", "uplink.broker_url",
                 "residents[0].contacts[0]", "address"):
        assert path in res.stderr, (path, res.stderr)


def test_replay_with_one_sensor_named_skips_the_others_and_says_so(tmp_path: Path) -> None:
    """The README's `replay --sensor ID=PROTOCOL` on a capture with several sensors."""
    cap = CaptureBuilder(T0)
    for k in range(40):
        cap.serial(k * 0.5, "bed_radar", Presence(present=True), Distance(distance_m=0.6))
        cap.serial(k * 0.5, "room_radar", Targets(targets=(Target(id=1, x=0.1, y=1.0),)))
    cap.mqtt(3.0, "kitchen_gas", "zigbee2mqtt/kitchen_gas", {"gas": True})
    path = cap.write(tmp_path / "multi.jsonl")
    res = run("replay", str(path), "--sensor", "bed_radar=mr60bha2", "--readings", "--json")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert {x["sensor"] for x in lines if x["record"] == "reading"} == {"bed_radar"}
    assert "kitchen_gas, room_radar" in res.stderr  # said once, naming what was skipped


def test_run_refuses_a_missing_certificate_naming_it(tmp_path: Path) -> None:
    """Before: a FileNotFoundError loop that never named the file, every 5 s under systemd."""
    cfg = tmp_path / "home.toml"
    cfg.write_text((ROOT / "config" / "demo.toml").read_text() + '\n[uplink]\nbroker_url = "mqtts://127.0.0.1:8883"\n'
                   f'ca_file = "{tmp_path / "missing-ca.crt"}"\n')
    res = run("run", "--config", str(cfg))
    assert res.returncode == 2 and "uplink.ca_file" in res.stderr and "missing-ca.crt" in res.stderr
    assert "Traceback" not in res.stderr


def test_vitals_reads_a_csv_and_says_why_a_heart_rate_is_missing(tmp_path: Path) -> None:
    from eldergate.signal.synthetic import ChestSignalSpec, make_chest_signal

    # only the heart's 2nd harmonic reaches the radar: the rate is withheld and the doubt named
    sig = make_chest_signal(ChestSignalSpec(duration_s=150, heart_rate_bpm=58, breathing_rate_bpm=14,
                                            heart_harmonics=(0.0, 1.0), seed=1))
    csv_path = tmp_path / "chest.csv"
    rows = "".join(f"{t:.3f},{x:.5f}\n" for t, x in zip(sig.t, sig.x, strict=True))
    csv_path.write_text("t,displacement_mm\n" + rows)
    res = run("vitals", str(csv_path))
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) >= 140 and {"heart_quality", "breathing_quality", "heart_doubt"} <= set(lines[-1])
    assert all(line["heart_rate_bpm"] is None or abs(line["heart_rate_bpm"] - 58) <= 15 for line in lines)
    assert {line["heart_doubt"] for line in lines[60:]} - {None} <= {"half_rate_line", "harmonic_only",
                                                                     "pulse_respiration", "octave_unresolved",
                                                                     "unstable", "lagging", "weak"}
    assert any(line["heart_doubt"] == "pulse_respiration" for line in lines)
    assert all(abs(line["breathing_rate_bpm"] - 14) <= 1 for line in lines[30:] if line["breathing_rate_bpm"])
    res = run("vitals", str(csv_path), "--usual-heart-rate", "900")
    assert res.returncode == 2 and "--usual-heart-rate" in res.stderr and "Traceback" not in res.stderr
