"""Alert latency and outbox throughput, on loopback with real Mosquitto brokers.

    .venv/bin/python bench/latency.py [--alerts 200] [--json OUT]

Latency: a Zigbee2MQTT gas detector's message that completes a gas alarm is published on the
home's broker; the time until the reference receiver gets the alert from the community broker
(through the real MQTT source, pipeline, alert engine, SQLite outbox with synchronous=FULL and
uplink) is measured for each alarm; p50 and p99 are printed. Outbox: alert writes per second
(each one durable before it returns) and telemetry-lane writes per second (batched).
Broker restart: the community broker (Mosquitto, default persistence) is killed with SIGKILL,
alerts are raised while it is down, it is started again: the time from its start to the last
pending alert at the receiver (gateway and receiver both reconnecting) is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from eldergate.config.loader import parse_config
from eldergate.gateway.core.alerts import Alert, AlertKind, Severity
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.gateway.links.mqtt_link import ClientSettings
from eldergate.gateway.runtime import Gateway

from broker import MOSQUITTO, Mosquitto
from reference_receiver import CommunityReceiver


@dataclass
class BenchHome:
    """A live gateway between a home broker and a community broker, with the reference receiver."""

    local: Mosquitto
    community: Mosquitto
    gw: Gateway
    store: Outbox
    rx: CommunityReceiver
    pub: mqtt.Client


@contextlib.contextmanager
def bench_home(workdir: Path, name: str, sensors: list[dict[str, object]], on_change: Any = None,
               community_defaults: bool = False) -> Iterator[BenchHome]:
    local = Mosquitto(workdir / f"{name}-local").start()
    community = Mosquitto(workdir / f"{name}-community", defaults=community_defaults).start()
    cfg = parse_config({
        "gateway": {"site": "bench", "id": name},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "kitchen", "name": "kitchen"}],
        "sensors": sensors,
        "local_mqtt": {"url": local.url},
        "uplink": {"broker_url": community.url},  # resend_after: the default 30 s
        "notifications": {"enabled": False},
    })
    rx = CommunityReceiver(ClientSettings(community.url, f"{name}-rx"), on_change=on_change)
    rx.start()
    store = Outbox(workdir / f"{name}.db")
    gw = Gateway(cfg, [], store=store, tick_s=0.05)
    gw.start()
    core = threading.Thread(target=gw.run, daemon=True)
    core.start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-sensor", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", local.port)
    pub.loop_start()
    try:
        assert rx.connected.wait(10) and gw.mqtt_source is not None and gw.mqtt_source.connected.wait(10)
        assert gw.uplink is not None and gw.uplink.connected.wait(10)
        yield BenchHome(local, community, gw, store, rx, pub)
    finally:
        pub.loop_stop()
        pub.disconnect()
        gw.stop()
        core.join(timeout=10)
        rx.stop()
        local.cleanup()
        community.cleanup()


def _z2m(sid: str, role: str) -> dict[str, object]:
    return {"id": sid, "protocol": "zigbee2mqtt", "role": role, "room": "kitchen",
            "mqtt": {"topic": f"zigbee2mqtt/{sid}"}}


def alert_latency(n: int, workdir: Path) -> dict[str, float]:
    arrived: dict[str, float] = {}
    got = threading.Event()

    def on_change(leaf: str, _home: object, item: object) -> None:
        if leaf == "alerts" and getattr(item, "state", "") == "raised":
            arrived[item.id] = time.perf_counter()  # type: ignore[attr-defined]
            got.set()

    lat = []
    with bench_home(workdir, "gw1", [_z2m("gas", "gas")], on_change) as home:
        for _ in range(n):
            home.pub.publish("zigbee2mqtt/gas", b'{"gas":false}', qos=1).wait_for_publish(5)
            time.sleep(0.02)
            got.clear()
            before = set(arrived)
            t0 = time.perf_counter()
            home.pub.publish("zigbee2mqtt/gas", b'{"gas":true}', qos=1)
            if not got.wait(5):
                continue
            new = set(arrived) - before
            if new:
                lat.append(arrived[new.pop()] - t0)
    ms = np.array(lat) * 1000
    return {"alerts": float(len(ms)), "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max())}


def broker_restart_recovery(workdir: Path, rounds: int = 3, alerts: int = 10) -> dict[str, float]:
    """Seconds from a community-broker restart to the last pending alert received."""
    took = []
    sensors = [_z2m(f"leak{i}", "water_leak") for i in range(alerts)]
    with bench_home(workdir, "gw2", sensors, community_defaults=True) as home:
        for r in range(rounds):
            home.community.kill()
            for i in range(alerts):  # wet on even rounds, dry on odd: a new state change per sensor
                home.pub.publish(f"zigbee2mqtt/leak{i}", json.dumps({"water_leak": r % 2 == 0}),
                                 qos=1).wait_for_publish(5)
            end = time.monotonic() + 10
            while home.store.unsent_count() < alerts and time.monotonic() < end:
                time.sleep(0.02)
            time.sleep(1.0)
            home.community.start()
            t0 = time.monotonic()
            end = t0 + 120
            while home.store.unsent_count() and time.monotonic() < end:
                time.sleep(0.02)
            took.append(time.monotonic() - t0)
    return {"rounds": float(rounds), "alerts_per_round": float(alerts), "median_s": float(np.median(took)),
            "max_s": float(max(took))}


def outbox_throughput(workdir: Path, n: int = 500) -> dict[str, float]:
    ob = Outbox(workdir / "throughput.db")
    t0 = time.perf_counter()
    for i in range(n):
        ob.put_alert(Alert(f"a{i}", AlertKind.GAS, Severity.CRITICAL, "r1", "kitchen", "gas", float(i),
                           raised_at=float(i)))
    alerts_per_s = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(20 * n):
        ob.put_lane("vitals", {"t": i, "heart_rate_bpm": 60})
    ob.flush()
    lane_per_s = 20 * n / (time.perf_counter() - t0)
    ob.close()
    return {"alert_writes_per_s": alerts_per_s, "lane_writes_per_s": lane_per_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=200)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eldergate-bench-"))
    try:
        out = {"outbox": outbox_throughput(work)}
        if MOSQUITTO is None:
            print("alert latency: mosquitto is not installed (scripts/test installs it); not measured")
        else:
            out["gas_alert_latency"] = alert_latency(args.alerts, work)
            lat = out["gas_alert_latency"]
            print(f"gas alarm message -> receiver, {lat['alerts']:.0f} alarms on loopback: p50 {lat['p50_ms']:.1f} ms, "
                  f"p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms (budget p99 < 100 ms)")
            rec = out["broker_restart"] = broker_restart_recovery(work)
            print(f"community broker SIGKILLed, {rec['alerts_per_round']:.0f} alerts raised while down, restarted: "
                  f"last pending alert received {rec['median_s']:.1f} s after the restart (median of "
                  f"{rec['rounds']:.0f}; max {rec['max_s']:.1f} s) (goal < 5 s; a fixed 30 s resend took up to 30 s)")
        ob = out["outbox"]
        print(f"outbox: {ob['alert_writes_per_s']:,.0f} durable alert writes/s (synchronous=FULL), "
              f"{ob['lane_writes_per_s']:,.0f} telemetry-lane writes/s (batched)")
        if args.json:
            args.json.write_text(json.dumps(out, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
