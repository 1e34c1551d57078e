"""A community-side receiver written from docs/contract.md alone (no eldergate import), for the
fault campaign: it stores each (alert id, state) in SQLite with synchronous=FULL and only then
publishes ``received``; it acknowledges every raised alert of the kinds it is told, as a grid
worker would, and resends each acknowledgement until the gateway confirms it on ``acked``.
It announces itself on the retained ``<prefix>/_server/status`` (last will: offline).

    python tests/durable_receiver.py --broker-port PORT --db FILE [--ack-kinds sos,gas]

Killed with SIGKILL at any moment, it loses nothing it confirmed: what it did not confirm, the
gateway sends again.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

PREFIX = "eldergate/v1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS states (alert_id TEXT, state TEXT, kind TEXT, sensor TEXT, resident TEXT,
    site TEXT, gateway TEXT, started REAL, stored_at REAL, PRIMARY KEY (alert_id, state));
CREATE TABLE IF NOT EXISTS acks (alert_id TEXT PRIMARY KEY, site TEXT, gateway TEXT, sent INTEGER,
    next_at REAL, confirmed_at REAL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER);
"""


class Receiver:
    def __init__(self, port: int, db: str, ack_kinds: set[str]) -> None:
        self.db = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.ack_kinds = ack_kinds
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="campaign-server",
                                  protocol=mqtt.MQTTv5)
        self.client.will_set(f"{PREFIX}/_server/status", json.dumps({"state": "offline", "sent_at": time.time()}),
                             qos=1, retain=True)
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message
        self.client.reconnect_delay_set(0.5, 4)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect_async("127.0.0.1", port, 30, clean_start=False, properties=props)

    def on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe([(f"{PREFIX}/+/+/alerts", 1), (f"{PREFIX}/+/+/acked", 1)])

    def on_subscribe(self, client: mqtt.Client, *_: object) -> None:
        client.publish(f"{PREFIX}/_server/status", json.dumps({"state": "online", "sent_at": time.time()}),
                       qos=1, retain=True)

    def on_message(self, client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        if msg.topic.endswith("/acked"):
            with self.lock:  # the confirmation is the box's acknowledged state (docs/contract.md)
                self.db.execute("UPDATE acks SET confirmed_at = ? WHERE alert_id = ? AND confirmed_at IS NULL",
                                (time.time(), body["alert_id"]))
                if body.get("state") == "acknowledged":
                    self.db.execute("INSERT OR IGNORE INTO states SELECT alert_id, 'acknowledged', kind, sensor, "
                                    "resident, site, gateway, started, ? FROM states WHERE alert_id = ? LIMIT 1",
                                    (time.time(), body["alert_id"]))
            return
        site, gw = body["site"], body["gateway"]
        with self.lock:  # store, commit (FULL), and only then confirm
            self.db.execute("BEGIN IMMEDIATE")
            new = self.db.execute(
                "INSERT OR IGNORE INTO states VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (body["id"], body["state"], body["kind"], body["sensor"], body["resident"], site, gw,
                 body["started"], time.time())).rowcount
            if not new:
                self.db.execute("INSERT INTO counters VALUES ('duplicates', 1) ON CONFLICT(name) DO UPDATE SET "
                                "value = value + 1")
            ack = new and body["state"] == "raised" and body["kind"] in self.ack_kinds
            if ack:
                self.db.execute("INSERT OR IGNORE INTO acks VALUES (?, ?, ?, 1, ?, NULL)",
                                (body["id"], site, gw, time.time() + 1.0))
            self.db.execute("COMMIT")
        receipt = {"alert_id": body["id"], "kind": "received", "state": body["state"]}
        client.publish(f"{PREFIX}/{site}/{gw}/ack", json.dumps(receipt), qos=1)
        if ack:
            self.send_ack(body["id"], site, gw)

    def send_ack(self, alert_id: str, site: str, gw: str) -> None:
        self.client.publish(f"{PREFIX}/{site}/{gw}/ack",
                            json.dumps({"alert_id": alert_id, "kind": "acknowledged", "by": "grid.worker"}), qos=1)

    def resend_acks(self) -> None:
        while True:
            time.sleep(0.3)
            now = time.time()
            with self.lock:
                due = self.db.execute("SELECT alert_id, site, gateway, sent FROM acks WHERE confirmed_at IS NULL "
                                      "AND next_at <= ?", (now,)).fetchall()
                for alert_id, _site, _gw, sent in due:
                    self.db.execute("UPDATE acks SET sent = sent + 1, next_at = ? WHERE alert_id = ?",
                                    (now + min(8.0, 2.0 ** sent), alert_id))
            for alert_id, site, gw, _sent in due:
                self.send_ack(alert_id, site, gw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker-port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--ack-kinds", default="sos,gas")
    args = ap.parse_args()
    rx = Receiver(args.broker_port, args.db, set(args.ack_kinds.split(",")))
    threading.Thread(target=rx.resend_acks, daemon=True).start()
    rx.client.loop_forever(retry_first_connection=True)


if __name__ == "__main__":
    main()
