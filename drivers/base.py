"""What every protocol parser shares: counters and the two parser interfaces.

A parser is sans-IO: bytes (or an MQTT message) in, readings out. It never raises on bad
input; it drops what it cannot use and counts it, so health reporting can say why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar, Protocol

from eldergate.drivers.readings import Reading


@dataclass(slots=True)
class ParserStats:
    frames: int = 0  # well-formed frames decoded
    bytes_in: int = 0
    dropped_bytes: int = 0  # bytes skipped while hunting for a frame start
    bad_checksum: int = 0
    bad_length: int = 0  # length fields over the protocol's cap
    malformed: int = 0  # frames or messages well-framed but not decodable
    unknown: int = 0  # well-formed frames of an undecoded type

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


class StreamParser(Protocol):
    """A byte-stream protocol (UART). Keeps its own buffer across calls."""

    stats: ParserStats

    def feed(self, chunk: bytes) -> list[Reading]: ...


class MessageParser(Protocol):
    """A message protocol (MQTT): one topic and payload at a time."""

    stats: ParserStats

    def feed_message(self, topic: str, payload: bytes) -> list[Reading]: ...


# told of every frame a stream parser decoded: its bytes, and the readings they made
# (a diagnostic capture keeps or withholds whole frames by what they carry)
FrameTap = Callable[[bytes, list[Reading]], None]

MORE = -1  # cut: the frame is not all here yet
SKIP = -2  # cut: no frame starts here (the parser has counted why): skip one byte, hunt again


class BufferedParser:
    """What every framed byte-stream parser shares (as zigpy's radio drivers do): keep a buffer
    across reads, hunt for the start ``markers``, ask ``cut`` for the frame there, skip one byte
    past a false start (counted), and keep an incomplete frame for the next read."""

    markers: ClassVar[tuple[bytes, ...]]
    header_len: ClassVar[int]  # bytes from the marker on before ``cut`` can judge a frame

    def __init__(self) -> None:
        self.stats = ParserStats()
        self._buf = bytearray()
        self.on_frame: FrameTap | None = None

    def feed(self, chunk: bytes) -> list[Reading]:
        self.stats.bytes_in += len(chunk)
        buf = self._buf
        buf += chunk
        out: list[Reading] = []
        pos = 0
        while True:
            start, pos = hunt(buf, pos, self.markers, self.stats)
            if start < 0 or len(buf) - pos < self.header_len:
                break
            before = len(out)
            end = self.cut(buf, pos, out)
            if end == MORE:
                break
            if end == SKIP:
                self.stats.dropped_bytes += 1
                pos += 1
                continue
            if self.on_frame is not None:
                self.on_frame(bytes(buf[pos:end]), out[before:])
            pos = end
        del buf[:pos]
        return out

    def cut(self, buf: bytearray, pos: int, out: list[Reading]) -> int:
        """Decode the frame at ``pos`` (``header_len`` bytes are there) into ``out`` and return where
        it ends; or MORE; or SKIP after counting why (bad checksum, bad length...)."""
        raise NotImplementedError


def hunt(buf: bytearray, pos: int, markers: tuple[bytes, ...], stats: ParserStats, final: bool = False
         ) -> tuple[int, int]:
    """Move to the next frame start (any of ``markers``) at or after ``pos``.

    Returns ``(start, pos)``: the start's index and ``pos == start``, or ``(-1, pos)`` when there
    is none yet, with ``pos`` past everything but a trailing partial marker that the next read
    may complete (none when ``final``). Whatever is skipped is counted as dropped.
    """
    found = [i for i in (buf.find(m, pos) for m in markers) if i >= 0]
    if found:
        start = min(found)
        stats.dropped_bytes += start - pos
        return start, start
    keep = 0
    if not final:
        tail = bytes(buf[pos:])
        keep = max((k for m in markers for k in range(len(m) - 1, 0, -1) if tail.endswith(m[:k])), default=0)
    stats.dropped_bytes += len(buf) - pos - keep
    return -1, len(buf) - keep


def xor_all(data: bytes | bytearray | memoryview) -> int:
    acc = 0
    for b in data:
        acc ^= b
    return acc
