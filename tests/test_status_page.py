"""The installer's status page, in a real browser (headless Chromium), on a running demo."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

from eldergate.gateway.runtime import Gateway
from eldergate.gateway.tools.demo import run_demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _status(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url + "api/status", timeout=2) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="scripts/test installs chromium")
def test_browser_sees_the_sensors_and_the_live_vitals() -> None:
    started: list[Gateway] = []
    ready = threading.Event()

    def on_started(gw: Gateway) -> None:
        started.append(gw)
        ready.set()

    th = threading.Thread(target=run_demo, kwargs={"out": io.StringIO(), "speedup": 1.0, "status_port": 0,
                                                   "on_started": on_started}, daemon=True)
    th.start()
    try:
        assert ready.wait(15)
        gw = started[0]
        assert gw.status_page is not None
        url = gw.status_page.url
        end = time.monotonic() + 30
        while time.monotonic() < end:  # the demo's bedtime: the bed radar's vitals come in
            vit = _status(url)["vitals"]["r1"]  # type: ignore[index]
            if vit.get("heart_rate_bpm"):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no live vitals on the status page: demo alive {th.is_alive()}, sim time {gw.clock.now()}, "
                        f"queue {gw.queue.qsize()}, {[(k, d.stats.bytes_in) for k, d in gw.decoders.items()]}, "
                        f"{_status(url)['vitals']}")
        with tempfile.TemporaryDirectory() as profile:
            assert CHROMIUM is not None
            res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                  "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=3000",
                                  "--dump-dom", url], capture_output=True, text=True, timeout=60)
        dom = res.stdout
        assert "eldergate" in dom, res.stderr[-1000:]
        for sensor in ("bed_radar", "room_radar", "front_door", "kitchen_gas"):
            assert f"<td>{sensor}</td>" in dom, sensor
        assert re.search(r'id="hr-r1">♥ \d{2,3}</span>', dom), "the heart rate is shown"
        assert 'class="target"' in dom and "<rect" in dom  # the bed zone and the tracked person
        assert "updated " in dom
    finally:
        if started:
            started[0].stop()
        th.join(timeout=30)
