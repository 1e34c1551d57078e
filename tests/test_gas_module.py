"""A Winsen UART gas module through the home pipeline: concentration above the configured threshold is an alarm."""

from __future__ import annotations

from eldergate.config.loader import parse_config
from eldergate.drivers.winsen import GAS_CO, encode_upload
from eldergate.gateway.core.alerts import Alert
from eldergate.gateway.core.home import Home
from eldergate.gateway.links.decode import decoders_for
from eldergate.signal.model import Event


def test_concentration_over_the_threshold_raises_and_clears_one_alert() -> None:
    cfg = parse_config({
        "gateway": {"site": "s", "id": "g"},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "kitchen", "name": "k"}],
        "sensors": [{"id": "co", "protocol": "winsen-gas", "role": "gas", "room": "kitchen",
                     "serial": {"port": "/dev/ttyUSB9"}, "gas": {"gas": "co", "scale": 0.1, "alarm_above": 50}}],
    })
    dec = decoders_for(cfg)["co"]
    home = Home(cfg, start=0.0)
    out = []
    for i, ppm in enumerate([10, 20, 60, 80, 75, 90, 40, 30]):  # ZE07-CO counts are 0.1 ppm
        for r in dec.bytes_in(float(i), encode_upload(GAS_CO, ppm * 10)):
            out += home.process(r)
    events = [str(o.name) for o in out if isinstance(o, Event)]
    alerts = [(str(o.kind), str(o.state)) for o in out if isinstance(o, Alert)]
    assert events == ["carbon_monoxide", "carbon_monoxide_cleared"]
    assert alerts == [("carbon_monoxide", "raised"), ("carbon_monoxide", "resolved")]
