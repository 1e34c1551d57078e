"""Real example frames from protocols.md, decoded field by field (53 59, LD2410, TI, Winsen)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from eldergate.drivers import ld2410, seeed_5359, ti_mmwave, winsen
from eldergate.drivers.readings import (
    DeviceFall,
    DeviceVitals,
    Distance,
    GasConcentration,
    Motion,
    Presence,
    Target,
    TargetHeight,
    Targets,
    Unknown,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# --- Seeed 53 59 (protocols.md §2.2) ----------------------------------------------------------
# Captured MR60BHA1 stream (DuncanIdahoCT/espresence-mr60bha1-mmwave-sensor project.md)
MR60BHA1_STREAM = [
    (h("53 59 01 01 00 01 0F BE 54 43"), Unknown(code=0x0101, payload=b"\x0f")),  # heartbeat
    (h("53 59 80 03 00 01 01 31 54 43"), Motion(state="active", energy=1.0)),
    (h("53 59 80 04 00 02 00 6B 9D 54 43"), Distance(distance_m=1.07)),
    (h("53 59 80 05 00 06 80 55 00 40 00 00 4C 54 43"), Targets(targets=(Target(id=0, x=-0.85, y=0.64, z=0.0),))),
    (h("53 59 85 05 00 05 81 82 89 86 80 CD 54 43"), seeed_5359.Waveform(signal="heart",
                                                                        samples=(0x81, 0x82, 0x89, 0x86, 0x80))),
    (h("53 59 85 02 00 01 59 8D 54 43"), DeviceVitals(heart_rate_bpm=89.0)),
    (h("53 59 80 01 00 01 01 2F 54 43"), Presence(present=True)),
    (h("53 59 80 01 00 01 00 2E 54 43"), Presence(present=False)),
]


def test_5359_real_frames_whole_bytewise_and_with_garbage() -> None:
    data = b"".join(f for f, _ in MR60BHA1_STREAM)
    expected = [r for _, r in MR60BHA1_STREAM]
    assert seeed_5359.Seeed5359Parser().feed(data) == expected
    p = seeed_5359.Seeed5359Parser()
    assert [r for b in data for r in p.feed(bytes([b]))] == expected
    p = seeed_5359.Seeed5359Parser()
    assert p.feed(b"SY\x53\x59\x80\x43\x43TC" + data) == expected
    assert p.stats.frames == len(expected)


def test_5359_bad_checksum_and_a_0x43_heart_rate() -> None:
    bad = bytearray(MR60BHA1_STREAM[5][0])
    bad[-3] ^= 1
    p = seeed_5359.Seeed5359Parser()
    assert p.feed(bytes(bad)) == [] and p.stats.bad_checksum == 1
    # 67 bpm is 0x43, which truncates frames in the Seeed libraries (§2.6); framing by LEN does not care
    assert seeed_5359.Seeed5359Parser().feed(seeed_5359.encode_reading(DeviceVitals(heart_rate_bpm=67))) == [
        DeviceVitals(heart_rate_bpm=67.0)]


def test_5359_queries_match_verified_bytes() -> None:
    assert h("53 59 02 A4 00 01 0F 62 54 43") == seeed_5359.QUERY_FIRMWARE
    assert h("53 59 84 0F 00 01 00 40 54 43") == seeed_5359.MR60BHA1_REALTIME_MODE
    assert h("53 59 08 00 00 01 01 B6 54 43") == seeed_5359.MR24HPC1_UNDERLYING_ON


def test_mr60fda1_fall_and_mr24hpc1_energy() -> None:
    fda1 = seeed_5359.Seeed5359Parser("mr60fda1")
    assert fda1.feed(seeed_5359.encode_frame(0x83, 0x01, b"\x01")) == [DeviceFall(fallen=True)]
    hpc = seeed_5359.Seeed5359Parser("mr24hpc1")
    e, presence, motion = hpc.feed(seeed_5359.encode_frame(0x08, 0x01, bytes([40, 3, 70, 4, 14])))
    assert isinstance(e, seeed_5359.MotionEnergy)
    assert presence == Presence(present=True) and motion == Motion(state="active")
    assert (e.static_energy, e.static_distance_m, e.motion_energy, e.motion_distance_m, e.speed_ms) == (
        40, 1.5, 70, 2.0, 2.0)
    # a reply to a query sets bit 7 of the command (80 81 for 80 01): same reading
    assert hpc.feed(seeed_5359.encode_frame(0x80, 0x81, b"\x01")) == [Presence(present=True)]


# --- LD2410 (protocols.md §3.2, §3.3) ---------------------------------------------------------
VENDOR_BASIC = h("F4 F3 F2 F1 0D 00 02 AA 02 51 00 00 00 00 3B 00 00 55 00 F8 F7 F6 F5")
TASMOTA_ENGINEERING = h("F4 F3 F2 F1 23 00 01 AA 00 1E 00 00 1E 00 0D 00 00 08 08 13 0E 07 02 05 07 03 04 05 00 00 "
                        "0D 06 05 05 05 05 05 62 00 55 00 F8 F7 F6 F5")
ENABLE_ACK = h("FD FC FB FA 08 00 FF 01 00 00 01 00 40 00 04 03 02 01")
PARAMS_ACK = h("FD FC FB FA 1C 00 61 01 00 00 AA 08 08 08 32 32 28 1E 14 0F 0F 0F 0F 00 00 28 28 1E 1E 14 14 14 "
               "05 00 04 03 02 01")
FIRMWARE_ACK = h("FD FC FB FA 0C 00 A0 01 00 00 00 01 07 01 16 15 09 22 04 03 02 01")


def test_ld2410_vendor_basic_frame() -> None:
    r, presence, motion = ld2410.LD2410Parser().feed(VENDOR_BASIC)
    assert isinstance(r, ld2410.LD2410Report)
    assert (r.target_state, r.moving_distance_m, r.moving_energy, r.still_energy) == (2, 0.81, 0, 59)
    assert r.present
    # and what it means, in the types the home reads (target state 2: someone still)
    assert presence == Presence(present=True) and isinstance(motion, Motion) and motion.state == "still"


def test_ld2410_engineering_frame_with_light_and_out() -> None:
    r = ld2410.LD2410Parser().feed(TASMOTA_ENGINEERING)[0]
    assert isinstance(r, ld2410.LD2410Report)
    assert r.moving_gates == (0x13, 0x0E, 0x07, 0x02, 0x05, 0x07, 0x03, 0x04, 0x05)
    assert r.still_gates == (0, 0, 0x0D, 6, 5, 5, 5, 5, 5)
    assert (r.light, r.out_pin) == (0x62, 0)


def test_ld2410_acks_interleaved_with_reports_and_bytewise() -> None:
    data = VENDOR_BASIC + ENABLE_ACK + TASMOTA_ENGINEERING + PARAMS_ACK + FIRMWARE_ACK + VENDOR_BASIC
    whole = ld2410.LD2410Parser().feed(data)
    p = ld2410.LD2410Parser()
    assert [r for b in data for r in p.feed(bytes([b]))] == whole
    kinds = [type(r).__name__ for r in whole if not isinstance(r, Presence | Motion)]
    assert kinds == ["LD2410Report", "LD2410Ack", "LD2410Report", "LD2410Ack", "LD2410Ack", "LD2410Report"]
    ack = [r for r in whole if isinstance(r, ld2410.LD2410Ack)][2]
    assert isinstance(ack, ld2410.LD2410Ack) and ack.ok
    info = ld2410.firmware_version(ack)
    assert info is not None and info.text == "V1.07.22091516"  # Tasmota's decoding of this reply


def test_ld2410_commands_match_vendor_examples_and_bad_tail_is_skipped() -> None:
    assert h("FD FC FB FA 04 00 FF 00 01 00 04 03 02 01") == ld2410.ENABLE_CONFIG
    assert h("FD FC FB FA 02 00 FE 00 04 03 02 01") == ld2410.END_CONFIG
    assert h("FD FC FB FA 02 00 62 00 04 03 02 01") == ld2410.ENGINEERING_ON
    broken = VENDOR_BASIC[:-1] + b"\x00"
    p = ld2410.LD2410Parser()
    reports = [r for r in p.feed(broken + VENDOR_BASIC) if isinstance(r, ld2410.LD2410Report)]
    assert len(reports) == 1 and p.stats.bad_checksum == 1 and p.stats.frames == 1


# --- TI mmWave (protocols.md §4) --------------------------------------------------------------
TI_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ti_vitalsigns_uart" / "vs68xx_first300frames.bin"


@pytest.mark.skipif(not TI_FILE.exists(), reason="../shared/data is not present (it is never committed)")
def test_ti_capture_every_frame_decoded_exactly() -> None:
    data = TI_FILE.read_bytes()
    p = ti_mmwave.TiMmwaveParser()
    out = p.feed(data) + p.flush()
    assert len(out) == 300 and all(isinstance(r, ti_mmwave.TiVitalSigns) for r in out)
    assert p.stats.dropped_bytes == 0 and p.stats.malformed == 0
    first = out[0]
    assert isinstance(first, ti_mmwave.TiVitalSigns)
    assert first.frame == 663 and first.range_bin == 15 and (first.range_bin_start, first.range_bin_end) == (11, 33)
    assert first.value == pytest.approx(39.3006, abs=1e-4) and first.unit == "mm"
    assert first.heart_rate_fft == pytest.approx(76.171875) and first.breathing_rate_fft == pytest.approx(19.921875)
    assert not first.motion_detected
    frames = [r.frame for r in out if isinstance(r, ti_mmwave.TiVitalSigns)]
    assert frames == list(range(663, 963))
    # every frame's phase is the float at byte 56 of its 256-byte slot, as TI's MATLAB parser reads it
    phases = [struct.unpack_from("<f", data, 256 * i + 64)[0] for i in range(300)]
    assert [r.value for r in out if isinstance(r, ti_mmwave.TiVitalSigns)] == phases
    q = ti_mmwave.TiMmwaveParser()
    assert [r for i in range(0, len(data), 333) for r in q.feed(data[i : i + 333])] + q.flush() == out


def _legacy_header(size: int, tlvs: bytes, ntlv: int, frame: int = 5) -> bytes:
    total = size + len(tlvs)
    if size == 48:
        words = struct.pack("<IIIIIIIII", 0x01000000, total, 0xA6843, frame, 0, 0, 0, 0, 0) + struct.pack("<H", ntlv)
    else:
        words = struct.pack("<IIIIIIIIII", 0x01000000, 0xA1642, 0, total, frame, 0, 0, 0, 0, 0) + struct.pack(
            "<H", ntlv)
    head = ti_mmwave.MAGIC + words
    s = sum(struct.unpack(f"<{len(head) // 2}H", head))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return head + struct.pack("<H", ~s & 0xFFFF) + tlvs


def test_ti_header_variants_and_tracking_tlvs() -> None:
    tgt = (Target(id=3, x=0.5, y=2.0, z=1.1, vx=0.1, vy=-0.2, vz=-1.5),)
    # 48-byte legacy people counting: TLV lengths include their 8-byte header, target list is type 7
    payload = ti_mmwave.targets_payload(tgt)
    legacy = _legacy_header(48, struct.pack("<II", 7, len(payload) + 8) + payload, 1)
    assert ti_mmwave.parse_header(legacy, 0) is not None and ti_mmwave.parse_header(legacy, 0).size == 48  # type: ignore[union-attr]
    (tr,) = ti_mmwave.TiMmwaveParser().feed(legacy + ti_mmwave.MAGIC)
    assert isinstance(tr, Targets) and tr.targets[0].id == 3 and tr.targets[0].vz == pytest.approx(-1.5)
    legacy52 = _legacy_header(52, struct.pack("<II", 8, 8 + 3) + b"\x03\x03\xff", 1)
    idx, nobody = ti_mmwave.TiMmwaveParser().feed(legacy52 + ti_mmwave.MAGIC)
    assert isinstance(idx, ti_mmwave.TargetIndex) and idx.indices == (3, 3, 255)
    assert nobody == Targets(targets=())  # a tracking frame with no target list: nobody tracked
    # 40-byte Radar Toolbox: targets 1010, heights 1012, presence 1021, vitals with tracking 1040
    vitals = struct.pack("<HHfff", 3, 20, 0.5, 68.0, 14.0) + b"\0" * 120
    frame = ti_mmwave.encode_frame([(1010, payload), (1012, ti_mmwave.height_payload([(3, 1.7, 0.2)])),
                                    (1021, struct.pack("<I", 1)), (1040, vitals)])
    out = ti_mmwave.TiMmwaveParser().feed(frame + frame)
    assert [type(r) for r in out[:4]] == [Targets, TargetHeight, Presence, DeviceVitals]
    assert out[1] == TargetHeight(height_m=pytest.approx(1.7), target_id=3)
    assert out[3] == DeviceVitals(heart_rate_bpm=68.0, breathing_rate_bpm=14.0)


def test_ti_tracking_frames_without_targets_say_nobody_is_tracked() -> None:
    # The Radar Toolbox's people tracking sends no 1010/1011/1012 when it tracks nobody
    # (numTargets > 0 guard, mss_main.c) and, in an empty room with no points, no TLV at all.
    tgt = (Target(id=3, x=0.5, y=2.0, z=1.1),)
    parser = ti_mmwave.TiMmwaveParser()
    tracked = ti_mmwave.encode_frame([(1010, ti_mmwave.targets_payload(tgt))], frame_number=1)
    units = struct.pack("<5f", 0.01, 0.01, 0.1, 0.01, 0.1)
    points_only = ti_mmwave.encode_frame([(1020, units + struct.pack("<bbhHH", 0, 0, -3, 250, 40))], frame_number=2)
    empty = ti_mmwave.encode_frame([], frame_number=3)
    out = parser.feed(tracked + points_only + empty + empty + ti_mmwave.MAGIC)
    targets = [r for r in out if isinstance(r, Targets)]
    assert [len(r.targets) for r in targets] == [1, 0, 0, 0]  # one reading per frame: supervision sees frames
    # a vital-signs stream is no tracker: its frames stay what they are
    vs = ti_mmwave.TiMmwaveParser().feed(ti_mmwave.encode_frame([(6, b"\0" * 128)]) + ti_mmwave.MAGIC)
    assert not any(isinstance(r, Targets) for r in vs)


def test_ti_point_clouds_sdk2_sdk3_and_compressed() -> None:
    # protocols.md §4.4: first point of an SDK 3.3 OOB capture, bytes CA 48 9C 3C EE 48 AE 3D 00...
    sdk3 = ti_mmwave.encode_frame([(1, h("CA 48 9C 3C EE 48 AE 3D 00 00 00 00 00 00 00 00"))], version=0x03030002)
    (pc,) = ti_mmwave.TiMmwaveParser().feed(sdk3 + ti_mmwave.MAGIC)
    assert isinstance(pc, ti_mmwave.PointCloud)
    assert pc.points[0].x == pytest.approx(0.019, abs=5e-4) and pc.points[0].y == pytest.approx(0.085, abs=5e-4)
    sdk2 = ti_mmwave.encode_frame([(1, struct.pack("<HH", 1, 7) + struct.pack("<HhHhhh", 10, -2, 99, 128, 256, -64))],
                                  version=0x02000004, platform=0xA1642)
    (pc2,) = ti_mmwave.TiMmwaveParser().feed(sdk2 + ti_mmwave.MAGIC)
    assert isinstance(pc2, ti_mmwave.PointCloud) and pc2.points[0].x == 1.0 and pc2.points[0].z == -0.5
    units = struct.pack("<5f", 0.01, 0.01, 0.1, 0.01, 0.1)
    comp = ti_mmwave.encode_frame([(1020, units + struct.pack("<bbhHH", 0, 0, -3, 250, 40))])
    pc3, nobody = ti_mmwave.TiMmwaveParser().feed(comp + ti_mmwave.MAGIC)
    assert isinstance(pc3, ti_mmwave.PointCloud) and nobody == Targets(targets=())
    assert pc3.points[0].y == pytest.approx(2.5) and pc3.points[0].doppler == pytest.approx(-0.3)


def test_ti_header_on_a_1443_is_36_bytes_and_tlvs_are_bound_checked() -> None:
    body = struct.pack("<II", 1021, 4) + struct.pack("<I", 1)
    frame = ti_mmwave.MAGIC + struct.pack("<7I", 0x02000004, 36 + len(body), 0xA1443, 1, 0, 0, 1) + body
    assert ti_mmwave.parse_header(frame, 0).size == 36  # type: ignore[union-attr]
    assert ti_mmwave.TiMmwaveParser().feed(frame + ti_mmwave.MAGIC) == [Presence(present=True)]
    lying = ti_mmwave.encode_frame([(1012, ti_mmwave.height_payload([(1, 1.0, 0.0)]))])
    lying = lying[:48] + struct.pack("<I", 4000) + lying[52:]  # a TLV length past the frame's end
    p = ti_mmwave.TiMmwaveParser()
    p.feed(lying + ti_mmwave.MAGIC)
    assert p.stats.frames == 1  # decoded what was there, never read past the frame


def test_chirp_config_lines() -> None:
    cfg = "% comment\nsensorStop\n\nflushCfg\nchannelCfg 15 7 0 % trailing\nsensorStart\n"
    assert ti_mmwave.chirp_config_lines(cfg) == ["sensorStop", "flushCfg", "channelCfg 15 7 0", "sensorStart"]


# --- Winsen (protocols.md §5.1) ---------------------------------------------------------------
def test_winsen_commands_and_frames() -> None:
    for cmd, ck in ((winsen.READ_COMMAND, 0x79), (winsen.QA_MODE, 0x46), (winsen.ACTIVE_MODE, 0x47)):
        assert winsen.checksum(cmd) == ck == cmd[-1]
    p = winsen.WinsenParser(gas="co", scale=0.1)
    frame = winsen.encode_upload(winsen.GAS_CO, 456)
    assert p.feed(b"\xff\x00junk" + frame) == [GasConcentration(gas="co", value=pytest.approx(45.6), unit="ppm")]
    bad = frame[:-1] + bytes([frame[-1] ^ 1])
    assert p.feed(bad) == [] and p.stats.bad_checksum >= 1
    qa = bytes([0xFF, 0x86, 0x01, 0x2C, 0, 0, 0, 0])
    qa += bytes([winsen.checksum(qa + b"\0")])
    assert p.feed(qa) == [GasConcentration(gas="co", value=pytest.approx(30.0), unit="ppm")]
