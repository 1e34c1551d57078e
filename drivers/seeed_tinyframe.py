"""Seeed MR60BHA2 / MR60FDA2 (Hi-Link LD6002 family, "TinyFrame"-style) parser and encoder.

Frame (protocols.md §1.2; Love4yzp/Seeed-mmWave-library src/SeeedmmWave.cpp,
esphome/esphome components/seeed_mr60bha2):

    SOF 0x01 | ID u16 BE | LEN u16 BE | TYPE u16 BE | HEAD_CKSUM | DATA (LEN, LE scalars) | DATA_CKSUM

Both checksums are the bitwise NOT of the XOR of the bytes they cover. There is no byte
stuffing, so 0x01 appears inside float payloads: a candidate frame is trusted only after
its header checksum and a LEN bound pass, and a failure restarts the scan one byte after
the false start (§1.5). Zero-length frames are accepted with or without a trailing
DATA_CKSUM (the sources disagree, §1.2).
"""

from __future__ import annotations

import struct

from eldergate.drivers.base import MORE, SKIP, BufferedParser, xor_all
from eldergate.drivers.readings import (
    ChestDisplacement,
    DeviceFall,
    DeviceInfo,
    DeviceVitals,
    Distance,
    Presence,
    Reading,
    Target,
    TargetHeight,
    Targets,
    Unknown,
)

SOF = 0x01
HEADER_LEN = 8
MAX_DATA_LEN = 512  # the Seeed library's own cap (§1.2)

# Report types (§1.3, §1.4)
T_PHASE = 0x0A13
T_BREATH_RATE = 0x0A14
T_HEART_RATE = 0x0A15
T_DISTANCE = 0x0A16
T_TARGETS = 0x0A04
T_TARGETS_DETECT = 0x0A08
T_PRESENCE = 0x0F09
T_FALL = 0x0E02
T_HEIGHT = 0x0E0E
T_FIRMWARE = 0xFFFF

# Doppler index to m/s: 17.28 cm/s per index (§1.3, Seeed library).
DOPPLER_STEP_MS = 0.1728


def checksum(data: bytes | bytearray | memoryview) -> int:
    return (~xor_all(data)) & 0xFF


class TinyFrameParser(BufferedParser):
    """Streaming parser for MR60BHA2 and MR60FDA2 reports."""

    markers = (bytes([SOF]),)
    header_len = HEADER_LEN

    def cut(self, buf: bytearray, pos: int, out: list[Reading]) -> int:
        header = buf[pos : pos + HEADER_LEN]
        if checksum(header[:7]) != header[7]:
            return SKIP  # a SOF byte inside other data: not counted as a bad frame
        length = (header[3] << 8) | header[4]
        if length > MAX_DATA_LEN:
            self.stats.bad_length += 1
            return SKIP
        ftype = (header[5] << 8) | header[6]
        if length == 0:
            # Optional trailing 0xFF (NOT of an empty XOR): swallow it when present.
            end = pos + HEADER_LEN
            if len(buf) > end and buf[end] == 0xFF:
                end += 1
            out += self._decode(ftype, b"")
            return end
        end = pos + HEADER_LEN + length + 1
        if len(buf) < end:
            return MORE
        data = bytes(buf[pos + HEADER_LEN : end - 1])
        if checksum(data) != buf[end - 1]:
            self.stats.bad_checksum += 1
            return SKIP
        out += self._decode(ftype, data)
        return end

    def _decode(self, ftype: int, data: bytes) -> list[Reading]:
        try:
            readings = decode_payload(ftype, data)
        except (struct.error, ValueError):
            self.stats.malformed += 1
            return []
        self.stats.frames += 1
        if readings and isinstance(readings[0], Unknown):
            self.stats.unknown += 1
        return readings


def _f32(data: bytes, offset: int = 0) -> float:
    return float(struct.unpack_from("<f", data, offset)[0])


def _rate(value: float) -> float | None:
    # 0.0 means "no valid value" (§1.3, §6.4)
    return value if value > 0.0 else None


def decode_payload(ftype: int, data: bytes) -> list[Reading]:
    """Decode one frame's DATA by its TYPE. Raises struct.error/ValueError when too short."""
    if ftype == T_PHASE:
        total, breath, heart = struct.unpack_from("<fff", data)
        return [ChestDisplacement(value=total, unit="rad", breath=breath, heart=heart)]
    if ftype == T_BREATH_RATE:
        return [DeviceVitals(breathing_rate_bpm=_rate(_f32(data)))]
    if ftype == T_HEART_RATE:
        return [DeviceVitals(heart_rate_bpm=_rate(_f32(data)))]
    if ftype == T_DISTANCE:
        # flag first, then range in cm; older firmware sends the flag only (§1.3, §1.5)
        flag = struct.unpack_from("<I", data)[0]
        if flag == 0 or len(data) < 8:
            return [Distance(distance_m=None)]
        return [Distance(distance_m=_f32(data, 4) / 100.0)]
    if ftype == T_PRESENCE:
        if not data:
            raise ValueError("empty presence")
        return [Presence(present=any(data))]  # 1, 2 or 4 bytes by firmware: any non-zero
    if ftype in (T_TARGETS, T_TARGETS_DETECT):
        count = struct.unpack_from("<I", data)[0]
        if count > 16 or len(data) < 4 + 16 * count:
            raise ValueError("bad target count")
        targets = []
        for i in range(count):
            x, y, dop, cid = struct.unpack_from("<ffii", data, 4 + 16 * i)
            targets.append(Target(id=cid, x=x, y=y, vy=dop * DOPPLER_STEP_MS))
        if ftype == T_TARGETS_DETECT:
            return [Unknown(code=ftype, payload=data)]
        return [Targets(targets=tuple(targets))]
    if ftype == T_FALL:
        if not data:
            raise ValueError("empty fall")
        return [DeviceFall(fallen=data[0] == 1)]
    if ftype == T_HEIGHT:
        return [TargetHeight(height_m=_f32(data))]
    if ftype == T_FIRMWARE:
        return [DeviceInfo(text=data.hex())]
    return [Unknown(code=ftype, payload=data)]


# --- encoding (emulators and host commands) ----------------------------------------------


def encode_frame(ftype: int, data: bytes, frame_id: int = 0) -> bytes:
    header = struct.pack(">BHHH", SOF, frame_id & 0xFFFF, len(data), ftype)
    header += bytes([checksum(header)])
    if not data:
        return header  # host command style: no DATA_CKSUM (§1.2)
    return header + data + bytes([checksum(data)])


def encode_reading(reading: Reading, frame_id: int = 0) -> bytes:
    """Encode a reading as the frame the device would send. Raises TypeError if it cannot."""
    ftype, data = _payload_for(reading)
    return encode_frame(ftype, data, frame_id)


def _payload_for(r: Reading) -> tuple[int, bytes]:
    if isinstance(r, ChestDisplacement):
        return T_PHASE, struct.pack("<fff", r.value, r.breath or 0.0, r.heart or 0.0)
    if isinstance(r, DeviceVitals):
        if r.heart_rate_bpm is not None or r.breathing_rate_bpm is None:
            return T_HEART_RATE, struct.pack("<f", r.heart_rate_bpm or 0.0)
        return T_BREATH_RATE, struct.pack("<f", r.breathing_rate_bpm)
    if isinstance(r, Distance):
        if r.distance_m is None:
            return T_DISTANCE, struct.pack("<If", 0, 0.0)
        return T_DISTANCE, struct.pack("<If", 1, r.distance_m * 100.0)
    if isinstance(r, Presence):
        return T_PRESENCE, bytes([1 if r.present else 0])
    if isinstance(r, Targets):
        data = struct.pack("<I", len(r.targets))
        for tg in r.targets:
            dop = round((tg.vy or 0.0) / DOPPLER_STEP_MS)
            data += struct.pack("<ffii", tg.x, tg.y, dop, tg.id)
        return T_TARGETS, data
    if isinstance(r, DeviceFall):
        return T_FALL, bytes([1 if r.fallen else 0])
    if isinstance(r, TargetHeight):
        return T_HEIGHT, struct.pack("<f", r.height_m)
    if isinstance(r, Unknown):
        return r.code, r.payload
    raise TypeError(f"the MR60 family has no frame for {type(r).__name__}")


# Host commands (esphome seeed_mr60fda2.cpp; verified bytes in protocols.md §1.2)
CMD_GET_PARAMETERS = encode_frame(0x0E06, b"")
CMD_ENABLE_HEIGHT_UPLOAD = encode_frame(0x0E0E, b"", frame_id=0x8000)


def cmd_set_install_height(height_m: float) -> bytes:
    return encode_frame(0x0E04, struct.pack("<f", height_m))
