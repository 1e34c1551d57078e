"""A diagnostic capture for the community server: the last minutes of what the sensors sent
(links/recent_capture.py) as a capture file (gzip'd JSON lines: ``eldergate replay`` runs it
through the same drivers and pipeline), posted to the upload address the server's
``diagnostics`` command gave.

Raw waveforms leave the box only when the command says ``raw_waveforms`` (the server sends it
only with the residents' recorded consent). Otherwise every serial sensor's bytes go through a
fresh parser of its protocol and only whole frames that decoded to readings, none of them a raw
waveform (``Reading.raw_waveform``: chest displacement, breathing and heart waveforms), are
kept; the bytes between frames and frames the parser could not read are left out too, as they
may hold anything. The meta line says how many frames were withheld.

The upload goes only to the community server's own host (``uplink.server_url``, else the
uplink broker's): a forged command cannot send a home's capture anywhere else.
"""

from __future__ import annotations

import gzip
import io
import logging
import threading
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from eldergate.config.schema import Config
from eldergate.contract.bounds import MAX_CAPTURE_BYTES
from eldergate.drivers.protocols import protocol, stream_parser
from eldergate.drivers.readings import Reading
from eldergate.gateway.links.capture import CaptureItem, CaptureWriter
from eldergate.gateway.links.decode import parser_options
from eldergate.gateway.links.recent_capture import RecentCapture

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Built:
    body: bytes  # gzip'd capture lines
    span_s: float  # the time the capture covers
    items: int
    withheld_frames: int
    raw_waveforms: bool


def build(items: list[CaptureItem], cfg: Config, now: float, raw_waveforms: bool) -> Built:
    """The capture of ``items``; the oldest are left out until it fits ``MAX_CAPTURE_BYTES``."""
    while True:
        built = _build(items, cfg, now, raw_waveforms)
        if len(built.body) <= MAX_CAPTURE_BYTES or len(items) <= 1:
            return built
        items = items[len(items) // 2:]


def _build(items: list[CaptureItem], cfg: Config, now: float, raw_waveforms: bool) -> Built:
    sensors = {s.id: s for s in cfg.sensors}
    lines: list[tuple[float, str, bytes | None, str | None, bytes | None]] = []
    withheld = 0
    filters: dict[str, _FrameFilter | None] = {}
    for item in items:
        sensor = sensors.get(item.sensor)
        if sensor is None:
            continue
        if item.data is None or raw_waveforms:
            lines.append((item.t, item.sensor, item.data, item.topic, item.payload))
            continue
        if item.sensor not in filters:
            filters[item.sensor] = _FrameFilter.of(sensor.protocol, parser_options(sensor))
        f = filters[item.sensor]
        if f is None:  # a parser that cannot say where its frames are: its bytes stay on the box
            withheld += 1
            continue
        kept = f.feed(item.data)
        if kept:
            lines.append((item.t, item.sensor, kept, None, None))
    withheld += sum(f.withheld for f in filters.values() if f is not None)
    t0 = items[0].t if items else now
    text = io.StringIO()
    writer = CaptureWriter(text, t0, cfg.gateway.timezone, gateway=f"{cfg.gateway.site}/{cfg.gateway.id}",
                           sensors={s.id: s.protocol for s in cfg.sensors}, raw_waveforms=raw_waveforms,
                           withheld_frames=withheld)
    for t, sid, data, topic, payload in lines:
        if data is not None:
            writer.serial(t, sid, data)
        elif topic is not None and payload is not None:
            writer.message(t, sid, topic, payload)
    writer.end(now)
    body = gzip.compress(text.getvalue().encode("utf-8"), compresslevel=6)
    return Built(body, max(0.0, now - t0), len(lines), withheld, raw_waveforms)


class _FrameFilter:
    """One sensor's stream through its own parser: the frames that may leave the box."""

    def __init__(self, parser: object) -> None:
        self.parser = parser
        self.withheld = 0
        self._kept: list[bytes] = []
        parser.on_frame = self._frame  # type: ignore[attr-defined]

    @classmethod
    def of(cls, protocol_name: str, options: dict[str, object]) -> _FrameFilter | None:
        if protocol(protocol_name).link != "serial":
            return None
        parser = stream_parser(protocol_name, options)
        return cls(parser) if hasattr(parser, "on_frame") else None

    def _frame(self, frame: bytes, readings: list[Reading]) -> None:
        if readings and not any(r.raw_waveform for r in readings):
            self._kept.append(frame)
        else:
            self.withheld += 1

    def feed(self, data: bytes) -> bytes:
        self.parser.feed(data)  # type: ignore[attr-defined]
        kept, self._kept = b"".join(self._kept), []
        return kept


def upload_allowed(url: str, cfg: Config) -> str | None:
    """None when ``url`` is the community server's; else why the capture is not sent there."""
    up = cfg.uplink
    if up is None:
        return "this box has no uplink"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) address"
    ours = {urlsplit(u).hostname for u in ([up.server_url] if up.server_url else [up.broker_url, *up.fallback_urls])}
    if parts.hostname not in ours:
        return f"{parts.hostname} is not the community server's host"
    return None


def upload(url: str, built: Built) -> int:
    """POST the capture; returns the HTTP status (raises OSError when the server cannot be reached)."""
    req = urllib.request.Request(url, data=built.body, method="POST", headers={
        "Content-Type": "application/gzip", "X-Capture-Span-S": f"{built.span_s:.0f}",
        "X-Capture-Raw-Waveforms": "yes" if built.raw_waveforms else "no"})
    with urllib.request.urlopen(req, timeout=UPLOAD_TIMEOUT_S) as r:
        return int(r.status)


class CaptureSender:
    """Sends the recent capture when the server's ``diagnostics`` command asks, one at a time, in
    a thread (a Pi takes seconds to go through 8 MB; the core loop must not wait)."""

    def __init__(self, recent: RecentCapture, cfg: Config) -> None:
        self.recent, self.cfg = recent, cfg
        self._sending = threading.Lock()
        self.sent: list[Built] = []  # what went, for the tests and the log

    def send(self, url: str, raw_waveforms: bool, now: float) -> str:
        """Start sending; returns what the diagnostic report says of it."""
        if not self.recent.enabled:
            return "not sent: this box keeps no capture (diagnostics.capture_max_mb = 0)"
        refused = upload_allowed(url, self.cfg)
        if refused is not None:
            log.warning("a diagnostic capture was asked for at another address: not sent (%s)", refused)
            return f"not sent: {refused}"
        if not self._sending.acquire(blocking=False):
            return "not sent: a capture is being sent already"
        items = self.recent.items(now)
        threading.Thread(target=self._send, args=(url, items, raw_waveforms, now), name="diagnostic-capture",
                         daemon=True).start()
        span = now - items[0].t if items else 0.0
        return f"sending the last {span:.0f} s" + (" with raw waveforms" if raw_waveforms else
                                                    ", raw waveforms withheld")

    def _send(self, url: str, items: list[CaptureItem], raw_waveforms: bool, now: float) -> None:
        try:
            built = build(items, self.cfg, now, raw_waveforms)
            status = upload(url, built)
            self.sent.append(built)
            log.info("diagnostic capture sent (%.0f s, %d KB, %s): HTTP %d", built.span_s, len(built.body) // 1024,
                     "raw waveforms" if raw_waveforms else f"{built.withheld_frames} frames withheld", status)
        except OSError as err:  # the server shows the capture as not received
            log.warning("diagnostic capture not sent: %s", err)
        finally:
            self._sending.release()
