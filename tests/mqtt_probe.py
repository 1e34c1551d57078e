"""A raw MQTT client over TLS with some credentials (a box's, a thief's, nobody's), recording what
the broker answered: CONNACK, SUBACKs, PUBACKs, what it was delivered."""

from __future__ import annotations

import json
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from testutil import wait_for


def alert_message(site: str, alert_id: str) -> dict[str, Any]:
    """A valid alert message (contract/messages.py): refused only for who sends it, if at all."""
    now = time.time()
    return {"site": site, "gateway": "gw1", "sent_at": now, "id": alert_id, "kind": "fall", "severity": "critical",
            "state": "raised", "resident": "r1", "room": "hall", "sensor": "radar", "started": now, "raised_at": now,
            "title_zh": "跌倒", "title_en": "Fall"}


class Probe:
    """A raw MQTT client with some credentials, recording what the broker answered."""

    def __init__(self, port: int, ca: Path, client_id: str, username: str | None = None, password: str | None = None,
                 cert: tuple[Path, Path] | None = None, v311: bool = False) -> None:
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv311 if v311 else mqtt.MQTTv5, clean_session=True if v311 else None)
        ctx = ssl.create_default_context(cafile=str(ca))
        if cert is not None:
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        self.c.tls_set_context(ctx)
        if username is not None:
            self.c.username_pw_set(username, password)
        self.connack: str | None = None
        self.disconnected = threading.Event()
        self.subacks: dict[int, list[str]] = {}
        self.pubacks: dict[int, str] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.c.on_connect = lambda _c, _u, _f, rc, _p: setattr(self, "connack", str(rc))
        self.c.on_disconnect = lambda *_a: self.disconnected.set()
        self.c.on_subscribe = lambda _c, _u, mid, rcs, _p: self.subacks.__setitem__(mid, [str(r) for r in rcs])
        self.c.on_publish = lambda _c, _u, mid, rc, _p: self.pubacks.__setitem__(mid, str(rc))
        self.c.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.c.connect_async("127.0.0.1", port)
        self.c.loop_start()
        wait_for(lambda: self.connack is not None, 10)

    @property
    def accepted(self) -> bool:
        return self.connack == "Success"

    def subscribe(self, topic: str) -> str:
        _rc, mid = self.c.subscribe(topic, qos=1)
        assert wait_for(lambda: mid in self.subacks, 10)
        return self.subacks[mid][0]

    def publish(self, topic: str, body: dict[str, Any], retain: bool = False) -> str:
        info = self.c.publish(topic, json.dumps(body), qos=1, retain=retain)
        assert wait_for(lambda: info.mid in self.pubacks, 10), f"no PUBACK for {topic}"
        return self.pubacks[info.mid]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()
