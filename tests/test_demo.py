"""The demo: emulators on pseudo-terminals into the real drivers, pipeline and alerts."""

from __future__ import annotations

import io

import pytest

from eldergate.gateway.tools.demo import run_demo


@pytest.mark.slow
def test_demo_raises_the_scripted_alerts_and_nothing_else() -> None:
    out = io.StringIO()
    result = run_demo(out, speedup=3.0)
    kinds = sorted(str(a.kind) for a in result.alerts)
    assert kinds == ["fall", "gas", "out_of_bed_at_night", "wandering"], out.getvalue()
    assert result.events["bed_exit"] >= 2 and result.events["bed_return"] == 1
    assert result.events["gas"] == 1  # the cached gas: true in a battery report is not a second leak
    assert result.events["possible_fall"] == 1 and result.events["fall"] == 1
    for stats in result.frames.values():
        assert stats["bad_checksum"] == 0 and stats["malformed"] == 0
    text = out.getvalue()
    assert "ALERT" in text and "daily summary" in text and "燃气泄漏" in text
    told = {(who, title.split("】")[-1]) for who, title in result.pushes}
    assert ("grid_worker", "王奶奶 跌倒") in told and ("relative", "王奶奶 跌倒") in told  # critical: both at once
    assert ("grid_worker", "王奶奶 燃气泄漏") in told
    assert any(who == "relative" and "早安报告" in title for who, title in result.pushes)  # the morning summary
    # a warning goes to the grid worker; the relative hears of it only as an escalation (not acknowledged)
    to_relative = [title for who, title in result.pushes if who == "relative" and "夜间离床过久" in title]
    assert to_relative and "已升级" in to_relative[0]  # and, once told, they hear that it is over
    assert ("grid_worker", "王奶奶 夜间外出未归") in told and ("relative", "王奶奶 夜间外出未归") in told
    assert any(who == "relative" and title.startswith("【已解除】王奶奶 夜间外出未归") for who, title in result.pushes)
    morning = result.summaries[0]
    assert morning.night_bed_exits == 1 and morning.sleep_min > 300
    # the scripted bedtime vitals are 64-70 bpm and 14-16 breaths a minute
    assert morning.resting_heart_rate_bpm is not None and 60 <= morning.resting_heart_rate_bpm <= 72
    assert morning.resting_breathing_rate_bpm is not None and 12 <= morning.resting_breathing_rate_bpm <= 17


@pytest.mark.slow
@pytest.mark.broker
def test_the_demo_shows_a_community_and_keeps_running_until_interrupted() -> None:
    """`eldergate demo --keep-running` prints the wall's address on a line beginning `wall: `; the
    wall holds the 50 homes; the demo grid worker answers one alert; Ctrl-C ends it cleanly."""
    import re
    import signal
    import subprocess
    import threading
    import urllib.request

    from testutil import clean_env, eldergate_cmd

    proc = subprocess.Popen(eldergate_cmd("demo", "--speedup", "4", "--status-port", "0", "--keep-running"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env())
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "keeps running" in line:
                done.set()
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert done.wait(240), "".join(lines[-40:])
        text = "".join(lines)
        walls = re.findall(r"^wall: (http://\S+)$", text, flags=re.M)
        assert walls, text[-3000:]
        with urllib.request.urlopen(walls[-1], timeout=10) as r:
            page = r.read().decode()
        assert page.count("data-resident=") == 50
        assert "grid worker li.ming: acknowledged, on the way, arrived, resolved" in text
        # a one-time login link, never a token in the address
        link = re.search(r"^console: (http://\S+/console/link/\S+)$", text, flags=re.M)
        assert link and "token" not in link.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()
    assert code == 0
