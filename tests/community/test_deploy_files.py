"""The community broker's shipped configuration (deploy/mosquitto-community.conf) is one a real
Mosquitto starts with, once the site's certificates and a port are filled in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from broker import MOSQUITTO
from shipped_broker import ShippedMosquitto
from testutil import ROOT, systemd_rating

pytestmark = [pytest.mark.broker]


def test_mosquitto_starts_with_the_shipped_community_configuration() -> None:
    """Both listeners up, with a CA and an identity store made by eldergate's own commands (what the
    file allows and refuses: tests/community/test_broker_identities.py)."""
    if MOSQUITTO is None:
        pytest.fail("mosquitto is not installed: run ./scripts/test, which installs it")
    text = (ROOT / "deploy" / "mosquitto-community.conf").read_text()
    assert "set_tcp_nodelay true" in text and "allow_anonymous false" in text
    broker = ShippedMosquitto().start()
    try:
        assert broker.proc is not None and broker.proc.poll() is None
        assert "Loading plugin" in broker.log.read_text()
    finally:
        broker.stop()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="scripts/test installs systemd")
def test_the_nats_node_unit_verifies_and_is_rated_2_or_better(tmp_path: Path) -> None:
    from nats_cluster import NATS_SERVER

    assert NATS_SERVER is not None, "nats-server is not installed: run ./scripts/test"
    unit = tmp_path / "eldergate-nats@n1.service"  # the template, as the instance n1
    unit.write_text((ROOT / "deploy" / "nats" / "eldergate-nats@.service").read_text().replace(
        "/usr/bin/nats-server", NATS_SERVER))  # the binary as installed in this environment
    assert systemd_rating(unit) <= 2.0
