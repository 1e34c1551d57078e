"""TLS with a per-gateway client certificate and a broker ACL: the right certificate delivers,
another gateway's certificate is refused, and the gateway says so clearly and keeps running."""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from eldergate.config.loader import parse_config
from eldergate.contract.messages import CommandMessage
from eldergate.gateway.delivery.outbox import Outbox
from eldergate.gateway.links.mqtt_link import ClientSettings
from eldergate.gateway.runtime import Gateway

import testutil
from broker import Mosquitto
from reference_receiver import CommunityReceiver
from tls_certs import make_pki

wait_for = functools.partial(testutil.wait_for, timeout=15.0)  # this file's slower peers
pytestmark = [pytest.mark.broker, pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")]


def start_tls_broker(tmp: Path, pki: Path) -> Mosquitto:
    acl = pki / "acl"
    acl.write_text("user console\ntopic readwrite eldergate/#\n\npattern readwrite eldergate/v1/+/%u/#\n")
    acl.chmod(0o644)
    b = Mosquitto(tmp / "tls-broker")
    b.conf.write_text(
        f"listener {b.port} 127.0.0.1\n"
        f"cafile {pki}/ca.crt\ncertfile {pki}/server.crt\nkeyfile {pki}/server.key\n"
        "require_certificate true\nuse_identity_as_username true\n"
        f"acl_file {acl}\npersistence false\n")
    return b.start()




def run_gateway(tmp: Path, port: int, pki: Path, cert: str) -> tuple[Gateway, threading.Thread]:
    cfg = parse_config({
        "gateway": {"site": "s1", "id": "gw1"},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "hall", "name": "hall"}],
        "sensors": [{"id": "door", "protocol": "zigbee2mqtt", "role": "door", "room": "hall",
                     "mqtt": {"topic": "zigbee2mqtt/door"}}],
        "uplink": {"broker_url": f"mqtts://127.0.0.1:{port}", "ca_file": str(pki / "ca.crt"),
                   "cert_file": str(pki / f"{cert}.crt"), "key_file": str(pki / f"{cert}.key"), "resend_after": 1},
    })
    gw = Gateway(cfg, [], store=Outbox(tmp / f"{cert}.db"), tick_s=0.05, mqtt=False)
    gw.start()
    th = threading.Thread(target=gw.run, daemon=True)
    th.start()
    return gw, th


def test_own_certificate_delivers_and_another_gateways_is_refused_clearly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pki = make_pki(Path(tempfile.mkdtemp(prefix="eldergate-pki-")), ["gw1", "gw2", "console"])
    broker = start_tls_broker(tmp_path, pki)
    rx = CommunityReceiver(ClientSettings(f"mqtts://127.0.0.1:{broker.port}", "console", ca_file=pki / "ca.crt",
                                          cert_file=pki / "console.crt", key_file=pki / "console.key"))
    rx.start()
    try:
        assert rx.connected.wait(15)
        gw, th = run_gateway(tmp_path, broker.port, pki, "gw1")
        try:
            assert gw.uplink is not None and gw.uplink.connected.wait(15)
            gw.queue.put(CommandMessage(command="test_alert"))
            assert wait_for(lambda: any(h.alerts for h in rx.homes.values())), "own certificate: delivered"
            assert wait_for(lambda: gw.store is not None and gw.store.unsent_count() == 0)
        finally:
            gw.stop()
            th.join(timeout=10)
        caplog.set_level(logging.ERROR, logger="eldergate.gateway.delivery.uplink")
        rx.homes.clear()
        rx.seen.clear()
        impostor, th2 = run_gateway(tmp_path, broker.port, pki, "gw2")  # gw1's config, gw2's certificate
        try:
            assert impostor.uplink is not None and impostor.uplink.connected.wait(15)
            impostor.queue.put(CommandMessage(command="test_alert"))
            # the broker's own refusal (the PUBACK's reason code) is the evidence: nothing was routed
            assert wait_for(lambda: impostor.uplink is not None and impostor.uplink.refused is not None)
            assert not any(h.alerts for h in rx.homes.values())
            assert impostor.store is not None and impostor.store.unsent_count() == 2  # kept, never lost
            assert th2.is_alive()
        finally:
            impostor.stop()
            th2.join(timeout=10)
        msgs = [r.getMessage() for r in caplog.records]
        assert any("not authorized" in m.lower() and "certificate" in m for m in msgs), msgs
    finally:
        rx.stop()
        broker.cleanup()
        shutil.rmtree(pki, ignore_errors=True)
