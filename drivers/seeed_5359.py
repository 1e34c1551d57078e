"""Seeed "53 59" protocol: MR60BHA1, MR60FDA1, MR24HPC1 (protocols.md §2).

    53 59 | control | command | LEN u16 BE | DATA | SUM | 54 43

SUM is the low byte of the sum of every byte before it (header included). Frames are
found by header and LEN, never by the tail or by a 0x43 byte (the Seeed Arduino
libraries' readBytesUntil(0x43) truncates a heart rate of 67 bpm, §2.6). LEN is capped
at 32 as ESPHome does. Queries carry a dummy 0x0F; replies set bit 7 of the command.
Sources: esphome/esphome components/seeed_mr24hpc1, limengdu/Seeed-Studio-MR60BHA1-Sensor,
Seeed-Studio/wiki-documents Radar_MR60BHA1.md and Radar_MR60FDA1.md.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Literal

from eldergate.drivers.base import MORE, SKIP, BufferedParser
from eldergate.drivers.readings import (
    BedOccupancy,
    DeviceFall,
    DeviceInfo,
    DeviceVitals,
    Distance,
    Motion,
    Presence,
    Reading,
    Target,
    Targets,
    Unknown,
)

HEAD = b"\x53\x59"
TAIL = b"\x54\x43"
MAX_LEN = 32
Model = Literal["mr60bha1", "mr60fda1", "mr24hpc1"]


@dataclass(frozen=True, slots=True)
class Waveform(Reading):
    """Five samples a second of the device's breathing or heart waveform, centred on 128."""

    kind: ClassVar[str] = "waveform"
    raw_waveform: ClassVar[bool] = True
    signal: Literal["breath", "heart"]
    samples: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MotionEnergy(Reading):
    """MR24HPC1 engineering output: energies (0–100) and distances (m) of still and moving targets."""

    kind: ClassVar[str] = "motion_energy"
    static_energy: int
    static_distance_m: float
    motion_energy: int
    motion_distance_m: float
    speed_ms: float


def checksum(data: bytes | bytearray) -> int:
    return sum(data) & 0xFF


def encode_frame(control: int, command: int, data: bytes) -> bytes:
    body = HEAD + bytes([control, command]) + struct.pack(">H", len(data)) + data
    return body + bytes([checksum(body)]) + TAIL


def _sign_magnitude(v: int) -> int:
    return -(v & 0x7FFF) if v & 0x8000 else v


def _to_sign_magnitude(v: int) -> int:
    return (0x8000 | (-v & 0x7FFF)) if v < 0 else v & 0x7FFF


_MOTION = {0: "none", 1: "still", 2: "active"}


class Seeed5359Parser(BufferedParser):
    markers = (HEAD,)
    header_len = 6

    def __init__(self, model: Model = "mr60bha1") -> None:
        super().__init__()
        self.model = model

    def cut(self, buf: bytearray, pos: int, out: list[Reading]) -> int:
        length = (buf[pos + 4] << 8) | buf[pos + 5]
        if length > MAX_LEN:
            self.stats.bad_length += 1
            return SKIP
        end = pos + 6 + length + 3
        if len(buf) < end:
            return MORE
        frame = buf[pos:end]
        if checksum(frame[: 6 + length]) != frame[6 + length] or frame[-2:] != TAIL:
            self.stats.bad_checksum += 1
            return SKIP
        out += self._decode(frame[2], frame[3], bytes(frame[6 : 6 + length]))
        return end

    def _decode(self, control: int, command: int, data: bytes) -> list[Reading]:
        try:
            readings = decode_payload(control, command & 0x7F, data, self.model)
        except (IndexError, struct.error, KeyError):
            self.stats.malformed += 1
            return []
        self.stats.frames += 1
        if not readings or isinstance(readings[0], Unknown):
            self.stats.unknown += 1
            return readings or [Unknown(code=(control << 8) | command, payload=data)]
        return readings


def decode_payload(control: int, command: int, data: bytes, model: Model) -> list[Reading]:
    """Decode DATA by (control, command without the reply bit). Raises on short data."""
    key = (control, command)
    if key == (0x80, 0x01):
        return [Presence(present=data[0] == 1)]
    if key == (0x80, 0x02):
        return [Motion(state=_MOTION[data[0]])]  # type: ignore[arg-type]
    if key == (0x80, 0x03):
        return [Motion(state="active" if data[0] > 0 else "still", energy=float(data[0]))]
    if key == (0x80, 0x04):
        return [Distance(distance_m=struct.unpack(">H", data[:2])[0] / 100.0)]
    if key == (0x80, 0x05):
        x, y, z = (_sign_magnitude(v) / 100.0 for v in struct.unpack(">HHH", data[:6]))
        return [Targets(targets=(Target(id=0, x=x, y=y, z=z),))]
    if key == (0x81, 0x02):
        return [DeviceVitals(breathing_rate_bpm=float(data[0]) or None)]
    if key == (0x85, 0x02):
        return [DeviceVitals(heart_rate_bpm=float(data[0]) or None)]
    if key in ((0x81, 0x05), (0x85, 0x05)):
        return [Waveform(signal="breath" if control == 0x81 else "heart", samples=tuple(data[:5]))]
    if key == (0x84, 0x01):
        in_bed = {0: False, 1: True}.get(data[0])  # 2: no one / unknown
        return [BedOccupancy(in_bed=in_bed)] if in_bed is not None else []
    if key == (0x83, 0x01):
        return [DeviceFall(fallen=data[0] == 1)]
    if key == (0x83, 0x05):
        return [Presence(present=data[0] == 1)]  # stationary residence
    if key == (0x08, 0x01) and model == "mr24hpc1":
        se, sd, me, md, v = data[:5]
        return _with_meaning(MotionEnergy(static_energy=se, static_distance_m=sd * 0.5, motion_energy=me,
                                          motion_distance_m=md * 0.5, speed_ms=(v - 10) * 0.5))
    if control == 0x02 and command in (0x21, 0x22, 0x23, 0x24):
        return [DeviceInfo(text=data.decode("ascii", "replace"))]
    return [Unknown(code=(control << 8) | command, payload=data)]


def _with_meaning(e: MotionEnergy) -> list[Reading]:
    """Engineering energies, and what they mean in the common types the home pipeline reads:
    someone present when either energy is above zero, moving when the motion energy is."""
    state: Literal["none", "still", "active"] = (
        "active" if e.motion_energy > 0 else "still" if e.static_energy > 0 else "none")
    return [e, Presence(present=e.static_energy > 0 or e.motion_energy > 0), Motion(state=state)]


def encode_reading(r: Reading) -> bytes:
    """The frame an emulated 53-59 device sends for a reading."""
    if isinstance(r, Presence):
        return encode_frame(0x80, 0x01, bytes([1 if r.present else 0]))
    if isinstance(r, Motion):
        if r.energy is not None:
            return encode_frame(0x80, 0x03, bytes([round(r.energy)]))
        return encode_frame(0x80, 0x02, bytes([{"none": 0, "still": 1, "active": 2}[r.state]]))
    if isinstance(r, Distance):
        return encode_frame(0x80, 0x04, struct.pack(">H", round((r.distance_m or 0.0) * 100)))
    if isinstance(r, Targets) and r.targets:
        tg = r.targets[0]
        vals = (_to_sign_magnitude(round(v * 100)) for v in (tg.x, tg.y, tg.z or 0.0))
        return encode_frame(0x80, 0x05, struct.pack(">HHH", *vals))
    if isinstance(r, DeviceVitals):
        if r.heart_rate_bpm is not None:
            return encode_frame(0x85, 0x02, bytes([round(r.heart_rate_bpm)]))
        return encode_frame(0x81, 0x02, bytes([round(r.breathing_rate_bpm or 0)]))
    if isinstance(r, Waveform):
        return encode_frame(0x81 if r.signal == "breath" else 0x85, 0x05, bytes(r.samples))
    if isinstance(r, BedOccupancy):
        return encode_frame(0x84, 0x01, bytes([1 if r.in_bed else 0]))
    if isinstance(r, DeviceFall):
        return encode_frame(0x83, 0x01, bytes([1 if r.fallen else 0]))
    if isinstance(r, MotionEnergy):
        return encode_frame(0x08, 0x01, bytes([r.static_energy, round(r.static_distance_m * 2), r.motion_energy,
                                               round(r.motion_distance_m * 2), round(r.speed_ms * 2 + 10)]))
    raise TypeError(f"the 53-59 family has no frame for {type(r).__name__}")


# Host queries (verified in protocols.md §2.2)
QUERY_FIRMWARE = encode_frame(0x02, 0xA4, b"\x0f")
MR60BHA1_REALTIME_MODE = encode_frame(0x84, 0x0F, b"\x00")
MR24HPC1_UNDERLYING_ON = encode_frame(0x08, 0x00, b"\x01")
