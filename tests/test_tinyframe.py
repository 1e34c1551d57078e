"""MR60BHA2 / MR60FDA2 parser: real frames from protocols.md §1, garbage, splits, properties."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from eldergate.drivers.readings import (
    ChestDisplacement,
    DeviceFall,
    DeviceVitals,
    Distance,
    Presence,
    Target,
    TargetHeight,
    Targets,
    Unknown,
)
from eldergate.drivers.seeed_tinyframe import (
    CMD_ENABLE_HEIGHT_UPLOAD,
    CMD_GET_PARAMETERS,
    TinyFrameParser,
    cmd_set_install_height,
    encode_frame,
    encode_reading,
)

# Real frames logged by a user of an MR60BHA2 (limengdu/MR60BHA2_ESPHome_external_components
# issue #3), quoted in protocols.md §1.2: breath rate 0, heart rate 0, distance with LEN 4.
REAL_BREATH = bytes.fromhex("0167E400040A146700000000FF")
REAL_HEART = bytes.fromhex("016975 00040A15F900000000FF".replace(" ", ""))
REAL_DISTANCE_LEN4 = bytes.fromhex("0167E300040A166200000000FF")
# Real distance payload captured on the wire (AB-Engineering/MR60BHXX-driver SENSOR_DIAGNOSIS.md,
# protocols.md §1.3): flag 1, range 74.62 (cm per ESPHome).
REAL_DISTANCE_PAYLOAD = bytes.fromhex("01000000713D9542")
REAL_STREAM = REAL_BREATH + REAL_HEART + REAL_DISTANCE_LEN4
REAL_EXPECTED = [DeviceVitals(breathing_rate_bpm=None), DeviceVitals(heart_rate_bpm=None), Distance(distance_m=None)]


def parse_all(data: bytes) -> list[object]:
    return list(TinyFrameParser().feed(data))


def test_real_frames_whole() -> None:
    assert parse_all(REAL_STREAM) == REAL_EXPECTED


def test_real_frames_byte_by_byte() -> None:
    p = TinyFrameParser()
    out = []
    for b in REAL_STREAM:
        out += p.feed(bytes([b]))
    assert out == REAL_EXPECTED
    assert p.stats.frames == 3 and p.stats.dropped_bytes == 0


def test_garbage_in_front_and_false_start_bytes() -> None:
    # 0x01 bytes in the garbage are false starts: the header checksum rejects them
    p = TinyFrameParser()
    out = p.feed(b"\x01\x01\x00\xff\x01\x02\x03garbage\x01" + REAL_STREAM)
    assert out == REAL_EXPECTED
    assert p.stats.dropped_bytes == 15  # every garbage byte, none of the frames


def test_corrupted_data_checksum_is_counted_and_skipped() -> None:
    bad = bytearray(REAL_HEART)
    bad[-1] ^= 0xFF
    p = TinyFrameParser()
    assert p.feed(bytes(bad) + REAL_BREATH) == [DeviceVitals(breathing_rate_bpm=None)]
    assert p.stats.bad_checksum == 1


def test_corrupted_header_checksum_resyncs() -> None:
    bad = bytearray(REAL_HEART)
    bad[7] ^= 0x01
    assert parse_all(bytes(bad) + REAL_BREATH) == [DeviceVitals(breathing_rate_bpm=None)]


def test_real_distance_payload_flag_first_in_cm() -> None:
    frame = encode_frame(0x0A16, REAL_DISTANCE_PAYLOAD, frame_id=0x1234)
    (r,) = parse_all(frame)
    assert isinstance(r, Distance) and r.distance_m is not None
    assert abs(r.distance_m - 0.7462) < 1e-4
    assert frame[-1] == 0x65  # the DATA_CKSUM protocols.md computed for this payload


def test_host_commands_match_verified_bytes() -> None:
    # esphome seeed_mr60fda2.cpp, verified in protocols.md §1.2
    assert bytes.fromhex("01000000000E06F6") == CMD_GET_PARAMETERS
    assert bytes.fromhex("01800000000E0E7E") == CMD_ENABLE_HEIGHT_UPLOAD
    assert cmd_set_install_height(2.4)[:8] == bytes.fromhex("01000000040E04F0")
    assert cmd_set_install_height(2.4)[8:] == bytes.fromhex("9A991940A5")


def test_zero_length_frames_with_and_without_trailing_checksum() -> None:
    p = TinyFrameParser()
    out = p.feed(CMD_GET_PARAMETERS + CMD_GET_PARAMETERS + b"\xff" + REAL_BREATH)
    assert [type(r) for r in out] == [Unknown, Unknown, DeviceVitals]


def test_length_field_is_capped() -> None:
    header = struct.pack(">BHHH", 1, 0, 0xD889, 0x0A13)  # the bogus LEN seen in a real debugging session
    header += bytes([(~(1 ^ 0 ^ 0 ^ 0xD8 ^ 0x89 ^ 0x0A ^ 0x13)) & 0xFF])
    p = TinyFrameParser()
    assert p.feed(header + REAL_BREATH) == [DeviceVitals(breathing_rate_bpm=None)]
    assert p.stats.bad_length == 1


def test_presence_payload_lengths_by_firmware() -> None:
    for payload, present in ((b"\x01", True), (b"\x00\x00", False), (b"\x00\x01\x00\x00", True)):
        assert parse_all(encode_frame(0x0F09, payload)) == [Presence(present=present)]


def test_fall_height_targets_phase() -> None:
    frames = (
        encode_frame(0x0E02, b"\x01")
        + encode_frame(0x0E0E, struct.pack("<f", 0.25))
        + encode_frame(0x0A04, struct.pack("<I", 1) + struct.pack("<ffii", -1.0, 1.5, 2, 7))
        + encode_frame(0x0A13, struct.pack("<fff", 1.0, 0.5, 0.25))
    )
    fall, height, targets, phase = parse_all(frames)
    assert fall == DeviceFall(fallen=True)
    assert isinstance(height, TargetHeight) and abs(height.height_m - 0.25) < 1e-6
    assert isinstance(targets, Targets) and targets.targets[0].id == 7
    assert abs((targets.targets[0].vy or 0) - 2 * 0.1728) < 1e-6
    assert phase == ChestDisplacement(value=1.0, unit="rad", breath=0.5, heart=0.25)


f32 = st.floats(width=32, allow_nan=False, allow_infinity=False, min_value=-1e4, max_value=1e4)
readings = st.one_of(
    st.builds(Presence, present=st.booleans()),
    st.builds(DeviceFall, fallen=st.booleans()),
    st.builds(TargetHeight, height_m=f32),
    st.builds(ChestDisplacement, value=f32, unit=st.just("rad"), breath=f32, heart=f32),
    st.builds(DeviceVitals, heart_rate_bpm=st.floats(1, 250, width=32)),
    st.builds(Distance, distance_m=st.none() | st.floats(0.015625, 10, width=32)),
    st.builds(Targets, targets=st.lists(
        st.builds(Target, id=st.integers(0, 100), x=f32, y=f32, vy=st.integers(-50, 50).map(lambda d: d * 0.1728)),
        max_size=3).map(tuple)),
)


def _close(a: object, b: object) -> bool:
    if isinstance(a, Distance) and isinstance(b, Distance) and a.distance_m and b.distance_m:
        return abs(a.distance_m - b.distance_m) < 1e-6 * max(1.0, b.distance_m)
    if isinstance(a, Targets) and isinstance(b, Targets):
        return all(x.id == y.id and x.x == y.x and abs((x.vy or 0) - (y.vy or 0)) < 1e-6
                   for x, y in zip(a.targets, b.targets, strict=True))
    return a == b


@given(st.lists(readings, min_size=1, max_size=8), st.integers(0, 0xFFFF))
@settings(max_examples=200, deadline=None)
def test_encode_parse_round_trip(items: list[object], fid: int) -> None:
    data = b"".join(encode_reading(r, fid) for r in items)  # type: ignore[arg-type]
    out = parse_all(data)
    assert len(out) == len(items)
    assert all(_close(a, b) for a, b in zip(out, items, strict=True))


@given(st.lists(readings, min_size=1, max_size=6), st.lists(st.integers(1, 40), min_size=1, max_size=20))
@settings(max_examples=200, deadline=None)
def test_any_chunking_gives_the_same_readings(items: list[object], cuts: list[int]) -> None:
    data = b"".join(encode_reading(r) for r in items)  # type: ignore[arg-type]
    p = TinyFrameParser()
    out: list[object] = []
    pos, i = 0, 0
    while pos < len(data):
        step = cuts[i % len(cuts)]
        out += p.feed(data[pos : pos + step])
        pos += step
        i += 1
    assert out == parse_all(data)


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    p = TinyFrameParser()
    p.feed(data)
    p.feed(REAL_BREATH)
    assert p.stats.bytes_in == len(data) + len(REAL_BREATH)
