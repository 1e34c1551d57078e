"""Hi-Link LD2410 / LD2410B / LD2410C report and command/ACK frames (protocols.md §3).

Report:  F4 F3 F2 F1 | LEN u16 LE (13 basic, 35 engineering, 37 with light/OUT) | type | AA |
         data | 55 00 | F8 F7 F6 F5
Command: FD FC FB FA | LEN u16 LE | command u16 LE | value | 04 03 02 01; an ACK echoes the
         command word OR 0x0100, then a u16 status (0 = ok) and the returned data.

There is no checksum: a frame is trusted on its header, a length of a known size, the
0xAA head, the 0x55 0x00 pair and the tail (ESPHome lost sync by trusting tails only,
§3.4). Data and ACK frames interleave on the wire. Sources: esphome/esphome
components/ld2410, morian/aio-ld2410 protocol docs, arendst/Tasmota xsns_102_ld2410.ino.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Literal

from eldergate.drivers.base import MORE, SKIP, BufferedParser
from eldergate.drivers.readings import DeviceInfo, Motion, Presence, Reading, Unknown

DATA_HEAD, DATA_TAIL = b"\xf4\xf3\xf2\xf1", b"\xf8\xf7\xf6\xf5"
CMD_HEAD, CMD_TAIL = b"\xfd\xfc\xfb\xfa", b"\x04\x03\x02\x01"
MAX_CMD_LEN = 64


@dataclass(frozen=True, slots=True)
class LD2410Report(Reading):
    kind: ClassVar[str] = "ld2410_report"
    target_state: int  # 0 none, 1 moving, 2 stationary, 3 both; 4–6 noise calibration (V1.07)
    moving_distance_m: float
    moving_energy: int
    still_distance_m: float
    still_energy: int
    detection_distance_m: float
    moving_gates: tuple[int, ...] = ()
    still_gates: tuple[int, ...] = ()
    light: int | None = None
    out_pin: int | None = None

    @property
    def present(self) -> bool:
        return self.target_state in (1, 2, 3)


@dataclass(frozen=True, slots=True)
class LD2410Ack(Reading):
    kind: ClassVar[str] = "ld2410_ack"
    command: int
    ok: bool
    data: bytes


def common_readings(r: Reading) -> list[Reading]:
    """A report, and what it means in the common types the home pipeline reads (it never sees
    the LD2410's own target-state codes): someone present, and moving or still."""
    if not isinstance(r, LD2410Report):
        return [r]
    state: Literal["none", "still", "active"] = (
        "active" if r.target_state in (1, 3) else "still" if r.target_state == 2 else "none")
    return [r, Presence(present=r.present), Motion(state=state, energy=float(r.moving_energy))]


class LD2410Parser(BufferedParser):
    markers = (DATA_HEAD, CMD_HEAD)
    header_len = 6

    def cut(self, buf: bytearray, pos: int, out: list[Reading]) -> int:
        length: int = struct.unpack_from("<H", buf, pos + 4)[0]
        is_data = buf[pos : pos + 4] == DATA_HEAD
        if (is_data and length not in (13, 35, 37)) or (not is_data and not 2 <= length <= MAX_CMD_LEN):
            self.stats.bad_length += 1
            return SKIP
        end = pos + 6 + length + 4
        if len(buf) < end:
            return MORE
        body = bytes(buf[pos + 6 : pos + 6 + length])
        tail = bytes(buf[end - 4 : end])
        reading = self._decode(is_data, body) if tail == (DATA_TAIL if is_data else CMD_TAIL) else None
        if reading is None:
            self.stats.bad_checksum += 1  # no checksum here: the constants are the check
            return SKIP
        self.stats.frames += 1
        out += common_readings(reading)
        return end

    def _decode(self, is_data: bool, body: bytes) -> Reading | None:
        if not is_data:
            cmd = struct.unpack_from("<H", body)[0]
            if not cmd & 0x0100 or len(body) < 4:
                return Unknown(code=cmd, payload=body)  # a command echoed back, not an ACK
            status = struct.unpack_from("<H", body, 2)[0]
            return LD2410Ack(command=cmd & 0xFEFF, ok=status == 0, data=body[4:])
        if body[1] != 0xAA or body[-2:] != b"\x55\x00" or body[0] not in (0x01, 0x02):
            return None
        state, md, me, sd, se, dd = struct.unpack_from("<BHBHBH", body, 2)
        report = dict(target_state=state, moving_distance_m=md / 100, moving_energy=me,
                      still_distance_m=sd / 100, still_energy=se, detection_distance_m=dd / 100)
        if body[0] == 0x01:  # engineering: max gates, 9 + 9 gate energies, then light and OUT
            n_move, n_still = body[11], body[12]
            if n_move > 8 or n_still > 8:
                return None
            moving = tuple(body[13 : 13 + n_move + 1])
            still = tuple(body[13 + n_move + 1 : 13 + n_move + 1 + n_still + 1])
            extra = body[13 + n_move + n_still + 2 : -2]
            return LD2410Report(**report, moving_gates=moving, still_gates=still,
                                light=extra[0] if len(extra) >= 2 else None,
                                out_pin=extra[1] if len(extra) >= 2 else None)
        return LD2410Report(**report)


def command_frame(command: int, value: bytes = b"") -> bytes:
    body = struct.pack("<H", command) + value
    return CMD_HEAD + struct.pack("<H", len(body)) + body + CMD_TAIL


def ack_frame(command: int, status: int = 0, data: bytes = b"") -> bytes:
    body = struct.pack("<HH", command | 0x0100, status) + data
    return CMD_HEAD + struct.pack("<H", len(body)) + body + CMD_TAIL


ENABLE_CONFIG = command_frame(0x00FF, b"\x01\x00")
END_CONFIG = command_frame(0x00FE)
ENGINEERING_ON = command_frame(0x0062)
ENGINEERING_OFF = command_frame(0x0063)
READ_FIRMWARE = command_frame(0x00A0)
# every command is wrapped in enable ... end configuration (§3.3)
STARTUP = (ENABLE_CONFIG, READ_FIRMWARE, ENGINEERING_ON, END_CONFIG)


def firmware_version(ack: LD2410Ack) -> DeviceInfo | None:
    """Decode the firmware ACK: type u16, major, minor, then a u32 build (Tasmota's reading)."""
    if ack.command != 0x00A0 or len(ack.data) < 8:
        return None
    minor, major = ack.data[2], ack.data[3]
    build = struct.unpack_from("<I", ack.data, 4)[0]
    return DeviceInfo(text=f"V{major}.{minor:02d}.{build:08X}")


def encode_report(r: LD2410Report) -> bytes:
    head = struct.pack("<BHBHBH", r.target_state, round(r.moving_distance_m * 100), r.moving_energy,
                       round(r.still_distance_m * 100), r.still_energy, round(r.detection_distance_m * 100))
    if r.moving_gates or r.still_gates:
        eng = bytes([len(r.moving_gates) - 1, len(r.still_gates) - 1]) + bytes(r.moving_gates) + bytes(r.still_gates)
        if r.light is not None:
            eng += bytes([r.light, r.out_pin or 0])
        body = b"\x01\xaa" + head + eng + b"\x55\x00"
    else:
        body = b"\x02\xaa" + head + b"\x55\x00"
    return DATA_HEAD + struct.pack("<H", len(body)) + body + DATA_TAIL
