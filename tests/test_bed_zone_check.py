"""The commissioning bed-zone check's judgement (gateway/tools/bed_zone_check.py)."""

from __future__ import annotations

import pytest

from eldergate.config.schema import Box
from eldergate.gateway.tools.bed_zone_check import judge, margin

ZONE = Box(x_min=-1.9, x_max=-0.5, y_min=0.2, y_max=2.2)  # the demo home's bed, drawn at the mattress


def test_a_zone_drawn_at_the_mattress_edge_fails_and_a_wider_one_is_suggested() -> None:
    sitting = [(-0.45 + 0.02 * (k % 3), 1.2) for k in range(60)]  # the edge sit's centroid: just outside
    lying = [(-1.2, 1.2 + 0.01 * (k % 5)) for k in range(30)]
    v = judge(ZONE, sitting, lying)
    assert not v.ok and v.sit_margin_m is not None and v.sit_margin_m < 0
    assert v.lying_margin_m == pytest.approx(0.7, abs=0.01)
    assert v.suggested is not None and v.suggested.x_max == pytest.approx(-0.43 + 0.25, abs=0.02)
    assert "OUTSIDE" in v.text() and "suggested: bed_zone" in v.text()
    # the suggested zone passes the same poses
    assert judge(v.suggested, sitting, lying).ok


def test_margins_and_stray_frames() -> None:
    assert margin(ZONE, -1.2, 1.2) == pytest.approx(0.7)
    assert margin(ZONE, 0.0, 1.2) == pytest.approx(-0.5)
    # one stray frame far away does not move the median
    sitting = [(-0.8, 1.2)] * 20 + [(2.0, 3.0)]
    v = judge(ZONE, sitting, [(-1.2, 1.2)] * 10)
    assert v.ok and v.sit_margin_m == pytest.approx(0.3)
    # nobody seen sitting: not judged as fine
    assert not judge(ZONE, [], [(-1.2, 1.2)] * 10).ok
