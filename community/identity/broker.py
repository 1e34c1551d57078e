"""The broker learns every identity from the server: Mosquitto's dynamic security plugin, driven
over its control topic (https://mosquitto.org/documentation/dynamic-security/).

``Identities.run`` is a supervised loop: every identity row whose state the broker does not have
yet (``applied`` false) is made true there. A live identity: its client is deleted (which
disconnects whoever used the old password) and created again with its password, its one client
id and its role. A revoked one with no successor: its client is deleted, and the box is refused
from its next packet. A row is marked applied only when the broker answered without error, so a
broker that was down or restarted from an old store is brought up to date when it comes back.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from django.db import close_old_connections

from eldergate.community.identity import acl
from eldergate.community.models.crypto import decrypt
from eldergate.community.models.identity import BoxIdentity
from eldergate.community.work.liveness import Task

log = logging.getLogger(__name__)
BENIGN = ("Client not found", "Role not found")  # deleting what is already gone
PER_PASS = 100  # identities per pass: a thousand claims at once do not hold one loop for minutes


class BrokerRefused(RuntimeError):
    pass


class Identities:
    def __init__(self, client: mqtt.Client, prefix: str, every_s: float = 2.0) -> None:
        self.client, self.prefix, self.every_s = client, prefix, every_s
        self._waiting: dict[str, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self.applied = 0
        self.failures = 0
        self.last_error = ""
        client.message_callback_add(f"{acl.CONTROL}/response", self._on_response)

    def subscribe(self) -> None:
        """Call from the client's on_connect: the plugin answers on this topic."""
        self.client.subscribe(f"{acl.CONTROL}/response", qos=1)

    def _on_response(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            answers = json.loads(msg.payload).get("responses", [])
        except (ValueError, AttributeError):
            return
        with self._arrived:
            for a in answers if isinstance(answers, list) else []:
                corr = a.get("correlationData") if isinstance(a, dict) else None
                if isinstance(corr, str) and corr in self._waiting:
                    self._waiting[corr] = a
            self._arrived.notify_all()

    def command(self, commands: list[dict[str, Any]], timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """Send ``commands`` in one control message; their answers in order, or BrokerRefused."""
        tag = uuid.uuid4().hex
        ids = [f"{tag}-{i}" for i in range(len(commands))]
        with self._arrived:
            for i in ids:
                self._waiting[i] = {}
        try:
            body = {"commands": [dict(c, correlationData=i) for c, i in zip(commands, ids, strict=True)]}
            info = self.client.publish(acl.CONTROL, json.dumps(body), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise BrokerRefused(f"the broker cannot be reached ({mqtt.error_string(info.rc)})")
            with self._arrived:
                if not self._arrived.wait_for(lambda: all(self._waiting[i] for i in ids), timeout_s):
                    raise BrokerRefused("the broker did not answer the identity commands (is the dynamic security "
                                        "plugin loaded, and may the server's identity administer it?)")
                return [self._waiting[i] for i in ids]
        finally:
            with self._arrived:
                for i in ids:
                    self._waiting.pop(i, None)

    def commands_for(self, username: str) -> list[dict[str, Any]]:
        """What makes the broker hold this username's current state (its live identity, or none)."""
        cmds: list[dict[str, Any]] = [{"command": "deleteClient", "username": username}]
        live = BoxIdentity.objects.filter(username=username, revoked_at__isnull=True).first()
        if live is None:
            return cmds
        role = acl.box_role_name(username)
        client: dict[str, Any] = {"command": "createClient", "username": username, "roles": [{"rolename": role}],
                                  "textname": "eldergate box" if live.box_id else "eldergate site-wide tool"}
        if live.kind == BoxIdentity.Kind.PASSWORD:
            client["password"] = decrypt(live.secret)
        if live.box_id:
            client["clientid"] = acl.box_client_id(live.site, live.box_id)
        acls = acl.box_acls(self.prefix, live.site, live.box_id)
        return [*cmds, {"command": "deleteRole", "rolename": role},
                {"command": "createRole", "rolename": role, "acls": acls}, client]

    def apply_pending(self) -> int:
        """One pass: bring the broker up to date for up to PER_PASS usernames; how many were."""
        rows = list(BoxIdentity.objects.filter(applied=False).order_by("pk")
                    .values_list("pk", "username", "revoked_at")[:PER_PASS])
        done = 0
        for username in dict.fromkeys(u for _pk, u, _r in rows):
            seen = [(pk, r) for pk, u, r in rows if u == username]
            answers = self.command(self.commands_for(username))
            errors = [a["error"] for a in answers if a.get("error") and a["error"] not in BENIGN]
            if errors:
                raise BrokerRefused(f"the broker refused {username}: {errors[0]}")
            for pk, revoked_at in seen:  # a row revoked meanwhile stays pending for the next pass
                BoxIdentity.objects.filter(pk=pk, revoked_at=revoked_at).update(applied=True)
            done += 1
            log.info("broker identities: %s %s", username, "revoked" if all(r for _p, r in seen) else "issued")
        self.applied += done
        return done

    def run(self, stop: threading.Event, task: Task | None = None) -> None:
        while not stop.is_set():
            if task is not None:
                task.beat()
            close_old_connections()
            wait = self.every_s
            if self.client.is_connected():
                try:
                    wait = 0.1 if self.apply_pending() >= PER_PASS else self.every_s
                    self.last_error = ""
                except Exception as err:  # noqa: BLE001  (a broker or database that fails is tried again)
                    self.failures += 1
                    text = f"{type(err).__name__}: {str(err).strip()[:200]}"
                    if text != self.last_error:
                        log.error("broker identities: %s (trying again)", text)
                    self.last_error = text
                    wait = 5.0
            stop.wait(wait)
