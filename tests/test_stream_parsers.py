"""Properties every byte-stream parser must have, over every protocol (hypothesis).

Any chunking yields the same readings; arbitrary bytes never raise; garbage in front is
skipped and counted; encode -> parse gives the readings back.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eldergate.drivers import ld2410, seeed_5359, seeed_tinyframe, ti_mmwave, winsen
from eldergate.drivers.base import StreamParser
from eldergate.drivers.readings import (
    DeviceFall,
    DeviceVitals,
    Distance,
    GasConcentration,
    Motion,
    Presence,
    Target,
    Targets,
)

P = Callable[[], StreamParser]


def _ld2410(state: int, md: int, me: int, sd: int, se: int, eng: bool) -> bytes:
    gates = tuple(range(9)) if eng else ()
    return ld2410.encode_report(ld2410.LD2410Report(
        target_state=state, moving_distance_m=md / 100, moving_energy=me, still_distance_m=sd / 100,
        still_energy=se, detection_distance_m=md / 100, moving_gates=gates, still_gates=gates,
        light=7 if eng else None, out_pin=1 if eng else None))


FRAMES: dict[str, tuple[P, st.SearchStrategy[bytes]]] = {
    "mr60bha2": (seeed_tinyframe.TinyFrameParser, st.one_of(
        st.builds(lambda p: seeed_tinyframe.encode_reading(Presence(present=p)), st.booleans()),
        st.builds(lambda h: seeed_tinyframe.encode_reading(DeviceVitals(heart_rate_bpm=h)), st.integers(30, 200)),
        st.builds(lambda x, y: seeed_tinyframe.encode_reading(Targets(targets=(Target(id=1, x=x, y=y),))),
                  st.integers(-300, 300).map(lambda v: v / 64), st.integers(0, 500).map(lambda v: v / 64)))),
    "mr60bha1": (lambda: seeed_5359.Seeed5359Parser("mr60bha1"), st.one_of(
        st.builds(lambda p: seeed_5359.encode_reading(Presence(present=p)), st.booleans()),
        st.builds(lambda h: seeed_5359.encode_reading(DeviceVitals(heart_rate_bpm=h)), st.integers(1, 250)),
        st.builds(lambda d: seeed_5359.encode_reading(Distance(distance_m=d / 100)), st.integers(0, 6000)),
        st.builds(lambda s: seeed_5359.encode_reading(Motion(state=s)), st.sampled_from(["none", "still", "active"])),
        st.builds(lambda f: seeed_5359.encode_reading(DeviceFall(fallen=f)), st.booleans()))),
    "ld2410": (ld2410.LD2410Parser, st.builds(_ld2410, st.integers(0, 3), st.integers(0, 600), st.integers(0, 100),
                                              st.integers(0, 600), st.integers(0, 100), st.booleans())
               | st.just(ld2410.ack_frame(0x00FF, 0, b"\x01\x00\x40\x00"))),
    "ti-mmwave": (ti_mmwave.TiMmwaveParser, st.builds(
        lambda n, z: ti_mmwave.encode_frame([(1021, struct.pack("<I", 1)),
                                             (1012, ti_mmwave.height_payload([(1, z, 0.1)]))], frame_number=n),
        st.integers(0, 10_000), st.integers(0, 200).map(lambda v: v / 100))),
    "winsen-gas": (winsen.WinsenParser, st.builds(lambda c: winsen.encode_upload(winsen.GAS_CO, c),
                                                  st.integers(0, 5000))),
}


def _feed_chunks(p: StreamParser, data: bytes, cuts: list[int]) -> list[object]:
    out: list[object] = []
    pos, i = 0, 0
    while pos < len(data):
        step = cuts[i % len(cuts)]
        out += p.feed(data[pos : pos + step])
        pos, i = pos + step, i + 1
    return out + list(getattr(p, "flush", list)())


@pytest.mark.parametrize("name", list(FRAMES))
def test_any_chunking_same_readings(name: str) -> None:
    make, frames = FRAMES[name]

    @given(st.lists(frames, min_size=1, max_size=6), st.lists(st.integers(1, 50), min_size=1, max_size=10))
    @settings(max_examples=150, deadline=None)
    def check(items: list[bytes], cuts: list[int]) -> None:
        data = b"".join(items)
        whole = _feed_chunks(make(), data, [len(data)])
        assert len(whole) >= len(items) or name == "ti-mmwave"
        assert _feed_chunks(make(), data, cuts) == whole

    check()


@pytest.mark.parametrize("name", list(FRAMES))
def test_garbage_never_raises_and_parser_recovers(name: str) -> None:
    make, frames = FRAMES[name]

    @given(st.binary(max_size=600), frames)
    @settings(max_examples=200, deadline=None)
    def check(garbage: bytes, frame: bytes) -> None:
        p = make()
        p.feed(garbage)
        # after any garbage and one good frame, a second copy of the frame always decodes
        expected = _feed_chunks(make(), frame + frame, [10_000])
        got = _feed_chunks(p, frame + frame, [10_000])
        assert got[-len(expected) // 2 :] == expected[-len(expected) // 2 :]
        assert p.stats.bytes_in == len(garbage) + 2 * len(frame)

    check()


def test_a_stray_ff_before_winsen_frames_ending_in_ff_misaligns_none_of_them() -> None:
    """Found by the fuzzing above: FF then frames whose checksum is FF. Shifted by one byte, each
    candidate frame's 8-bit checksum matched by chance, so every frame decoded wrong (26.8 ppm
    for 315.5). A start byte followed by FF is no frame."""
    make, _frames = FRAMES["winsen-gas"]
    frame = bytes.fromhex("ff0402010c531388ff")
    p = make()
    got = _feed_chunks(p, b"\xff" + frame + frame, [10_000])
    assert [round(r.value, 1) for r in got if isinstance(r, GasConcentration)] == [315.5, 315.5]
