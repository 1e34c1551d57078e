"""TI IWR1443 / IWR1642 / IWR6843 mmWave demo output over the data UART (protocols.md §4).

A frame is the magic word ``02 01 04 03 06 05 08 07``, a header whose layout depends on
the SDK and lab, then TLVs (type u32, length u32, payload), padded to a multiple of 32.
All fields are little-endian. Header variants (§4.2):

* 36 B — SDK 1.x/2.x xWR14xx OOB (picked when ``platform & 0xFFFF == 0x1443``, as TI's
  ROS driver does);
* 40 B — SDK 2.x xWR16xx, SDK 3.x OOB, Radar Toolbox labs, classic vital-signs labs;
* 48 B — legacy 3D people counting: a 16-bit header checksum, TLV lengths include the
  8-byte TLV header;
* 52 B — legacy 2D people counting, likewise.

The 48/52-byte headers are recognised by their checksum (sum of the header's u16 words,
carry folded, complemented, is 0). totalPacketLen is not trusted alone: TI's own AN
capture repeats the magic every 256 bytes while the header says 288 (§4.4), so a frame
also ends where the next magic word starts, and every TLV is bound-checked against the
bytes actually there. Sources: TI mmw_output.h (SDK 3.4), pcount3D_output.h,
tracker_output.h, the Radar Toolbox visualizer's parseTLVs.py, the vital-signs lab's
mmw_output.h and getOutputStats.m, as cited in protocols.md §4.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import ClassVar, Literal

from eldergate.drivers.base import FrameTap, ParserStats, hunt
from eldergate.drivers.readings import (
    ChestDisplacement,
    DeviceVitals,
    Presence,
    Reading,
    Target,
    TargetHeight,
    Targets,
    Unknown,
)

MAGIC = b"\x02\x01\x04\x03\x06\x05\x08\x07"
MAX_PACKET = 16 * 1024
MAX_TLVS = 32
HeaderKind = Literal["auto", "36", "40", "48", "52"]


@dataclass(frozen=True, slots=True)
class FrameHeader:
    size: int
    version: int
    total_len: int
    platform: int
    frame_number: int
    num_tlvs: int
    tlv_len_includes_header: bool


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    z: float
    doppler: float
    snr: float | None = None


@dataclass(frozen=True, slots=True)
class PointCloud(Reading):
    kind: ClassVar[str] = "point_cloud"
    frame: int
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class TargetIndex(Reading):
    """TLV 1011: a track id per point (253 weak SNR, 254 outside the boundary, 255 noise)."""

    kind: ClassVar[str] = "target_index"
    frame: int
    indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TiVitalSigns(ChestDisplacement):
    """The classic vital-signs lab's 128-byte record, one per frame.

    ``value`` is TI's unwrapped phase at the chosen range bin in mm (``unwrapPhasePeak_mm``),
    ``breath``/``heart`` the lab's filtered waveforms, one sample each per frame.
    """

    kind: ClassVar[str] = "ti_vital_signs"
    frame: int = 0
    range_bin: int = 0
    range_bin_start: int = 0
    range_bin_end: int = 0
    heart_rate_fft: float = 0.0
    heart_rate_xcorr: float = 0.0
    heart_rate_peak_count: float = 0.0
    breathing_rate_fft: float = 0.0
    breathing_rate_xcorr: float = 0.0
    breathing_rate_peak_count: float = 0.0
    confidence_breath: float = 0.0
    confidence_heart: float = 0.0
    motion_detected: bool = False


_VS_STATS = struct.Struct("<HHfIHH" + "f" * 20)  # 96 bytes used of the 128-byte record
# VitalSignsDemo_OutputStats (protocols.md §4.6, TI mmw_output.h): the six leading fields, then these floats
_VS_HEAD = ("range_bin_max", "range_bin_phase", "max_val", "processing_cycles", "range_bin_start", "range_bin_end")
_VS_FLOATS = ("unwrap_phase_peak_mm", "breath_out", "heart_out", "heart_rate_fft", "heart_rate_fft_4hz",
              "heart_rate_xcorr", "heart_rate_peak_count", "breathing_rate_fft", "breathing_rate_xcorr",
              "breathing_rate_peak_count", "confidence_breath", "confidence_breath_xcorr", "confidence_heart",
              "confidence_heart_4hz", "confidence_heart_xcorr", "energy_breath_wfm", "energy_heart_wfm",
              "motion_detected", "breathing_rate_harmonic_energy", "heart_rate_harmonic_energy")

# TLV type ids (protocols.md §4.4): SDK demos, classic vital-signs lab, Radar Toolbox tracking labs
TLV_POINTS_SDK = 1
TLV_VITAL_STATS = 6  # the classic lab; in the legacy people-counting header, 6 is the compressed point cloud
TLV_LEGACY_POINTS, TLV_LEGACY_TARGETS, TLV_LEGACY_INDEX = 6, 7, 8
TLV_POINTS_COMPRESSED = 1020
TLV_TARGETS = 1010
TLV_TARGET_INDEX = 1011
TLV_TARGET_HEIGHT = 1012
TLV_PRESENCE = 1021
TLV_VITALS_WITH_TRACKING = 1040
TLV_UNUSED = (2, 3, 4, 5, 7, 8, 9)  # range/noise profiles, heatmaps, side info, stats: not used by the pipeline
# a stream carrying any of these comes from a people tracker: a frame without targets means nobody tracked
_TRACKING_TLVS = (TLV_TARGETS, TLV_TARGET_INDEX, TLV_TARGET_HEIGHT, TLV_POINTS_COMPRESSED)
_LEGACY_TRACKING_TLVS = (TLV_LEGACY_POINTS, TLV_LEGACY_TARGETS, TLV_LEGACY_INDEX)


def _header_checksum_ok(header: bytes) -> bool:
    words = struct.unpack(f"<{len(header) // 2}H", header)
    s = sum(words)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return bool((~s & 0xFFFF) == 0)


def parse_header(buf: bytes | bytearray, pos: int, kind: HeaderKind = "auto") -> FrameHeader | None:
    """Read the header at ``pos`` (which starts with the magic word), or None if implausible."""
    avail = len(buf) - pos
    if kind in ("auto", "48") and avail >= 48 and _header_checksum_ok(bytes(buf[pos : pos + 48])):
        version, total, platform, frame = struct.unpack_from("<IIII", buf, pos + 8)
        ntlv = struct.unpack_from("<H", buf, pos + 44)[0]
        return FrameHeader(48, version, total, platform, frame, ntlv, True)
    if kind in ("auto", "52") and avail >= 52 and _header_checksum_ok(bytes(buf[pos : pos + 52])):
        version, platform, _ts, total, frame = struct.unpack_from("<IIIII", buf, pos + 8)
        ntlv = struct.unpack_from("<H", buf, pos + 48)[0]
        return FrameHeader(52, version, total, platform, frame, ntlv, True)
    if kind in ("48", "52") or avail < 36:
        return None
    version, total, platform, frame, _cycles, _ndet, ntlv = struct.unpack_from("<7I", buf, pos + 8)
    size = 36 if kind == "36" or (kind == "auto" and platform & 0xFFFF == 0x1443) else 40
    if size == 40 and avail < 40:
        return None
    return FrameHeader(size, version, total, platform, frame, ntlv, False)


def _plausible(h: FrameHeader) -> bool:
    return h.size <= h.total_len <= MAX_PACKET and h.num_tlvs <= MAX_TLVS


class TiMmwaveParser:
    """Streaming TI frame parser. ``header`` forces a layout; ``auto`` detects it.

    "Nobody tracked" is said, not left out: TI's people-tracking firmware sends no target
    TLVs at all when it tracks nobody (the ``numTargets > 0`` guard in the Radar Toolbox's
    mss_main.c), and in an empty room with no noise points a frame carries no TLV at all.
    Every such frame becomes an empty ``Targets``, once the stream is known to come from a
    tracker (a tracking TLV seen) or when the frame holds nothing: so the pipeline sees the
    room go empty, and the device's frames, not the room's occupancy, keep it supervised.
    """

    def __init__(self, header: HeaderKind = "auto") -> None:
        self.header_kind: HeaderKind = header
        self.stats = ParserStats()
        self._buf = bytearray()
        self.truncated_frames = 0  # frames cut short by the next magic word (TI's AN capture)
        self.tracking = False  # a people-tracking stream (a tracking TLV has been seen)
        self.on_frame: FrameTap | None = None

    def feed(self, chunk: bytes) -> list[Reading]:
        self.stats.bytes_in += len(chunk)
        self._buf += chunk
        return self._scan(final=False)

    def flush(self) -> list[Reading]:
        """End of input: decode a frame still waiting for bytes that will not come."""
        return self._scan(final=True)

    def _scan(self, final: bool) -> list[Reading]:
        buf = self._buf
        out: list[Reading] = []
        pos = 0
        while True:
            start, pos = hunt(buf, pos, (MAGIC,), self.stats, final)
            if start < 0:
                break
            header = parse_header(buf, pos, self.header_kind)
            if header is None:
                if len(buf) - pos >= 52 or final:  # enough bytes and still no header: a false magic
                    self.stats.malformed += 1
                    self.stats.dropped_bytes += 1
                    pos += 1
                    continue
                break
            if not _plausible(header):
                self.stats.bad_length += 1
                self.stats.dropped_bytes += 1
                pos += 1
                continue
            next_magic = buf.find(MAGIC, pos + len(MAGIC))
            end = pos + header.total_len
            if next_magic >= 0 and next_magic < end:
                end = next_magic  # the frame is shorter than it says (§4.4)
                self.truncated_frames += 1
            elif len(buf) < end:
                if not final:
                    break
                end = len(buf)
                self.truncated_frames += 1
            frame = bytes(buf[pos:end])
            readings = self._decode_frame(header, frame)
            if self.on_frame is not None:
                self.on_frame(frame, readings)
            out.extend(readings)
            pos = end
        del buf[:pos]
        return out

    def _decode_frame(self, h: FrameHeader, frame: bytes) -> list[Reading]:
        self.stats.frames += 1
        out: list[Reading] = []
        off = h.size
        for _ in range(h.num_tlvs):
            if off + 8 > len(frame):
                break
            ttype, tlen = struct.unpack_from("<II", frame, off)
            payload_len = tlen - 8 if h.tlv_len_includes_header else tlen
            if payload_len < 0 or payload_len > MAX_PACKET:
                self.stats.malformed += 1
                break
            payload = frame[off + 8 : off + 8 + payload_len]  # bound-checked: may be shorter
            try:
                out.extend(decode_tlv(ttype, payload, h))
            except (struct.error, ValueError):
                self.stats.malformed += 1
            if ttype in _TRACKING_TLVS or (h.tlv_len_includes_header and ttype in _LEGACY_TRACKING_TLVS):
                self.tracking = True
            off += 8 + payload_len
        if (self.tracking or h.num_tlvs == 0) and not any(isinstance(r, Targets) for r in out):
            out.append(Targets(targets=()))  # nobody tracked in this frame
        return out


def decode_tlv(ttype: int, p: bytes, h: FrameHeader) -> list[Reading]:
    legacy = h.tlv_len_includes_header
    if ttype == TLV_VITAL_STATS and not legacy:
        # the vital-signs labs' 128-byte record; in the SDK OOB demo type 6 is 24 bytes of stats
        return [_vital_signs(p, h.frame_number)] if len(p) >= _VS_STATS.size else []
    if ttype == TLV_POINTS_SDK and not legacy:
        return [_points_sdk(p, h)]
    if ttype == TLV_POINTS_COMPRESSED or (ttype == TLV_LEGACY_POINTS and legacy):
        return [_points_compressed(p, h.frame_number)]
    if ttype == TLV_TARGETS or (ttype == TLV_LEGACY_TARGETS and legacy):
        return [_targets(p)]
    if ttype == TLV_TARGET_INDEX or (ttype == TLV_LEGACY_INDEX and legacy):
        return [TargetIndex(frame=h.frame_number, indices=tuple(p))]
    if ttype == TLV_TARGET_HEIGHT:
        return [TargetHeight(height_m=max_z, target_id=tid) for tid, max_z, _min_z in struct.iter_unpack("<Iff", p)]
    if ttype == TLV_PRESENCE:
        return [Presence(present=struct.unpack_from("<I", p)[0] != 0)]
    if ttype == TLV_VITALS_WITH_TRACKING:
        return _vitals_with_tracking(p)
    if ttype in TLV_UNUSED:
        return []
    return [Unknown(code=ttype, payload=p[:64])]


def _vital_signs(p: bytes, frame: int) -> TiVitalSigns:
    f = dict(zip(_VS_HEAD + _VS_FLOATS, _VS_STATS.unpack_from(p), strict=True))
    return TiVitalSigns(
        value=f["unwrap_phase_peak_mm"], unit="mm", breath=f["breath_out"], heart=f["heart_out"], frame=frame,
        range_bin=f["range_bin_phase"], range_bin_start=f["range_bin_start"], range_bin_end=f["range_bin_end"],
        heart_rate_fft=f["heart_rate_fft"], heart_rate_xcorr=f["heart_rate_xcorr"],
        heart_rate_peak_count=f["heart_rate_peak_count"], breathing_rate_fft=f["breathing_rate_fft"],
        breathing_rate_xcorr=f["breathing_rate_xcorr"], breathing_rate_peak_count=f["breathing_rate_peak_count"],
        confidence_breath=f["confidence_breath"], confidence_heart=f["confidence_heart"],
        motion_detected=f["motion_detected"] != 0.0,
    )


def _points_sdk(p: bytes, h: FrameHeader) -> PointCloud:
    if h.version >> 24 >= 3:  # SDK 3.x: x, y, z, doppler as floats
        pts = tuple(Point(*v) for v in struct.iter_unpack("<ffff", p[: len(p) // 16 * 16]))
        return PointCloud(frame=h.frame_number, points=pts)
    n, q = struct.unpack_from("<HH", p)
    scale = 1.0 / (1 << q)
    pts = tuple(Point(x * scale, y * scale, z * scale, float(dop))
                for _r, dop, _peak, x, y, z in struct.iter_unpack("<HhHhhh", p[4 : 4 + 12 * n]))
    return PointCloud(frame=h.frame_number, points=pts)


def _points_compressed(p: bytes, frame: int) -> PointCloud:
    elev_u, azim_u, dop_u, range_u, snr_u = struct.unpack_from("<5f", p)
    pts = []
    for el, az, dop, rng, snr in struct.iter_unpack("<bbhHH", p[20 : 20 + (len(p) - 20) // 8 * 8]):
        r, e, a = rng * range_u, el * elev_u, az * azim_u
        pts.append(Point(r * math.sin(a) * math.cos(e), r * math.cos(a) * math.cos(e), r * math.sin(e),
                         dop * dop_u, snr * snr_u))
    return PointCloud(frame=frame, points=tuple(pts))


_TARGET = struct.Struct("<I9f16f2f")  # tid, pos, vel, acc, error covariance 4x4, gain, confidence


def _targets(p: bytes) -> Targets:
    out = []
    for i in range(len(p) // _TARGET.size):
        v = _TARGET.unpack_from(p, i * _TARGET.size)
        out.append(Target(id=v[0], x=v[1], y=v[2], z=v[3], vx=v[4], vy=v[5], vz=v[6]))
    return Targets(targets=tuple(out))


def _vitals_with_tracking(p: bytes) -> list[Reading]:
    _tid, _bin, _dev, heart, breath = struct.unpack_from("<HHfff", p)
    return [DeviceVitals(heart_rate_bpm=heart or None, breathing_rate_bpm=breath or None)]


# --- encoding: the emulator's side ------------------------------------------------------


def encode_frame(tlvs: list[tuple[int, bytes]], frame_number: int = 0, platform: int = 0xA6843,
                 version: int = 0x03050000, pad_to: int = 32) -> bytes:
    """A 40-byte-header frame (SDK 3 / vital-signs lab style) padded to ``pad_to``."""
    body = b"".join(struct.pack("<II", t, len(p)) + p for t, p in tlvs)
    total = 40 + len(body)
    total += (-total) % pad_to
    header = MAGIC + struct.pack("<8I", version, total, platform, frame_number, 0, 0, len(tlvs), 0)
    return (header + body).ljust(total, b"\x0f")


def vital_signs_payload(r: TiVitalSigns) -> bytes:
    floats = [r.value, r.breath or 0.0, r.heart or 0.0, r.heart_rate_fft, 0.0, r.heart_rate_xcorr,
              r.heart_rate_peak_count, r.breathing_rate_fft, r.breathing_rate_xcorr, r.breathing_rate_peak_count,
              r.confidence_breath, 0.0, r.confidence_heart, 0.0, 0.0, 0.0, 0.0, 1.0 if r.motion_detected else 0.0,
              0.0, 0.0]
    head = _VS_STATS.pack(r.range_bin, r.range_bin, 0.0, 0, r.range_bin_start, r.range_bin_end, *floats)
    return head.ljust(128, b"\0")


def targets_payload(targets: tuple[Target, ...]) -> bytes:
    return b"".join(_TARGET.pack(t.id, t.x, t.y, t.z or 0.0, t.vx or 0.0, t.vy or 0.0, t.vz or 0.0,
                                 0.0, 0.0, 0.0, *([0.0] * 16), 1.0, 1.0) for t in targets)


def height_payload(heights: list[tuple[int, float, float]]) -> bytes:
    return b"".join(struct.pack("<Iff", tid, hi, lo) for tid, hi, lo in heights)


def tracking_frame(targets: tuple[Target, ...], frame_number: int = 0, heights: bool = False) -> bytes:
    """A people-tracking frame as the Radar Toolbox firmware sends it: TLV 1010 when someone is
    tracked and nothing at all when nobody is (its ``numTargets > 0`` guard, mss_main.c).
    ``heights``: also TLV 1012, each target's top of body (about 1.65 × its centroid height)."""
    if not targets:
        return encode_frame([], frame_number=frame_number)
    tlvs = [(TLV_TARGETS, targets_payload(targets))]
    if heights:
        tlvs.append((TLV_TARGET_HEIGHT, height_payload([(t.id, min(1.8, 1.65 * (t.z or 0.0)), 0.0) for t in targets])))
    return encode_frame(tlvs, frame_number=frame_number)


def chirp_config_lines(text: str) -> list[str]:
    """The commands of a TI .cfg file: comments (%) and blank lines dropped (§4.1)."""
    lines = []
    for raw in text.splitlines():
        line = raw.split("%", 1)[0].strip()
        if line:
            lines.append(line)
    return lines
