"""Shared by the whole-path tests: real gateways with Zigbee2MQTT leak detectors, and the injector
that drives them through Mosquitto, counting what the broker accepted."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt

from broker import Mosquitto, online
from gateway_proc import GatewayProcess, db_query, write_config

LEAKS = 3


def residents_csv(path: Path) -> Path:
    rows = ["community,address,site,gateway,resident_id,name,birth_year,grid_worker,contact1_name,"
            "contact1_phone,contact1_role,contact1_consent"]
    for gw in ("gw1", "gw2"):
        rows.append(f"s1,幸福路 {gw},s1,{gw},r1,住户{gw},1938,li,儿子,13900000000,child,yes")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def gateway_process(tmp: Path, broker: Mosquitto, gw: str) -> GatewayProcess:
    cfg = write_config(tmp / f"{gw}.toml", broker.url, broker.url, tmp / f"state-{gw}", n_leaks=LEAKS)
    text = cfg.read_text().replace('id = "gw1"', f'id = "{gw}"').replace("zigbee2mqtt/leak", f"zigbee2mqtt/{gw}-leak")
    cfg.write_text(text)
    return GatewayProcess(cfg, tmp / f"{gw}.log").start()


class Injector:
    def __init__(self, broker: Mosquitto) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="injector", protocol=mqtt.MQTTv5)
        online(self.client, broker.port)
        self.accepted: dict[str, list[bool]] = {}

    def send(self, topic: str, on: bool) -> None:
        info = self.client.publish(topic, f'{{"water_leak": {"true" if on else "false"}, "battery": 90}}', qos=1)
        info.wait_for_publish(5)
        if info.is_published():
            self.accepted.setdefault(topic, []).append(on)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def burst(inj: Injector, topics: list[str], rounds: int, gap_s: float) -> None:
    """Every detector on, then off, ``rounds`` times: one alert raised and resolved per edge pair."""
    for _ in range(rounds):
        for on in (True, False):
            for t in topics:
                inj.send(t, on)
            time.sleep(gap_s)


def outboxes_empty(tmp: Path, gateways: list[str]) -> bool:
    """Every gateway has its receipts: nothing left to resend."""
    return sum(db_query(tmp / f"state-{gw}", "SELECT count(*) FROM outbox")[0][0] for gw in gateways) == 0
