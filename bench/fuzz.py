"""Fuzz every parser on demand: hypothesis with a large example budget (and atheris when installed).

    .venv/bin/python bench/fuzz.py [--examples 20000] [--parser NAME]
    .venv/bin/python bench/fuzz.py --atheris mr60bha2 -- -max_total_time=60     (pip install atheris)

Each target feeds arbitrary bytes (or MQTT payloads) in arbitrary chunks, checks that nothing
raises and that the counters add up, then that a valid frame still decodes afterwards.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eldergate.drivers import ld2410, seeed_5359, seeed_tinyframe, ti_mmwave, winsen
from eldergate.drivers.base import MessageParser, StreamParser
from eldergate.drivers.json_mapping import FieldRule, JsonMappingParser
from eldergate.drivers.readings import Presence
from eldergate.drivers.rtl433 import Rtl433Parser
from eldergate.drivers.zigbee2mqtt import Zigbee2MqttParser

STREAM: dict[str, tuple[Callable[[], StreamParser], bytes]] = {
    "mr60bha2": (seeed_tinyframe.TinyFrameParser, seeed_tinyframe.encode_reading(Presence(present=True))),
    "mr60bha1": (seeed_5359.Seeed5359Parser, seeed_5359.encode_reading(Presence(present=True))),
    "ld2410": (ld2410.LD2410Parser, ld2410.ENABLE_CONFIG[:0] + ld2410.ack_frame(0x00FF)),
    "ti-mmwave": (ti_mmwave.TiMmwaveParser, ti_mmwave.encode_frame([(1021, b"\x01\x00\x00\x00")])),
    "winsen-gas": (winsen.WinsenParser, winsen.encode_upload(winsen.GAS_CO, 10)),
}
MESSAGE: dict[str, tuple[Callable[[], MessageParser], str]] = {
    "zigbee2mqtt": (lambda: Zigbee2MqttParser("zigbee2mqtt/d"), "zigbee2mqtt/d"),
    "rtl433": (lambda: Rtl433Parser("rtl_433/h/events", "Honeywell-Security", 1), "rtl_433/h/events"),
    "json": (lambda: JsonMappingParser("v/t", [FieldRule("$.a.b", "gas", 1)]), "v/t"),
}


def fuzz_stream(name: str, examples: int) -> None:
    make, good = STREAM[name]

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=4096), st.lists(st.integers(1, 512), min_size=1, max_size=20))
    def target(data: bytes, cuts: list[int]) -> None:
        p = make()
        pos, i = 0, 0
        while pos < len(data):
            p.feed(data[pos : pos + cuts[i % len(cuts)]])
            pos += cuts[i % len(cuts)]
            i += 1
        flush = getattr(p, "flush", None)
        if flush is not None:
            flush()
        assert p.stats.bytes_in == len(data)
        got = p.feed(good + good) + (flush() if flush is not None else [])
        assert got, f"{name}: a valid frame no longer decodes after fuzz input"

    target()


def fuzz_message(name: str, examples: int) -> None:
    make, topic = MESSAGE[name]

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=2048) | st.text(max_size=500).map(str.encode), st.sampled_from([topic, topic + "/x"]))
    def target(payload: bytes, t: str) -> None:
        p = make()
        p.feed_message(t, payload)
        assert p.stats.malformed + p.stats.frames <= 1

    target()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=20_000)
    ap.add_argument("--parser", choices=[*STREAM, *MESSAGE])
    ap.add_argument("--atheris", metavar="NAME", help="run a libFuzzer-driven atheris target instead")
    args, rest = ap.parse_known_args()
    if args.atheris:
        return run_atheris(args.atheris, rest)
    for name in [args.parser] if args.parser else [*STREAM, *MESSAGE]:
        print(f"fuzzing {name} with {args.examples} examples...", flush=True)
        (fuzz_stream if name in STREAM else fuzz_message)(name, args.examples)
    print("no failure")
    return 0


def run_atheris(name: str, argv: list[str]) -> int:
    import atheris  # type: ignore[import-not-found]  # optional: pip install atheris

    make = STREAM[name][0]

    def one(data: bytes) -> None:
        make().feed(data)

    atheris.Setup([sys.argv[0], *argv], one)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
