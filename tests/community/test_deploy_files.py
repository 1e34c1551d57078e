"""The community broker's shipped configuration (deploy/mosquitto-community.conf) is one a real
Mosquitto starts with, once the site's certificates and a port are filled in."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from broker import MOSQUITTO, free_port, owns_listener
from testutil import ROOT, systemd_rating
from tls_certs import make_pki

pytestmark = [pytest.mark.broker]


def test_mosquitto_starts_with_the_shipped_community_configuration(tmp_path: Path) -> None:
    if MOSQUITTO is None:
        pytest.fail("mosquitto is not installed: run ./scripts/test, which installs it")
    # mosquitto drops to its own user: pytest's folders (0700) are closed to it
    top = Path(tempfile.mkdtemp(prefix="eldergate-deploy-"))
    top.chmod(0o755)
    pki = make_pki(top / "pki", ["gw1"])
    data = top / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)  # mosquitto drops to its own user
    port = free_port()
    text = (ROOT / "deploy" / "mosquitto-community.conf").read_text()
    assert "set_tcp_nodelay true" in text and "autosave_on_changes true" in text
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(text.replace("listener 8883", f"listener {port} 127.0.0.1")
                    + f"cafile {pki}/ca.crt\ncertfile {pki}/server.crt\nkeyfile {pki}/server.key\n"
                    f"persistence_location {data}/\n")
    with (tmp_path / "log").open("ab") as log:
        proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and proc.poll() is None and not owns_listener(proc.pid, port):
            time.sleep(0.05)
        assert proc.poll() is None and owns_listener(proc.pid, port), (tmp_path / "log").read_text()[-800:]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="scripts/test installs systemd")
def test_the_nats_node_unit_verifies_and_is_rated_2_or_better(tmp_path: Path) -> None:
    from nats_cluster import NATS_SERVER

    assert NATS_SERVER is not None, "nats-server is not installed: run ./scripts/test"
    unit = tmp_path / "eldergate-nats@n1.service"  # the template, as the instance n1
    unit.write_text((ROOT / "deploy" / "nats" / "eldergate-nats@.service").read_text().replace(
        "/usr/bin/nats-server", NATS_SERVER))  # the binary as installed in this environment
    assert systemd_rating(unit) <= 2.0
