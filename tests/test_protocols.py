"""One registry entry per protocol is enough: a new protocol added there is accepted by the
configuration, decoded by the gateway, usable on the command line and listed in its help."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from eldergate.config.loader import ConfigError, parse_config
from eldergate.drivers.base import ParserStats
from eldergate.drivers.protocols import PROTOCOLS, ProtocolInfo, describe, register
from eldergate.drivers.readings import Presence, Reading
from eldergate.gateway.links.decode import decoders_for
from eldergate.gateway.tools.cli import adhoc_config

from testutil import clean_env, eldergate_cmd


class AcmeParser:
    """A made-up serial presence sensor: lines "P1" (someone) and "P0" (nobody)."""

    def __init__(self) -> None:
        self.stats = ParserStats()
        self._buf = b""

    def feed(self, chunk: bytes) -> list[Reading]:
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        out: list[Reading] = []
        for line in lines:
            if line in (b"P0", b"P1"):
                self.stats.frames += 1
                out.append(Presence(present=line == b"P1"))
            else:
                self.stats.malformed += 1
        return out


@pytest.fixture
def acme() -> Iterator[ProtocolInfo]:
    info = register(ProtocolInfo("acme-presence", "ACME line presence sensor (test)", "presence",
                                 stream=lambda o: AcmeParser(), default_baud=9600))
    yield info
    del PROTOCOLS[info.name]


def _config(protocol: str) -> dict[str, object]:
    return {
        "gateway": {"site": "s", "id": "g"},
        "residents": [{"id": "r1", "display_name": "x", "birth_year": 1940}],
        "rooms": [{"id": "hall", "name": "hall"}],
        "sensors": [{"id": "p", "protocol": protocol, "role": "presence", "room": "hall",
                     "serial": {"port": "/dev/ttyUSB0"}}],
    }


def test_a_protocol_registered_once_works_everywhere(acme: ProtocolInfo, tmp_path: Path) -> None:
    cfg = parse_config(_config("acme-presence"))  # the configuration accepts it
    dec = decoders_for(cfg)["p"]  # the gateway builds its parser
    readings = dec.bytes_in(10.0, b"garbage\nP1\nP")
    assert [(type(r).__name__, r.sensor, r.t) for r in readings] == [("Presence", "p", 10.0)]
    assert dec.stats.malformed == 1
    capture = tmp_path / "capture.jsonl"
    capture.write_text("")
    adhoc = adhoc_config(["p=acme-presence"], capture, "Asia/Shanghai")  # --sensor ID=PROTOCOL
    assert adhoc.sensors[0].role == "presence" and adhoc.sensors[0].serial is not None
    assert "acme-presence" in describe()  # and the command line's help lists it


def test_an_unregistered_protocol_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_config("acme-presence"))
    text = str(err.value.problems)
    assert "sensors[0].protocol" in text and "acme-presence" in text and "ld2410" in text


def test_a_protocol_that_needs_a_mapping_says_so_on_the_command_line(tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    capture.write_text("")
    proc = subprocess.run(eldergate_cmd("replay", str(capture), "--sensor", "s=json"), capture_output=True,
                          text=True, env=clean_env(), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "mapping" in proc.stderr and "Traceback" not in proc.stderr
