"""The community side at scale: one broker, one reference receiver, 1, 100 and 1,000 simulated gateways.

    .venv/bin/python bench/receiver_scale.py [--gateways 1 100 1000] [--json OUT]

Each simulated gateway publishes a retained status, one alert and five vitals messages under
its own topics (from a separate process, so the receiver's CPU is its own). The receiver
confirms every alert's receipt. Printed per size: the receiver's CPU per 1,000 messages, the
time until every alert was in, and the alert latency from its sent_at to its arrival (p50,
p99). Loopback only; each run is bounded (7 messages per gateway).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from eldergate.gateway.links.mqtt_link import ClientSettings

from broker import MOSQUITTO, Mosquitto
from reference_receiver import CommunityReceiver

PUBLISHER = r"""
import json, sys, time
import paho.mqtt.client as mqtt
port, n = int(sys.argv[1]), int(sys.argv[2])
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fleet", protocol=mqtt.MQTTv5)
c.connect("127.0.0.1", port); c.loop_start()
infos = []
for g in range(n):
    base = f"eldergate/v1/site{g // 100}/gw{g}"
    now = time.time()
    head = {"v": 1, "site": f"site{g // 100}", "gateway": f"gw{g}", "sent_at": now}
    infos.append(c.publish(base + "/status", json.dumps({**head, "state": "online"}), qos=1, retain=True))
    alert = {**head, "id": f"a{g}", "kind": "fall", "severity": "critical", "state": "raised", "resident": "r1",
             "room": "bedroom", "sensor": "radar", "started": now, "raised_at": now, "title_zh": "跌倒",
             "title_en": "fall"}
    infos.append(c.publish(base + "/alerts", json.dumps(alert), qos=1))
    for k in range(5):
        vit = {**head, "t": now, "resident": "r1", "heart_rate_bpm": 60 + k, "breathing_rate_bpm": 14, "quality": 0.9}
        infos.append(c.publish(base + "/vitals", json.dumps(vit), qos=0))
for i in infos:
    i.wait_for_publish(30)
c.loop_stop(); c.disconnect()
"""


def run(n: int, work: Path) -> dict[str, float]:
    broker = Mosquitto(work / f"b{n}", extra="max_inflight_messages 1000\nmax_queued_messages 1000000\n").start()
    arrived: dict[str, float] = {}
    lat: list[float] = []
    done = threading.Event()

    def changed(leaf: str, _home: object, item: object) -> None:
        if leaf == "alerts":
            t = time.time()
            lat.append(t - item.sent_at)  # type: ignore[attr-defined]
            arrived[item.id] = t  # type: ignore[attr-defined]
            if len(arrived) >= n:
                done.set()

    rx = CommunityReceiver(ClientSettings(broker.url, f"rx{n}"), on_change=changed)
    rx.start()
    assert rx.connected.wait(10)
    c0, t0 = time.process_time(), time.monotonic()
    pub = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(broker.port), str(n)])
    ok = done.wait(120)
    wall = time.monotonic() - t0
    time.sleep(0.5)  # the last vitals
    cpu = time.process_time() - c0
    pub.wait(timeout=60)
    homes = len(rx.homes)
    rx.stop()
    broker.cleanup()
    ms = np.array(lat) * 1000 if lat else np.array([np.nan])
    return {"gateways": n, "all_alerts_in": float(ok), "homes_seen": homes, "seconds_until_all_alerts": wall,
            "receiver_cpu_s": cpu, "cpu_ms_per_1000_messages": 1000 * cpu / (7 * n) * 1000,
            "alert_latency_p50_ms": float(np.nanpercentile(ms, 50)),
            "alert_latency_p99_ms": float(np.nanpercentile(ms, 99))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateways", type=int, nargs="+", default=[1, 100, 1000])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if MOSQUITTO is None:
        print("receiver scale: mosquitto is not installed (scripts/test installs it); not measured")
        return 0
    work = Path(tempfile.mkdtemp(prefix="eldergate-scale-"))
    results = []
    try:
        print(f"{'gateways':>9} {'homes seen':>11} {'all alerts in':>14} {'receiver CPU':>13} {'CPU/1000 msg':>13} "
              f"{'alert latency p50/p99':>22}")
        for n in args.gateways:
            r = run(n, work)
            results.append(r)
            print(f"{n:>9} {r['homes_seen']:>11.0f} {r['seconds_until_all_alerts']:>12.2f} s "
                  f"{r['receiver_cpu_s']:>11.2f} s "
                  f"{r['cpu_ms_per_1000_messages']:>10.0f} ms {r['alert_latency_p50_ms']:>10.1f} / "
                  f"{r['alert_latency_p99_ms']:.1f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
