"""The box's diagnostic capture (gateway/links/recent_capture.py, gateway/delivery/diagnostic_capture.py):
the last minutes of what its sensors sent, bounded by time and bytes; without the raw-waveform
consent no frame that decodes to a raw waveform leaves the box, whatever the bytes around it
(fuzzed: frames of every kind, line noise, any cut into reads), and every other frame's readings
come out of the capture exactly as they went in; with it, the bytes as they came; the upload
goes only to the community server's host."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from eldergate.config.loader import load_config
from eldergate.drivers import seeed_5359, ti_mmwave
from eldergate.drivers.protocols import stream_parser
from eldergate.drivers.readings import ChestDisplacement, DeviceVitals, Distance, Presence, Reading, Target
from eldergate.drivers.seeed_tinyframe import encode_reading
from eldergate.gateway.delivery.diagnostic_capture import build, upload_allowed
from eldergate.gateway.links.capture import CaptureItem, read_capture
from eldergate.gateway.links.recent_capture import ITEM_OVERHEAD, RecentCapture

from testutil import ROOT

T0 = 1_765_000_000.0


def _config(tmp_path: Path, bed: str = "mr60bha2", extra: str = "") -> Path:
    text = (ROOT / "config" / "demo.toml").read_text().replace('protocol = "mr60bha2"', f'protocol = "{bed}"')
    path = tmp_path / "home.toml"
    path.write_text(text + extra)
    return path


def _tinyframe_frames() -> st.SearchStrategy[bytes]:
    readings: list[Reading] = [ChestDisplacement(value=0.42, unit="au", breath=0.1, heart=-0.2),
                               DeviceVitals(heart_rate_bpm=71.0), DeviceVitals(breathing_rate_bpm=15.0),
                               Distance(distance_m=1.2), Presence(present=True)]
    return st.sampled_from([encode_reading(r) for r in readings])


def _5359_frames() -> st.SearchStrategy[bytes]:
    readings: list[Reading] = [seeed_5359.Waveform(signal="breath", samples=(120, 130, 140, 128, 110)),
                               seeed_5359.Waveform(signal="heart", samples=(128, 129, 127, 126, 131)),
                               DeviceVitals(heart_rate_bpm=66.0), Presence(present=False)]
    return st.sampled_from([seeed_5359.encode_reading(r) for r in readings])


def _ti_frames() -> st.SearchStrategy[bytes]:
    vs = ti_mmwave.TiVitalSigns(value=1.5, unit="mm", breath=0.3, heart=0.01, heart_rate_fft=72.0)
    return st.sampled_from([
        ti_mmwave.encode_frame([(ti_mmwave.TLV_VITAL_STATS, ti_mmwave.vital_signs_payload(vs))], frame_number=3),
        ti_mmwave.tracking_frame((Target(id=1, x=0.5, y=2.0, z=1.0),), frame_number=4),
        ti_mmwave.tracking_frame((), frame_number=5)])


def _stream(frames: list[bytes], noise: list[bytes], cuts: list[int]) -> list[bytes]:
    """Frames with noise between them, cut into reads at ``cuts``."""
    data = b"".join(n + f for f, n in zip(frames, noise + [b""] * len(frames), strict=False))
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def _readings(protocol: str, chunks: list[bytes]) -> list[Reading]:
    parser = stream_parser(protocol, {})
    out: list[Reading] = []
    for c in chunks:
        out.extend(parser.feed(c))
    out.extend(getattr(parser, "flush", list)())
    return out


def _capture_chunks(body: bytes, sensor: str) -> tuple[dict[str, object], list[bytes]]:
    lines = [json.loads(x) for x in gzip.decompress(body).decode().splitlines()]
    return lines[0]["meta"], [bytes.fromhex(x["hex"]) for x in lines[1:] if x.get("sensor") == sensor]


def _nobody(r: Reading) -> bool:
    return isinstance(r, ti_mmwave.Targets) and not r.targets


CASES = [("mr60bha2", _tinyframe_frames()), ("mr60bha1", _5359_frames()), ("ti-mmwave", _ti_frames())]


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(range(len(CASES))), data=st.data(),
       noise=st.lists(st.binary(max_size=12), max_size=20), cuts=st.lists(st.integers(0, 10_000), max_size=30))
def test_without_consent_no_waveform_leaves_and_every_other_reading_does(
        tmp_path_factory: object, case: int, data: st.DataObject, noise: list[bytes], cuts: list[int]) -> None:
    protocol, frames = CASES[case]
    tmp = tmp_path_factory.mktemp("c")  # type: ignore[attr-defined]
    cfg = load_config(_config(tmp, protocol))
    chunks = _stream(data.draw(st.lists(frames, min_size=1, max_size=25)), noise, cuts)
    items = [CaptureItem(T0 + i * 0.05, "bed_radar", data=c) for i, c in enumerate(chunks)]
    sent = _readings(protocol, chunks)  # what the box's own parser read from these bytes, noise and all
    withheld = build(items, cfg, T0 + 10, raw_waveforms=False)
    meta, kept = _capture_chunks(withheld.body, "bed_radar")
    again = _readings(protocol, kept)
    assert not any(r.raw_waveform for r in again)
    # a TI vital-signs frame read after a tracking one also says "nobody tracked" (ti_mmwave.py): that
    # empty Targets goes with the withheld frame; every other reading comes back as it was read
    assert [r for r in again if not _nobody(r)] == [r for r in sent if not r.raw_waveform and not _nobody(r)]
    assert meta["raw_waveforms"] is False and meta["withheld_frames"] == sum(r.raw_waveform for r in sent)

    raw = build(items, cfg, T0 + 10, raw_waveforms=True)
    meta, whole = _capture_chunks(raw.body, "bed_radar")
    assert whole == chunks and meta["raw_waveforms"] is True  # with consent: the bytes as they came


def test_a_capture_replays_with_the_boxs_configuration(tmp_path: Path) -> None:
    import subprocess

    from testutil import clean_env, eldergate_cmd

    cfg_path = _config(tmp_path)
    cfg = load_config(cfg_path)
    frames = [encode_reading(Presence(present=True)), encode_reading(ChestDisplacement(value=0.1, unit="au")),
              encode_reading(DeviceVitals(heart_rate_bpm=64.0))]
    items = [CaptureItem(T0 + i, "bed_radar", data=frames[i % 3]) for i in range(30)]
    items.append(CaptureItem(T0 + 31, "front_door", topic="zigbee2mqtt/front_door",
                             payload=b'{"contact": false, "battery": 90}'))
    built = build(items, cfg, T0 + 40, raw_waveforms=False)
    assert built.span_s == 40 and built.withheld_frames == 10
    out = tmp_path / "capture.jsonl"
    out.write_bytes(gzip.decompress(built.body))
    meta, read = read_capture(out)
    got = list(read)
    assert meta.t0 == T0 and got[-1].end and got[-2].topic == "zigbee2mqtt/front_door"
    assert sum(1 for i in got if i.data) == 20  # the ten phase frames stayed on the box
    replay = subprocess.run(eldergate_cmd("replay", str(out), "--config", str(cfg_path), "--readings", "--json"),
                            capture_output=True, text=True, timeout=120, env=clean_env())
    assert replay.returncode == 0, replay.stderr
    names = [json.loads(x).get("name") for x in replay.stdout.splitlines() if x.startswith("{")]
    assert "device_vitals" in names and "chest_displacement" not in names


def test_the_ring_keeps_the_window_and_the_byte_bound() -> None:
    ring = RecentCapture(window_s=600, max_bytes=100_000)
    for i in range(1200):
        ring.serial(T0 + i, "bed_radar", b"x" * 10)
    kept = ring.items(T0 + 1199)
    assert kept[0].t == T0 + 599 and len(kept) == 601  # the last ten minutes
    assert ring.size() == 601 * (10 + ITEM_OVERHEAD)
    ring.serial(T0 + 1200, "bed_radar", b"y" * 80_000)  # a burst: the oldest go first, whatever their age
    assert ring.size() <= 100_000 and ring.items(T0 + 1200)[-1].data == b"y" * 80_000 and ring.forgotten > 0
    assert ring.items(T0 + 5000) == []  # nothing older than the window, however long the quiet
    off = RecentCapture(window_s=600, max_bytes=0)
    off.serial(T0, "bed_radar", b"x")
    assert not off.enabled and off.items(T0) == []


def test_the_capture_goes_to_the_community_servers_host_only(tmp_path: Path) -> None:
    uplink = '\n[uplink]\nbroker_url = "mqtt://10.1.2.3:1883"\n'
    cfg = load_config(_config(tmp_path, extra=uplink))
    assert upload_allowed("http://10.1.2.3:8000/captures/1/abc", cfg) is None
    assert "is not the community server's host" in str(upload_allowed("https://evil.example/c/1/abc", cfg))
    assert upload_allowed("file:///etc/passwd", cfg) == "not an http(s) address"
    claimed = uplink + 'server_url = "https://community.example.cn"\ncredentials_file = "creds"\n'
    cfg = load_config(_config(tmp_path, extra=claimed))
    assert upload_allowed("https://community.example.cn/captures/1/abc", cfg) is None
    assert upload_allowed("http://10.1.2.3:8000/captures/1/abc", cfg) is not None  # the broker is not the web
    assert upload_allowed("http://x/captures/1/abc", load_config(_config(tmp_path))) == "this box has no uplink"
