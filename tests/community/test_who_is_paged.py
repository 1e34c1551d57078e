"""Who is paged, from the outside (docs/alert-lifecycle.md, "Who is paged"): a real box (`eldergate
run`, Zigbee2MQTT leak detectors) whose contact is the same grid worker the server's ladder pages
(one phone: one path on a local push endpoint), a real `eldergate community serve` and Mosquitto.
Pushes are counted where they arrive.

- The server up: its ladder pages the grid worker, then the community admin; the box, which has
  the server's receipt, pages nobody.
- The server killed: the box, without a receipt after its handover time, pages the grid worker
  itself. The server, started again, gets the alert's first copy from the broker (sent before the
  box paged), then the box's fresh copy saying whom it paged: its ladder pages the admin and not
  the grid worker again.

Each person is paged once per step.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from broker import Mosquitto
from community_path import Injector, outboxes_empty, residents_csv
from community_proc import CommunityServer, community
from gateway_proc import GatewayProcess, write_config
from push_endpoint import PushEndpoint
from testutil import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]
LADDER = '\n[escalation.ladders]\nwarning = [{after_s = 0, to = "assigned"}, {after_s = 2, to = "community-admin"}]\n'


@pytest.fixture
def phones() -> Iterator[PushEndpoint]:
    ep = PushEndpoint()
    yield ep
    ep.close()


def _server(tmp: Path, broker: Mosquitto, phones: PushEndpoint) -> tuple[CommunityServer, str]:
    """The server, and the grid worker's API token."""
    folder = tmp / "server"
    assert community("init", str(folder), "--community", "s1", "--street", "新街", cwd=tmp).returncode == 0
    toml = folder / "community.toml"
    toml.write_text(toml.read_text() + LADDER)
    cfg = ("--config", str(toml))
    tokens = {}
    for name, role in (("li", "grid-worker"), ("admin", "community-admin")):
        made = community("create-user", name, "--role", role, "--community", "s1", "--notify-url", phones.url(name),
                         "--token", *cfg, cwd=tmp)
        assert made.returncode == 0, made.stderr
        tokens[name] = made.stdout.strip().splitlines()[-1]
    imported = community("import-residents", str(residents_csv(tmp / "residents.csv")), *cfg, cwd=tmp)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    return CommunityServer(folder, broker.url, extra=cfg), tokens["li"]


def _box(tmp: Path, broker: Mosquitto, phones: PushEndpoint) -> GatewayProcess:
    cfg = write_config(tmp / "gw1.toml", broker.url, broker.url, tmp / "state-gw1", n_leaks=2)
    text = cfg.read_text().replace("zigbee2mqtt/leak", "zigbee2mqtt/gw1-leak")
    text = text.replace('[notifications]\nenabled = false\n', '[notifications]\nhandover_after = "3s"\n')
    grid_worker = f'[[residents.contacts]]\nname = "li"\nrole = "grid_worker"\nnotify = "{phones.url("li")}"\n'
    cfg.write_text(text.replace("[[rooms]]", grid_worker + "[[rooms]]", 1))
    return GatewayProcess(cfg, tmp / "gw1.log").start()


def test_one_pager_per_step_whether_the_server_is_up_or_down(
        tmp_path: Path, mosquitto: Mosquitto, phones: PushEndpoint) -> None:
    server, token = _server(tmp_path, mosquitto, phones)
    server.start()
    box = _box(tmp_path, mosquitto, phones)
    inj = Injector(mosquitto)
    try:
        box.wait_subscribed()
        assert wait_for(server.ingesting, 30, 0.1)

        inj.send("zigbee2mqtt/gw1-leak0", True)  # the server is up
        assert wait_for(lambda: phones.who().count("admin") == 1, 30, 0.1), phones.who()  # its ladder ran
        assert wait_for(lambda: "the community server has it; its ladder pages" in box.log.read_text(), 10, 0.1)
        assert phones.who().count("li") == 1  # by the server's first step; the box stood back

        server.kill()
        inj.send("zigbee2mqtt/gw1-leak1", True)  # nobody to receipt it
        assert wait_for(lambda: phones.who().count("li") == 2, 30, 0.1), phones.who()  # the box pages
        assert "no receipt from the community server after 3 s" in box.log.read_text()
        server.start()
        assert wait_for(lambda: phones.who().count("admin") == 2, 60, 0.1), phones.who()  # the ladder goes on
        # the box's fresh copy reached the server, which receipted it (the box's outbox is empty only
        # when a receipt says the server has whom it paged) and marked the grid worker's step done
        assert wait_for(lambda: outboxes_empty(tmp_path, ["gw1"]), 60, 0.2)
        states = [h["state"] for a in server.all_alerts(token) if a["sensor"] == "leak1" for h in a["history"]]
        assert "box paged grid_worker" in states, states
        assert phones.who().count("li") == 2, phones.who()  # the grid worker: once per alert
    finally:
        inj.close()
        box.stop()
        server.stop()
