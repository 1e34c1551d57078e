"""`eldergate console` is a client of the community server's API: it lists the open alerts and
acknowledges through the server (which stores it and sends it on to the gateway)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from broker import Mosquitto, online
from community_proc import CommunityServer, community
from community_world import alert_payload
from testutil import clean_env, eldergate_cmd, wait_for

pytestmark = [pytest.mark.broker]


def test_console_lists_and_acknowledges_through_the_api(tmp_path: Path, mosquitto: Mosquitto) -> None:
    from eldergate.gateway.tools.console_client import ApiError, ConsoleClient

    folder = tmp_path / "server"
    assert community("init", str(folder), "--community", "kz", cwd=tmp_path).returncode == 0
    r = community("create-user", "li", "--role", "grid-worker", "--community", "kz", "--token", "--config",
                  str(folder / "community.toml"), cwd=tmp_path)
    token = r.stdout.strip().splitlines()[-1]
    op = community("create-user", "ops", "--role", "platform-operator", "--token", "--config",
                   str(folder / "community.toml"), cwd=tmp_path).stdout.strip().splitlines()[-1]
    stranger = community("create-user", "wu", "--role", "grid-worker", "--community", "elsewhere", "--token",
                         "--config", str(folder / "community.toml"), cwd=tmp_path).stdout.strip().splitlines()[-1]
    residents = tmp_path / "residents.csv"  # the box is in the registry: kz's staff see its alerts
    residents.write_text("community,address,site,gateway,resident_id,name,birth_year\n"
                         "kz,幸福路 1 号,kz,gw1,r1,住户,1938\n", encoding="utf-8")
    assert community("import-residents", str(residents), "--config", str(folder / "community.toml"),
                     cwd=tmp_path).returncode == 0
    server = CommunityServer(folder, mosquitto.url).start()
    try:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        online(pub, mosquitto.port)
        pub.publish("eldergate/v1/kz/gw1/alerts", alert_payload("kz", "gw1", "fall-1"), qos=1).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()
        assert wait_for(lambda: server.all_alerts(op), 15, 0.2)
        client = ConsoleClient(server.base, token)
        assert [a["id"] for a in client.open_alerts()] == ["fall-1"]
        out = subprocess.run(eldergate_cmd("console", "--server", server.base, "--json", "--duration", "2",
                                           "--every", "0.5"), env={**clean_env(), "ELDERGATE_TOKEN": token},
                             capture_output=True, text=True, timeout=30)
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        assert out.returncode == 0 and [a["id"] for a in lines] == ["fall-1"]  # once, not every poll
        assert client.acknowledge("fall-1")["acknowledged_by"] == "li"
        with pytest.raises(ApiError, match="409"):
            client.acknowledge("fall-1")
        assert ConsoleClient(server.base, stranger).open_alerts() == []  # another community sees nothing
        assert [a["id"] for a in ConsoleClient(server.base, op).open_alerts()] == ["fall-1"]
        bad = subprocess.run(eldergate_cmd("console", "--server", server.base, "--duration", "2"),
                             env={**clean_env(), "ELDERGATE_TOKEN": "eg_wrong"}, capture_output=True, text=True,
                             timeout=30)
        assert bad.returncode == 2 and "401" in bad.stderr
    finally:
        server.stop()
