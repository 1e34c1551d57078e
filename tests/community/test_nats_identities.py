"""Every box proves who it is on the NATS cluster too: the shipped deploy/nats/node.conf with TLS on
every listener and the users file `eldergate community identities nats-users` writes.

The outside review's findings, from the outside: anonymous MQTT and NATS clients are refused (the
ingest stream cannot be deleted); a box's credentials cannot be used on the NATS port; the other
site's box (same gateway id) can neither read nor forge hz-a's messages; the server still stores
what boxes send; a revoked box is disconnected by the reload and refused after it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from community_proc import CommunityServer, community, register
from mqtt_probe import Probe, alert_message
from nats_cluster import NatsCluster
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _ok(*args: str, cwd: Path) -> str:
    res = community(*args, cwd=cwd)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


class City:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pki = tmp / "pki"
        _ok("ca", "init", str(self.pki), "test CA", cwd=tmp)
        _ok("ca", "issue", str(self.pki), "nats", "--host", "127.0.0.1", cwd=tmp)
        folder = tmp / "server"
        for site in ("hz-a", "hz-b"):
            _ok("init", str(folder), "--community", site, "--street", "街道", cwd=tmp)
        self.toml = folder / "community.toml"
        for site in ("hz-a", "hz-b"):
            register(self.toml, site, "gw1", tmp)
        self.server_cred = tmp / "server.cred"
        _ok("broker", "init", "--dynsec", str(tmp / "unused-dynsec.json"), "--credentials", str(self.server_cred),
            cwd=tmp)
        self.nats = NatsCluster(tmp / "nats", pki=self.pki)
        self.nats.configure_server(self.toml)
        self.toml.write_text(self.toml.read_text().replace(
            'prefix = "eldergate/v1"', f'prefix = "eldergate/v1"\nca_file = "{self.pki / "ca.crt"}"\n'
            f'credentials_file = "{self.server_cred}"\nidentities = "nats"'))
        self.cred = {site: tmp / f"{site}.cred" for site in ("hz-a", "hz-b")}
        for site, path in self.cred.items():
            _ok("identities", "issue", f"{site}/gw1", "--out", str(path), "--config", str(self.toml), cwd=tmp)
        self.users()
        try:
            self.nats.start()
        except Exception:
            self.nats.stop()
            raise
        res = community("create-user", "ops", "--role", "platform-operator", "--token", "--config", str(self.toml),
                        cwd=tmp)
        self.operator = res.stdout.strip().splitlines()[-1]
        self.server = CommunityServer(folder, self.nats.mqtt_urls[0], extra=("--config", str(self.toml)))
        try:
            self.server.start()
        except Exception:
            self.nats.stop()
            raise

    def users(self) -> str:
        return _ok("identities", "nats-users", "--out", str(self.nats.users_file), "--config", str(self.toml),
                   cwd=self.tmp)

    def probe(self, site: str | None, client_id: str, node: int = 0) -> Probe:
        user, password = (self.cred[site].read_text().splitlines()[:2] if site else (None, None))
        return Probe(self.nats.nodes[node].mqtt_port, self.pki / "ca.crt", client_id, user, password, v311=True)

    def stored(self, alert_id: str) -> bool:
        return any(a["id"] == alert_id for a in self.server.all_alerts(self.operator))

    def close(self) -> None:
        self.server.stop()
        self.nats.stop()


@pytest.fixture
def city(tmp_path: Path) -> Iterator[City]:
    c = City(tmp_path)
    yield c
    c.close()


def _nats_hello(url: str, ca: Path, user: str | None = None, password: str | None = None) -> str:
    """What a NATS client with these credentials is told: the protocol by hand (INFO, then TLS, then
    CONNECT and PING), so that a refusal leaves no half-open client behind. "PONG": let in."""
    import socket
    import ssl

    host, port = url.split("://", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        info = raw.recv(4096)
        assert info.startswith(b"INFO ") and b'"tls_required":true' in info, info[:200]
        ctx = ssl.create_default_context(cafile=str(ca))
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            hello: dict[str, object] = {"verbose": False, "pedantic": False, "protocol": 1, "name": "probe"}
            if user is not None:
                hello |= {"user": user, "pass": password}
            tls.sendall(b"CONNECT " + json.dumps(hello).encode() + b"\r\nPING\r\n")
            reply = b""
            while b"\r\n" not in reply:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                reply += chunk
    return reply.split(b"\r\n", 1)[0].decode(errors="replace")


def test_the_shipped_nats_files_refuse_strangers_bind_boxes_and_revoke(city: City) -> None:
    # the server works: a box's own alert is stored and receipted
    box_a = city.probe("hz-a", "eldergate-hz-a-gw1")
    assert box_a.accepted, box_a.connack
    assert box_a.subscribe("eldergate/v1/hz-a/gw1/ack") != "Unspecified error"
    box_a.publish("eldergate/v1/hz-a/gw1/alerts", alert_message("hz-a", "own-1"))
    assert wait_for(lambda: city.stored("own-1"), 30), city.server.log.read_text()[-2000:]
    assert wait_for(lambda: any(t.endswith("/ack") for t, _ in box_a.messages), 20), "no receipt reached the box"

    # the other site's box, same gateway id
    thief = city.probe("hz-b", "eldergate-hz-b-gw1", node=1)
    try:
        assert thief.accepted
        assert thief.subscribe("eldergate/v1/#") == "Unspecified error"
        assert thief.subscribe("eldergate/v1/hz-a/gw1/ack") == "Unspecified error"
        before = len(box_a.messages)
        thief.publish("eldergate/v1/hz-a/gw1/ack", {"alert_id": "own-1", "kind": "acknowledged", "by": "li.ming"})
        thief.publish("eldergate/v1/hz-a/gw1/alerts", alert_message("hz-a", "forged-1"))
        thief.publish("eldergate/v1/_server/status", {"state": "offline"})
        thief.publish("eldergate/v1/hz-b/gw1/alerts", alert_message("hz-b", "own-b"))  # its own: stored
        # sent after the forgeries on one connection: had the broker let one through, it would be
        # stored before (or with) own-b
        assert wait_for(lambda: city.stored("own-b"), 30)
        assert not city.stored("forged-1"), "an impostor's alert was stored"
        assert not any(b"li.ming" in p for _t, p in box_a.messages[before:]), "hz-a was handed a forged ack"
    finally:
        thief.close()

    # strangers: anonymous MQTT, anonymous NATS, a box's credentials on the NATS port
    anon = city.probe(None, "anyone")
    assert not anon.accepted
    anon.close()
    url = city.nats.nodes[0].nats_url
    ca = city.pki / "ca.crt"
    server_user, server_pw = city.server_cred.read_text().splitlines()[:2]
    assert _nats_hello(url, ca, server_user, server_pw) == "PONG"  # the probe itself works
    assert "Authorization Violation" in _nats_hello(url, ca)  # anonymous: cannot touch the streams
    user_b, pw_b = city.cred["hz-b"].read_text().splitlines()[:2]
    assert "Authorization Violation" in _nats_hello(url, ca, user_b, pw_b)  # a box: MQTT only

    # revoked: the nodes reload the users file and drop the box; it cannot come back
    assert json.loads(json.dumps(box_a.connack)) == "Success"
    t0 = time.monotonic()
    _ok("identities", "revoke", "hz-a/gw1", "--config", str(city.toml), cwd=city.tmp)
    assert "users written" in city.users()
    city.nats.reload()
    assert box_a.disconnected.wait(60), "the revoked box is still connected after 60 s"
    assert time.monotonic() - t0 < 60
    box_a.close()
    again = city.probe("hz-a", "eldergate-hz-a-gw1")
    assert not again.accepted
    again.close()
