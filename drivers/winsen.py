"""Winsen-style UART gas modules: ZE07-CO, ZE08-CH2O, ZE15-CO, MH-Z19 CO₂ (protocols.md §5.1).

Fixed 9-byte frames at 9600 8N1, ``FF`` then 7 bytes then a checksum that is the two's
complement of the 8-bit sum of bytes 1..7. Active upload: FF, gas code, unit code,
decimals, concentration hi/lo, full scale hi/lo, checksum. Q&A reply: FF 86, concentration
hi/lo in bytes 2–3. Sources: esphome/esphome components/mhz19; the ZE07 and ZE08 libraries
quoted in protocols.md. The gas and unit codes beyond these are single-source there, so the
configuration names the gas and scale; the parser only reports what the bytes say.
"""

from __future__ import annotations

from eldergate.drivers.base import SKIP, BufferedParser
from eldergate.drivers.readings import GasConcentration, Reading

FRAME = 9
GAS_CO = 0x04  # ZE07/ZE15 active upload gas code as printed by their libraries [?]
GAS_CH2O = 0x17


def checksum(frame: bytes | bytearray) -> int:
    return (~sum(frame[1:8]) + 1) & 0xFF


class WinsenParser(BufferedParser):
    """``gas`` and ``scale`` come from the configuration (ZE07: CO at 0.1 ppm per count)."""

    markers = (b"\xff",)
    header_len = FRAME

    def __init__(self, gas: str = "co", scale: float = 0.1, unit: str = "ppm") -> None:
        super().__init__()
        self.gas, self.scale, self.unit = gas, scale, unit

    def cut(self, buf: bytearray, pos: int, out: list[Reading]) -> int:
        frame = buf[pos : pos + FRAME]
        if frame[1] == 0xFF:
            # no frame has FF after its start byte (a gas code or 86 follows): this FF was a stray
            # byte or a checksum, and the next may start the frame. Without this, a stray FF before
            # frames that end in FF misaligns every one of them whenever the shifted 8-bit checksum
            # happens to match (found by tests/test_stream_parsers.py's fuzzing)
            return SKIP
        if checksum(frame) != frame[8]:
            self.stats.bad_checksum += 1
            return SKIP
        self.stats.frames += 1
        value = (frame[4] << 8 | frame[5]) if frame[1] != 0x86 else (frame[2] << 8 | frame[3])
        out.append(GasConcentration(gas=self.gas, value=value * self.scale, unit=self.unit))
        return pos + FRAME


def _with_checksum(body: bytes) -> bytes:
    frame = bytearray(body[:8].ljust(8, b"\0"))
    return bytes(frame) + bytes([checksum(frame + b"\0")])


def encode_upload(gas_code: int, counts: int, full_scale: int = 5000) -> bytes:
    return _with_checksum(bytes([0xFF, gas_code, 0x02, 0x01, counts >> 8, counts & 0xFF,
                                 full_scale >> 8, full_scale & 0xFF]))


READ_COMMAND = bytes.fromhex("FF0186000000000079")  # verified in protocols.md §5.1
QA_MODE = bytes.fromhex("FF0178410000000046")
ACTIVE_MODE = bytes.fromhex("FF0178400000000047")
