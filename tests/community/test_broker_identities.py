"""Every box proves who it is, on the shipped Mosquitto file (dynamic security, TLS, no anonymous).

From the outside: real gateways (`eldergate run`) come up unclaimed, show a claim code, are claimed
by an installer through the API and collect their credentials; `eldergate community serve` gives
the broker each identity. Then the other box's credentials (what a stolen box yields) try the
outside review's attacks: read another home's alerts, forge its acknowledgement, impersonate a box
of another site with the same gateway id, overwrite the server's status, take over another box's
session. Anonymous and wrong passwords are refused. A revoked box is refused within 60 s.
"""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broker import Mosquitto
from community_path import Injector
from community_proc import CommunityServer, community, register
from gateway_proc import GatewayProcess, db_query, write_config
from mqtt_probe import Probe, alert_message
from shipped_broker import ShippedMosquitto
from testutil import wait_for

pytestmark = [pytest.mark.broker]


def _credentials(path: Path) -> tuple[str, str]:
    user, password = path.read_text().splitlines()[:2]
    return user, password


def _token(toml: Path, cwd: Path, name: str, role: str, *scope: str) -> str:
    res = community("create-user", name, "--role", role, *scope, "--token", "--config", str(toml), cwd=cwd)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


class World:
    def __init__(self, tmp: Path, home_broker: Mosquitto) -> None:
        self.tmp = tmp
        self.broker = ShippedMosquitto().start()
        self.folder = tmp / "server"
        for site in ("hz-a", "hz-b"):  # two communities; both have a box called gw1
            res = community("init", str(self.folder), "--community", site, "--street", "街道", cwd=tmp)
            assert res.returncode == 0, res.stderr
        self.toml = self.folder / "community.toml"
        for site in ("hz-a", "hz-b"):
            register(self.toml, site, "gw1", tmp)
        self.toml.write_text(self.toml.read_text().replace(
            'prefix = "eldergate/v1"',
            f'prefix = "eldergate/v1"\nca_file = "{self.broker.ca}"\n'
            f'credentials_file = "{self.broker.server_credentials}"\nidentities = "dynsec"'))
        self.installer_a = _token(self.toml, tmp, "wang.install", "installer", "--community", "hz-a")
        self.installer_b = _token(self.toml, tmp, "zhao.install", "installer", "--community", "hz-b")
        self.operator = _token(self.toml, tmp, "ops", "platform-operator")
        self.server = CommunityServer(self.folder, self.broker.url, extra=("--config", str(self.toml))).start()
        self.home_broker = home_broker
        self.home_b = Mosquitto(tmp / "home-b").start()  # each home has its own local broker
        self.gateways: dict[str, GatewayProcess] = {}

    def box(self, site: str) -> tuple[GatewayProcess, Path]:
        """A fresh box of ``site`` (gateway gw1), unclaimed: it shows a code and waits."""
        state = self.tmp / f"state-{site}"
        home = self.home_broker if site == "hz-a" else self.home_b
        cfg = write_config(self.tmp / f"{site}.toml", home.url, self.broker.url, state,
                           extra_uplink={"ca_file": str(self.broker.ca), "credentials_file": str(state / "uplink.cred"),
                                         "server_url": self.server.base})
        cfg.write_text(cfg.read_text().replace('site = "s1"', f'site = "{site}"')
                       .replace("zigbee2mqtt/leak", f"zigbee2mqtt/{site}-leak"))
        gw = self.gateways[site] = GatewayProcess(cfg, self.tmp / f"{site}.log").start()
        return gw, state

    def claim(self, site: str, token: str) -> Path:
        _gw, state = self.box(site)
        code_file = state / "uplink.cred.claim"
        assert wait_for(code_file.exists, 30), "the box made no claim code"
        code = json.loads(code_file.read_text())["code"]
        assert stat.S_IMODE(code_file.stat().st_mode) == 0o600
        got = self.server.api(token, "/claims", "POST", {"code": code.lower(), "site": site, "gateway": "gw1"})
        assert got["username"] == f"{site}.gw1" and not got["collected"]
        cred = state / "uplink.cred"
        assert wait_for(cred.exists, 40), "the box never collected its credentials"
        assert stat.S_IMODE(cred.stat().st_mode) == 0o600
        return cred

    def close(self) -> None:
        for g in self.gateways.values():
            g.kill()
        self.server.stop()
        self.broker.stop()
        self.home_b.cleanup()


@pytest.fixture
def world(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[World]:
    w = World(tmp_path, mosquitto)
    yield w
    w.close()


def _stored(world: World, alert_filter: Any) -> list[dict[str, Any]]:
    return [a for a in world.server.all_alerts(world.operator) if alert_filter(a)]


def test_claimed_boxes_deliver_and_a_stolen_identity_can_touch_nothing_else(world: World) -> None:
    cred_a = world.claim("hz-a", world.installer_a)
    cred_b = world.claim("hz-b", world.installer_b)
    # a claimed box connects and its alert is stored
    inj = Injector(world.home_broker)
    try:
        world.gateways["hz-a"].wait_subscribed()
        inj.send("zigbee2mqtt/hz-a-leak0", True)
        assert wait_for(lambda: _stored(world, lambda a: a["site"] == "hz-a"), 40), \
            (world.tmp / "hz-a.log").read_text()[-2000:]
    finally:
        inj.close()
    alert = _stored(world, lambda a: a["site"] == "hz-a")[0]
    assert wait_for(lambda: db_query(world.tmp / "state-hz-a", "SELECT count(*) FROM outbox")[0][0] == 0, 30), \
        "the receipt never reached the claimed box"

    # the other site's box (same gateway id) turned against hz-a
    user_b, pw_b = _credentials(cred_b)
    assert user_b == "hz-b.gw1"
    thief = Probe(world.broker.password_port, world.broker.ca, "eldergate-hz-b-gw1", user_b, pw_b)
    try:
        assert thief.accepted, thief.connack
        assert thief.subscribe("eldergate/v1/#") != "Granted QoS 1"
        assert thief.subscribe("eldergate/v1/hz-a/gw1/ack") != "Granted QoS 1"
        assert thief.subscribe("eldergate/v1/+/+/alerts") != "Granted QoS 1"
        forged_ack = {"alert_id": alert["id"], "kind": "acknowledged", "by": "li.ming"}
        assert thief.publish("eldergate/v1/hz-a/gw1/ack", forged_ack) == "Not authorized"
        assert thief.publish("eldergate/v1/hz-a/gw1/ack", {"alert_id": alert["id"], "kind": "received",
                                                           "state": None}) == "Not authorized"
        assert thief.publish("eldergate/v1/_server/status", {"state": "offline"}, retain=True) == "Not authorized"
        assert thief.publish("eldergate/v1/hz-a/gw1/alerts", alert_message("hz-a", "forged-1")) == "Not authorized"
        # its own topics still work: the identity is bound, not broken
        assert thief.subscribe("eldergate/v1/hz-b/gw1/ack") == "Granted QoS 1"
        assert thief.subscribe("eldergate/v1/_server/status") == "Granted QoS 1"
        assert wait_for(lambda: any(t == "eldergate/v1/_server/status" for t, _ in thief.messages), 10)
        status = json.loads(next(p for t, p in thief.messages if t == "eldergate/v1/_server/status"))
        assert status["state"] == "online", "the server's retained status was overwritten"
        # evidence the ingest has looked past the forgeries: what the thief may send, sent after
        # them on the same connection, is stored (a forgery the broker let through would be first)
        assert thief.publish("eldergate/v1/hz-b/gw1/alerts", alert_message("hz-b", "own-b")) == "Success"
        assert wait_for(lambda: _stored(world, lambda a: a["id"] == "own-b"), 30)
    finally:
        thief.close()
    assert not _stored(world, lambda a: a["id"] == "forged-1"), "an impostor's alert was stored"
    detail = world.server.api(world.operator, f"/alerts/{alert['ref']}")
    assert detail["acknowledged_by"] in (None, ""), "a forged acknowledgement reached the server"
    held = db_query(world.tmp / "state-hz-a", f"SELECT state FROM alerts WHERE id = '{alert['id']}'")
    assert held and held[0][0] != "acknowledged", held
    log_a = (world.tmp / "hz-a.log").read_text()
    assert "li.ming" not in log_a, "the gateway logged a foreign acknowledgement"

    # a stolen identity cannot take over the other box's session (its client id is bound)
    hijack = Probe(world.broker.password_port, world.broker.ca, "eldergate-hz-a-gw1", user_b, pw_b)
    assert not hijack.accepted
    hijack.close()
    # anonymous, and a right name with a wrong password
    anon = Probe(world.broker.password_port, world.broker.ca, "anyone")
    assert not anon.accepted
    anon.close()
    user_a, _pw_a = _credentials(cred_a)
    guess = Probe(world.broker.password_port, world.broker.ca, "eldergate-hz-a-gw1", user_a, "guess")
    assert not guess.accepted
    guess.close()
    # the installer of one community cannot claim into another
    with pytest.raises(Exception, match="404"):
        world.server.api(world.installer_b, "/claims", "POST", {"code": "ABCDE-FGHJK", "site": "hz-a",
                                                                "gateway": "gw1"})


def test_a_revoked_box_is_refused_within_a_minute_and_its_unsent_alerts_are_listed(world: World) -> None:
    cred = world.claim("hz-a", world.installer_a)
    user, password = _credentials(cred)
    gw_id = world.server.api(world.operator, "/homes")[0]["gateways"][0]["id"]
    assert wait_for(lambda: world.server.api(world.operator, "/homes")[0]["gateways"][0]["status"] == "online", 30)
    world.gateways["hz-a"].kill()  # the box is taken away; a copy of its credentials is not
    copy = Probe(world.broker.password_port, world.broker.ca, "eldergate-hz-a-gw1", user, password)
    assert copy.accepted
    t0 = time.monotonic()
    gone = world.server.api(world.installer_a, f"/gateways/{gw_id}/revoke", "POST", {"reason": "box stolen"})
    assert gone["revoked_at"] is not None
    assert copy.disconnected.wait(60), "the revoked identity is still connected after 60 s"
    refused_after = time.monotonic() - t0
    again = Probe(world.broker.password_port, world.broker.ca, "eldergate-hz-a-gw1", user, password)
    assert not again.accepted
    copy.close()
    again.close()
    print(f"revoked identity disconnected {refused_after:.2f} s after the revocation")
    assert refused_after < 60
    listed = world.server.api(world.operator, "/identities?live=false")
    assert [i["username"] for i in listed] == ["hz-a.gw1"] and listed[0]["broker_told"]
    assert listed[0]["unsent_alerts_at_revoke"] is not None  # what the box last said it held


def test_a_box_with_a_client_certificate_is_bound_by_its_common_name(world: World) -> None:
    res = community("identities", "issue", "hz-a/gw1", "--certificate", "--config", str(world.toml), cwd=world.tmp)
    assert res.returncode == 0, res.stderr
    out = world.tmp / "box-pki"
    res = community("ca", "issue", str(world.broker.pki), "hz-a.gw1", "--out", str(out), cwd=world.tmp)
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE((out / "hz-a.gw1.key").stat().st_mode) == 0o600
    cert = (out / "hz-a.gw1.crt", out / "hz-a.gw1.key")

    def told() -> bool:
        return bool(world.server.api(world.operator, "/identities?live=true")[0]["broker_told"])

    assert wait_for(told, 20)
    box = Probe(world.broker.cert_port, world.broker.ca, "eldergate-hz-a-gw1", cert=cert)
    try:
        assert box.accepted, box.connack
        assert box.publish("eldergate/v1/hz-a/gw1/alerts", alert_message("hz-a", "cert-1")) == "Success"
        assert box.publish("eldergate/v1/hz-b/gw1/alerts", alert_message("hz-b", "cert-2")) == "Not authorized"
        assert wait_for(lambda: _stored(world, lambda a: a["id"] == "cert-1"), 20)
    finally:
        box.close()
    # no certificate at all on the certificate listener: refused in the handshake
    bare = Probe(world.broker.cert_port, world.broker.ca, "eldergate-hz-a-gw1")
    assert not bare.accepted
    bare.close()
