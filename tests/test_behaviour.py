"""Bed, falls, nights, activity: streaming state machines on scripted tracks with known truth."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from eldergate.signal.activity import ActivityMonitor
from eldergate.signal.bed import BedMonitor
from eldergate.signal.falls import FallDetector
from eldergate.signal.night import NightWatch
from eldergate.signal.vital_limits import VitalLimitWatch

TZ = ZoneInfo("Asia/Shanghai")


def local(h: int, m: int = 0, day: int = 21) -> float:
    return datetime(2026, 11, day, h, m, tzinfo=TZ).timestamp()


def names(events: list) -> list[str]:  # type: ignore[type-arg]
    return [str(e.name) for e in events]


def test_bed_turnover_is_not_an_exit_and_exit_time_is_when_evidence_went() -> None:
    bed = BedMonitor("r1", "bedroom")
    out = []
    for t in range(0, 300):
        in_bed = not (100 <= t < 108) and t < 200  # an 8 s dropout while turning over, then gets up at 200
        out += bed.evidence(float(t), "zone", in_bed)
        if 100 <= t < 108:
            out += bed.motion(float(t), True)
        elif t == 108:
            out += bed.motion(float(t), False)
    assert names(out) == ["bed_entry", "turnover", "bed_exit"]
    assert out[0].t == 0.0 and out[2].t == 200.0
    assert out[2].details["in_bed_s"] == 200.0


def test_bed_return_reports_time_out_of_bed() -> None:
    bed = BedMonitor("r1", "bedroom")
    out = []
    for t in range(0, 2100):
        out += bed.evidence(float(t), "presence", not (500 <= t < 1400))
    # 500 s in bed is not yet sleep (10 min of stillness); after the return it is
    assert names(out) == ["bed_entry", "bed_exit", "bed_return", "sleep_start"]
    ret = out[2]
    assert ret.value == 900.0 and ret.t == 1400.0
    assert out[3].t == 1400.0


def _track(det: FallDetector, heights: list[tuple[float, float]], in_bed: bool = False) -> list:  # type: ignore[type-arg]
    out = []
    for t, z in heights:
        out += det.height(t, z, in_bed)
    return out


def _profile(start_z: float, end_z: float, t_drop: float, drop_s: float, total_s: float, dt: float = 0.1,
             back_up_at: float | None = None) -> list[tuple[float, float]]:
    pts = []
    t = 0.0
    while t < total_s:
        if t < t_drop:
            z = start_z
        elif t < t_drop + drop_s:
            z = start_z + (end_z - start_z) * (t - t_drop) / drop_s
        else:
            z = end_z
        if back_up_at is not None and t >= back_up_at:
            z = start_z
        pts.append((round(t, 3), z))
        t += dt
    return pts


def test_fall_and_stay_down_is_confirmed() -> None:
    out = _track(FallDetector("r1", "bedroom"), _profile(1.0, 0.2, 10.0, 0.6, 70.0))
    assert names(out) == ["possible_fall", "fall"]
    assert 10.0 < out[0].t <= 12.1 and abs(out[1].t - out[0].t - 45.0) < 0.2  # within 1.5 s of coming to rest


def test_fall_then_get_up_is_cancelled() -> None:
    out = _track(FallDetector("r1", "bedroom"), _profile(1.0, 0.2, 10.0, 0.6, 60.0, back_up_at=25.0))
    assert names(out) == ["possible_fall", "fall_cancelled"]


def test_not_falls_sit_bend_walk_lie_on_bed() -> None:
    sit = _profile(1.0, 0.65, 5.0, 0.4, 30.0)  # sitting down fast on a chair
    bend = [(t, 0.55 if 5.0 <= t < 6.5 else 1.0) for t, _ in _profile(1.0, 1.0, 0, 1, 20.0)]
    walk = [(t / 10, 1.0 + 0.05 * ((t % 7) - 3) / 3) for t in range(0, 300)]
    lie_on_bed = _profile(1.0, 0.45, 5.0, 1.0, 70.0)
    for track, in_bed in ((sit, False), (bend, False), (walk, False), (lie_on_bed, True)):
        assert _track(FallDetector("r1", "bedroom"), track, in_bed) == []


def test_device_fall_flag_raises_a_possible_fall_confirmed_by_time() -> None:
    det = FallDetector("r1", "bedroom")
    out = det.device_flag(100.0, True) + det.tick(120.0) + det.tick(146.0)
    assert names(out) == ["possible_fall", "fall"]


def test_out_of_bed_too_long_at_night_only_at_night() -> None:
    night = NightWatch("r1")
    out = night.bed_exit(local(2, 0, 22)) + night.tick(local(2, 29, 22)) + night.tick(local(2, 31, 22))
    assert names(out) == ["out_of_bed_at_night"] and 30.0 <= (out[0].value or 0) < 32
    day = NightWatch("r1")
    assert day.bed_exit(local(14)) + day.tick(local(15)) == []


def test_wandering_when_the_door_opened_at_night_and_nobody_is_back() -> None:
    w = NightWatch("r1")
    t = local(2, 0, 22)
    out = w.home_presence(t, True) + w.door_opened(t + 60, front_door=True) + w.home_presence(t + 90, False)
    out += w.tick(t + 90 + 14 * 60) + w.tick(t + 90 + 16 * 60) + w.home_presence(t + 40 * 60, True)
    assert names(out) == ["wandering", "returned_home"]
    # a back door, or the door in the daytime, is not watched
    w2 = NightWatch("r1")
    out2 = w2.door_opened(t, front_door=False) + w2.home_presence(t + 1, False) + w2.tick(t + 3600)
    assert out2 == []


def test_wandering_suppressed_with_several_people() -> None:
    w = NightWatch("r1")
    w.suppressed = True
    t = local(23)
    assert w.door_opened(t, True) + w.home_presence(t + 5, False) + w.tick(t + 3600) == []


def test_several_people_and_long_lie() -> None:
    a = ActivityMonitor("r1")
    out = []
    for k in range(0, 30):
        out += a.observe(float(k), True, True, False, 2, True, False)
    for k in range(30, 120):
        out += a.observe(float(k), True, True, False, 1, True, False)
    assert names(out) == ["several_people", "alone_again"]
    still = ActivityMonitor("r1")
    ev = []
    for k in range(0, 25 * 60, 10):
        ev += still.observe(float(k), True, False, False, 1, True, False)
    ev += still.observe(25 * 60.0, True, True, False, 1, True, False)
    assert names(ev) == ["long_lie", "long_lie_ended"]


def test_abnormal_vitals_need_a_sustained_run_and_clear_with_hysteresis() -> None:
    w = VitalLimitWatch("r1", "bed")
    out = []
    for k in range(0, 100):  # one bad window among good ones: nothing
        out += w.estimate(float(k), 150.0 if k == 50 else 70.0, 14.0)
    assert out == []
    for k in range(100, 400):
        out += w.estimate(float(k), 135.0 if k < 250 else 72.0, 14.0)
    assert names(out) == ["abnormal_heart_rate", "vitals_normal"]
    assert out[0].t == 220.0 and out[1].t == 370.0


def test_apnoea_while_in_bed() -> None:
    w = VitalLimitWatch("r1", "bed")
    out = []
    for k in range(0, 60):
        out += w.breathing_seen(float(k), in_bed=True, breathing=not (10 <= k < 35))
    assert names(out) == ["apnoea", "breathing_resumed"]
    assert w.breathing_seen(100.0, in_bed=False, breathing=False) == []


def test_silent_sources_hold_the_bed_state() -> None:
    bed = BedMonitor("r1", "bedroom")
    out = []
    for t in range(0, 60):
        out += bed.evidence(float(t), "presence", True)
    out += bed.tick(500.0) + bed.tick(1000.0)  # the radar went quiet: unknown, not an exit
    assert names(out) == ["bed_entry", "sleep_start"] and bed.in_bed
    out += bed.evidence(1001.0, "presence", False) + bed.tick(1030.0)
    assert names(out)[-1] == "bed_exit"
