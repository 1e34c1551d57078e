"""What the server sends to gateways goes through one narrow door (the ingest's MQTT client, or a
client of its own in a split escalation process)."""

from __future__ import annotations

from typing import Protocol


class Publisher(Protocol):
    def publish(self, topic: str, payload: str, qos: int = 1, retain: bool = False) -> bool: ...
