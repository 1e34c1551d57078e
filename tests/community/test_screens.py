"""The community's screens in real headless Chromium (Playwright driving Debian's chromium), on the
demo's community: 50 homes (one the demo home, 49 simulated at the contract level), a real
Mosquitto and `eldergate community serve`.

- the wall at 1920×1080: every tile present; an alert published to the broker appears within 2 s;
  an offline home shown as offline; stale vitals greyed;
- the console at 360×640: acknowledge → on my way → resolve with an outcome, and the wall follows;
- a relative cannot open another resident's page.

Screenshots go to the folder printed at the start (ELDERGATE_SCREENSHOTS, or a temporary one).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from broker import online

pytestmark = [pytest.mark.broker, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SITE = "demo-community"


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("ELDERGATE_SCREENSHOTS") or tempfile.mkdtemp(prefix="eldergate-screens-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def community() -> Iterator[Any]:
    from eldergate.gateway.tools.demo_community import CommunityDemo

    demo = CommunityDemo(io.StringIO())
    demo.start()
    try:
        yield demo
    finally:
        demo.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run ./scripts/test, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _publish_alert(community: Any, gateway: str, kind: str = "fall") -> str:
    """As a simulated home of the demo: with the site-wide identity its broker knows them by."""
    port = int(community.broker_url.rsplit(":", 1)[1])
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if community.site_credentials is not None:
        user, password = community.site_credentials.read_text().splitlines()[:2]
        c.username_pw_set(user, password)
    online(c, port)
    now = time.time()
    aid = f"{gateway}-{kind}-{int(now * 1000)}"
    body = {"v": 1, "site": SITE, "gateway": gateway, "sent_at": now, "id": aid, "kind": kind,
            "severity": "critical", "state": "raised", "resident": "r1", "room": "bedroom", "sensor": "fall_radar",
            "started": now, "raised_at": now, "title_zh": "跌倒", "title_en": "fall",
            "evidence": {"event": "fall", "down_s": 240}}
    c.publish(f"eldergate/v1/{SITE}/{gateway}/alerts", json.dumps(body), qos=1).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()
    return aid


def test_the_wall_shows_every_home_live(community: Any, browser: Any, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(community.wall)
    tiles = page.locator("[data-resident]")
    assert tiles.count() == 50
    keys = set(tiles.evaluate_all("els => els.map(e => e.dataset.resident)"))
    assert f"{SITE}/demo-home-01/r1" in keys and f"{SITE}/demo-home-50/r1" in keys
    bottom = page.evaluate("Math.max(...[...document.querySelectorAll('[data-resident]')]"
                           ".map(e => e.getBoundingClientRect().bottom))")
    assert bottom <= 1080, "a wall without a keyboard cannot scroll: every tile must be on the screen"
    page.wait_for_selector("#live:not(.down)", timeout=5000)  # the event stream is open

    t0 = time.monotonic()
    _publish_alert(community, "demo-home-20")
    page.wait_for_selector(f'[data-resident="{SITE}/demo-home-20/r1"][data-alert="fall"]', timeout=2000)
    seen_s = time.monotonic() - t0
    print(f"alert on the wall {seen_s * 1000:.0f} ms after its publish")
    first = page.locator("[data-resident]").first  # open alerts rise to the top
    assert first.get_attribute("data-alert") is not None

    # the simulated home whose will fired is offline after the grace (15 s in the demo)
    page.wait_for_selector(f'.tile.offline[data-resident="{SITE}/demo-home-05/r1"]', timeout=45000)
    # the one whose radar fell silent ten minutes ago: its numbers greyed, with their time
    stale = page.locator(f'[data-resident="{SITE}/demo-home-09/r1"] .vitals')
    assert stale.get_attribute("data-stale") == "true"
    assert "stale" in (stale.get_attribute("class") or "")
    # Chinese renders with a CJK font, not boxes: the title is wider than as many boxes would be
    assert "独居老人" in page.title()
    page.screenshot(path=str(shots / "wall-1920x1080.png"))

    # the server dies and comes back: the page reconnects by itself, no keyboard needed
    community.restart_server()
    _publish_alert(community, "demo-home-40")
    page.wait_for_selector(f'[data-resident="{SITE}/demo-home-40/r1"][data-alert="fall"]', timeout=20000)
    page.wait_for_selector("#live:not(.down)", timeout=5000)
    page.close()


def test_the_console_on_a_phone_takes_an_alert_to_resolved_and_the_wall_follows(
        community: Any, browser: Any, shots: Path) -> None:
    aid = _publish_alert(community, "demo-home-30")
    wall = browser.new_page(viewport={"width": 1920, "height": 1080})
    wall.goto(community.wall)
    tile = f'[data-resident="{SITE}/demo-home-30/r1"]'
    wall.wait_for_selector(f"{tile}[data-alert]", timeout=5000)

    ctx = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    phone = ctx.new_page()
    phone.goto(community.console)  # the demo's one-time login link: one tap spends it
    phone.tap("button[type=submit]")
    phone.wait_for_selector(f'[data-alert-id="{aid}"]', timeout=10000)
    phone.screenshot(path=str(shots / "console-360x640.png"))
    phone.tap(f'[data-alert-id="{aid}"]')
    phone.wait_for_url(f"**/console/alerts/{SITE}.demo-home-30.{aid}")
    phone.wait_for_selector("#state")
    assert "倒地 4 分钟" in phone.content()  # the evidence in plain words
    assert phone.locator('a[href^="tel:"]').count() >= 1
    box = phone.locator('button[value="acknowledge"]').bounding_box()
    assert box is not None and box["height"] >= 44  # a thumb's target
    phone.screenshot(path=str(shots / "alert-360x640.png"))
    phone.tap('button[value="acknowledge"]')
    phone.wait_for_selector('#state[data-state="acknowledged"]')
    phone.tap('button[value="on_the_way"]')
    phone.wait_for_selector('#state[data-state="on_the_way"]')
    phone.select_option('select[name="outcome"]', "resident_fine")
    phone.fill('textarea[name="note"]', "她只是坐在地上休息")
    phone.tap('button.green')
    phone.wait_for_url("**/console")
    states = [h["state"] for h in community._api(f"/alerts/{aid}")["history"]]
    assert states == ["raised", "received", "acknowledged", "on_the_way", "resolved"]
    wall.wait_for_selector(f"{tile}:not([data-alert])", timeout=5000)
    wall.close()
    ctx.close()


def test_a_relative_cannot_open_another_residents_page(community: Any, browser: Any) -> None:
    import subprocess

    residents = community._api("/residents")
    mine, other = residents[0], residents[1]
    r = subprocess.run(community._eg("community", "create-user", "daughter", "--role", "relative", "--resident",
                                     str(mine["id"]), "--config", str(community.dir / "community.toml")),
                       capture_output=True, text=True, timeout=60, cwd=community.dir)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(community._eg("community", "login-link", "daughter", "--next", "/family", "--config",
                                     str(community.dir / "community.toml")),
                       capture_output=True, text=True, timeout=60, cwd=community.dir)
    link = community.base + "/console/link/" + r.stdout.strip().rsplit("/console/link/", 1)[1]
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(link)
    page.click("button[type=submit]")  # the one-time link is spent by a tap, never by the preview's GET
    page.wait_for_url("**/family")
    assert mine["name"] in page.content()
    assert page.goto(f"{community.base}/console/residents/{mine['id']}").status == 200
    assert page.goto(f"{community.base}/console/residents/{other['id']}").status == 404
    assert page.goto(f"{community.base}/console/residents/{mine['id']}/medical").status == 403
    ctx.close()


LATIN = "[...document.body.querySelectorAll('*')].filter(e => !e.closest('[lang=en],script,style'))" \
        ".flatMap(e => [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent))" \
        ".join(' ').match(/[A-Za-z]{2,}/g) || []"


def test_the_wall_says_when_it_cannot_vouch_for_its_data(community: Any, browser: Any, shots: Path) -> None:
    """SIGSTOP the server: within 30 s the wall carries data-stale="1", a full-width banner says how
    long and since when, and the tiles dim; SIGCONT: it is live again by itself."""
    import signal

    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(community.wall)
    page.wait_for_selector("#live:not(.down)", timeout=5000)
    assert page.get_attribute("body", "data-stale") is None
    assert "更新于" in page.inner_text("header")
    pid = community.server.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        page.wait_for_selector('body[data-stale="1"]', timeout=30000)
        print(f"stale shown {time.monotonic() - t0:.1f} s after the server stopped")
        banner = page.inner_text("#gap")
        assert "数据中断" in banner and "最后更新" in banner, banner
        assert "实时" not in page.inner_text("#live")
        assert float(page.evaluate("getComputedStyle(document.getElementById('tiles')).opacity")) < 0.6
        page.screenshot(path=str(shots / "wall-stale-1920x1080.png"))
    finally:
        os.kill(pid, signal.SIGCONT)
    page.wait_for_selector("body:not([data-stale])", timeout=20000)
    assert "实时" in page.inner_text("#live")
    page.close()


def _grid_worker_phone(community: Any, browser: Any) -> tuple[Any, Any]:
    """The demo grid worker logged in with the password on a phone-sized page (context, page)."""
    ctx = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto(f"{community.base}/console/login")
    page.fill('input[name="username"]', "li.ming")
    page.fill('input[name="password"]', "demo")
    page.click("button[type=submit]")
    page.wait_for_url("**/console")
    return ctx, page


def test_resolving_needs_an_outcome_and_the_page_says_what_to_do(community: Any, browser: Any, shots: Path) -> None:
    aid = _publish_alert(community, "demo-home-31")
    ctx, phone = _grid_worker_phone(community, browser)
    phone.goto(f"{community.base}/console/alerts/{SITE}.demo-home-31.{aid}")
    # urgency in words, the ambulance and the contacts in calling order above the fold, the first steps
    assert phone.inner_text("#urgency") == "紧急"
    for sel in ("#emergency", "#calls a"):
        box = phone.locator(sel).first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 640, sel
    assert phone.get_attribute("#emergency", "href") == "tel:120"
    assert "不要" in phone.inner_text("#steps")  # do not lift them
    phone.screenshot(path=str(shots / "alert-procedure-360x640.png"), full_page=True)
    # the browser refuses a resolve with no outcome chosen, and so does the server
    phone.tap("button.green")
    assert phone.locator('#state[data-state="resolved"]').count() == 0
    assert "/console/alerts/" in phone.url
    token = phone.evaluate("document.querySelector('input[name=csrfmiddlewaretoken]').value")
    r = phone.request.post(f"{community.base}/console/alerts/{SITE}.demo-home-31.{aid}/step",
                           form={"step": "resolve", "note": "x", "csrfmiddlewaretoken": token})
    assert "请先选择处理结果" in r.text()
    assert community._api(f"/alerts/{aid}")["state"] != "resolved"
    # Chinese pages in Chinese: no Latin-letter codes on any of them
    for path in ("/console", f"/console/alerts/{SITE}.demo-home-31.{aid}", "/reports", "/console/visits"):
        phone.goto(community.base + path)
        found = phone.evaluate(LATIN)
        assert not found, (path, found)
    phone.goto(community.base + "/reports")
    phone.screenshot(path=str(shots / "reports-360x640.png"), full_page=True)
    ctx.close()


def test_the_wall_has_no_latin_codes_and_error_pages_speak_chinese(community: Any, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(community.wall)
    assert not page.evaluate(LATIN)
    r = page.goto(f"{community.base}/wall?key=wrong")
    assert r is not None and r.status == 403 and "大屏地址无效" in page.inner_text("body")
    r = page.goto(f"{community.base}/no/such/page")
    assert r is not None and r.status == 404 and "页面不存在" in page.inner_text("body")
    assert page.locator('a[href="/console"]').count() >= 1  # a way back
    page.close()


def test_a_finders_scan_on_a_phone_reaches_the_grid_workers_console(community: Any, browser: Any,
                                                                      shots: Path) -> None:
    """#35: the badge's page on a passer-by's phone shows nothing of the elder; one tap (with the
    location the finder allows) and the alert is on the grid worker's open console within 2 s."""
    import subprocess

    resident = community._api("/residents")[7]
    r = subprocess.run(community._eg("community", "badge", str(resident["id"]), "--config",
                                     str(community.dir / "community.toml")),
                       capture_output=True, text=True, timeout=60, cwd=community.dir)
    assert r.returncode == 0, r.stderr
    path = "/f/" + r.stdout.strip().splitlines()[-1].rsplit("/f/", 1)[1]

    worker, console = _grid_worker_phone(community, browser)

    finder = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                                 geolocation={"latitude": 30.27415, "longitude": 120.15515, "accuracy": 20},
                                 permissions=["geolocation"])
    phone = finder.new_page()
    phone.goto(community.base + path)
    text = phone.inner_text("body")
    assert resident["name"] not in text and resident["name"][0] + "婆婆" not in text and "幸福里" not in text
    phone.wait_for_selector("#notify")
    deadline = time.monotonic() + 5
    while not phone.input_value('input[name="lat"]') and time.monotonic() < deadline:  # granted, set above
        phone.wait_for_timeout(100)
    phone.screenshot(path=str(shots / "finder-360x640.png"), full_page=True)
    t0 = time.monotonic()
    phone.tap("#notify")
    phone.wait_for_selector("#sent", timeout=5000)
    console.wait_for_selector('[data-alert-id^="srv-found-"]', timeout=2000)
    print(f"\na finder's tap on the grid worker's console {(time.monotonic() - t0) * 1000:.0f} ms later")
    console.tap('[data-alert-id^="srv-found-"]')
    console.wait_for_selector("#finder-where")
    assert "30.27415" in console.inner_text("#finder-where")
    console.screenshot(path=str(shots / "found-alert-360x640.png"), full_page=True)
    # the badge is revoked (lost, copied): the same address now shows a number to call, nothing else
    r = subprocess.run(community._eg("community", "badge", str(resident["id"]), "--revoke", "--config",
                                     str(community.dir / "community.toml")),
                       capture_output=True, text=True, timeout=60, cwd=community.dir)
    assert r.returncode == 0, r.stderr
    phone.goto(community.base + path)
    assert phone.locator("#hotline-only").count() == 1 and phone.locator("#notify").count() == 0
    assert (phone.get_attribute("#hotline", "href") or "").startswith("tel:")  # the community's, or 110
    finder.close()
    worker.close()
