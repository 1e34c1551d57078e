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
from pathlib import Path

import pytest

from eldergate.config.loader import load_config
from eldergate.gateway.local.status_page import StatusModel, StatusPage
from eldergate.gateway.runtime import Gateway
from eldergate.gateway.tools.demo import run_demo
from eldergate.signal.model import Event, EventName, Observation

from testutil import ROOT

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
            time.sleep(0.2)  # pace: polled to the deadline
        else:
            pytest.fail(f"no live vitals on the status page: demo alive {th.is_alive()}, sim time {gw.clock.now()}, "
                        f"queue {gw.queue.qsize()}, {[(k, d.stats.bytes_in) for k, d in gw.decoders.items()]}, "
                        f"{_status(url)['vitals']}")
        dom = _dom(url)
        assert "eldergate" in dom
        for sensor in ("bed_radar", "room_radar", "front_door", "kitchen_gas"):
            assert f"<td>{sensor}</td>" in dom, sensor
        assert re.search(r'id="hr-r1">♥ \d{2,3}</span>', dom), "the heart rate is shown"
        assert 'class="target"' in dom and "<rect" in dom  # the bed zone and the tracked person
        assert "updated " in dom
        assert re.search(r'class="vitals " data-state="live">.*?as of ', dom, re.S), "each figure has its age"
        assert "no community link configured" in dom  # the demo has none: said, not shown as a failure
        assert "关 closed" in dom and "gas 正常 quiet" in dom  # the door and the gas detector, as an installer checks
        assert "上床 went to bed" in dom or "离床 left the bed" in dom  # events in words, not identifiers
    finally:
        if started:
            started[0].stop()
        th.join(timeout=30)


def _page(model: StatusModel, tmp: Path) -> str:
    """The page as headless Chromium renders it for this model."""
    page = StatusPage(model, "127.0.0.1", 0)
    th = threading.Thread(target=page.run, daemon=True)
    th.start()
    try:
        return _dom(page.url)
    finally:
        page.stop()


def _dom(url: str) -> str:
    """The page after its script ran, as headless Chromium renders it."""
    with tempfile.TemporaryDirectory() as profile:
        assert CHROMIUM is not None
        res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                              "--no-first-run", "--disable-background-networking", "--disable-component-update",
                              "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=3000",
                              "--dump-dom", url], capture_output=True, text=True, timeout=60)
    assert res.stdout, res.stderr[-1000:]
    return res.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="scripts/test installs chromium")
def test_old_vitals_are_greyed_with_their_time_and_none_are_shown_out_of_bed(tmp_path: Path) -> None:
    cfg = load_config(ROOT / "config" / "demo.toml")
    now = [1_795_300_000.0]
    model = StatusModel(cfg, dict, dict, lambda: now[0])
    t = now[0] - 12 * 3600  # the last estimate: twelve hours ago, at night
    model.emit(Event(t - 600, EventName.BED_ENTRY, "r1", "bedroom", "bed_radar"))
    model.emit(Observation(t, "heart_rate_bpm", 64.0, "bed_radar", "r1", 1.0, None, "bpm"))
    model.emit(Observation(t, "breathing_rate_bpm", 14.0, "bed_radar", "r1", 1.0, None, "1/min"))
    dom = _page(model, tmp_path)
    assert re.search(r'class="vitals stale" data-state="stale">.*?♥ 64.*?as of .*?\(old\)', dom, re.S), dom[-2000:]
    assert "no chest signal" in dom  # the waveform is not passed off as the last 30 s
    model.emit(Event(now[0] - 300, EventName.BED_EXIT, "r1", "bedroom", "bed_radar"))  # she is up
    dom = _page(model, tmp_path)
    assert 'data-state="out"' in dom and "♥ 64" not in dom and "out of bed since" in dom


@pytest.mark.skipif(CHROMIUM is None, reason="scripts/test installs chromium")
def test_an_unclaimed_box_shows_its_claim_code_and_qr_code_and_why_it_waits(tmp_path: Path) -> None:
    from eldergate.config.schema import Uplink
    from eldergate.gateway.delivery.claim import Claimer

    cfg = load_config(ROOT / "config" / "demo.toml")
    cfg = cfg.model_copy(update={"uplink": Uplink(broker_url="mqtt://127.0.0.1:9", server_url="http://127.0.0.1:9",
                                                  credentials_file=tmp_path / "uplink.credentials")})
    claimer = Claimer(cfg)
    assert claimer.poll() == "unclaimed"  # nobody listens on port 9: it says so, and waits
    model = StatusModel(cfg, dict, dict)
    model.claim = claimer.view
    dom = _page(model, tmp_path)
    code = claimer.claim.code
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)
    assert f'id="claim-code" class="big" style="letter-spacing:.15em">{code}<' in dom
    assert "<svg" in dom.split('id="claim-qr"', 1)[1][:200], "no QR code"
    assert "cannot be reached" in dom and "demo-community/demo-home-01" in dom
    assert (tmp_path / "uplink.credentials.claim").stat().st_mode & 0o777 == 0o600
    assert Claimer(cfg).claim.code == code  # a restart shows the same code
