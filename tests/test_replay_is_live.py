"""The same capture gives the same events live and in replay (docs/architecture.md).

Live, the gateway's timers tick twice a second whatever the sensors say; a replay runs the
same timers on the capture's clock, up to the moment recording stopped. The capture here is
quiet on purpose: a bed radar that reports on change says "gone" once and then nothing, and
the bed exit is confirmed by a timer 20 s later, with no reading to carry it.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from eldergate.drivers.readings import Distance, Presence
from eldergate.drivers.seeed_tinyframe import encode_reading
from eldergate.gateway.tools.emulation import FrameEmulator

from testutil import clean_env, eldergate_cmd, pty_home, read_lines, wait_for

WATCHED = {"bed_entry", "bed_exit", "sleep_start", "sleep_end", "turnover", "sensor_silent"}


@pytest.mark.slow
def test_a_quiet_capture_gives_the_same_events_live_and_in_replay(tmp_path: Path) -> None:
    cfg, ports = pty_home(tmp_path)
    capture = tmp_path / "quiet.jsonl"
    proc = subprocess.Popen(eldergate_cmd("record", "--config", str(cfg), "--out", str(capture), "--duration", "45",
                                          "--json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    assert proc.stderr is not None
    stderr = proc.stderr
    log, reader = read_lines(stderr)
    try:
        bed = FrameEmulator(ports["bed_radar"], encode_reading)
        assert wait_for(lambda: any("running with" in line for line in list(log)), 60), "".join(log)
        end = time.monotonic() + 12  # in bed for 12 s (the entry is confirmed after 10)
        while time.monotonic() < end:
            bed.send(Presence(present=True), Distance(distance_m=0.6))
            time.sleep(0.5)  # pace: a frame every half second
        bed.send(Presence(present=False), Distance(distance_m=None))  # gone: said once, then quiet
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, "".join(log)
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in ports.values():
            p.close()
    reader.join(timeout=5)
    live = _events(out)
    assert "bed_exit" in {n for n, _ in live}, live  # the live timer confirmed it in the quiet
    res = subprocess.run(eldergate_cmd("replay", "--config", str(cfg), str(capture), "--json"),
                         capture_output=True, text=True, timeout=60, env=clean_env())
    assert res.returncode == 0, res.stderr
    assert _events(res.stdout) == live


def _events(json_lines: str) -> list[tuple[str, float]]:
    return sorted((o["name"], round(o["t"], 1)) for o in map(json.loads, json_lines.splitlines())
                  if o.get("record") == "event" and o["name"] in WATCHED)
