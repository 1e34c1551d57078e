"""The bed zone, checked where the person really is: sitting on the edge and lying down.

A zone drawn at the mattress edge turns a 20 s sit on the edge of the bed into a bed exit:
the tracker's centroid of someone sitting on the edge is a little outside the mattress, and
it wanders by 10–20 cm. During commissioning the installer sits on the edge, then lies
down; the room radar's positions in each pose are taken (medians, so a stray frame does not
count), and the zone is judged by its margin around both: how far inside its nearest edge
each pose was. Too small a margin fails the step and the tool prints the zone to use.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from eldergate.config.schema import Box

MIN_MARGIN_M = 0.15  # the centroid wanders about this much around a still person
SUGGEST_MARGIN_M = 0.25  # the suggested zone keeps both poses this far inside


@dataclass(frozen=True, slots=True)
class ZoneVerdict:
    ok: bool
    sit_margin_m: float | None  # inside the zone's nearest edge (negative: outside), None: not seen
    lying_margin_m: float | None
    suggested: Box | None

    def text(self) -> str:
        def fmt(m: float | None) -> str:
            if m is None:
                return "not seen"
            return f"{m:.2f} m inside the edge" if m >= 0 else f"{-m:.2f} m OUTSIDE the zone"
        lines = [f"edge of the bed: {fmt(self.sit_margin_m)}; lying: {fmt(self.lying_margin_m)}"
                 f" (needed: {MIN_MARGIN_M:.2f} m)"]
        if self.suggested is not None and not self.ok:
            b = self.suggested
            lines.append(f"suggested: bed_zone = {{ x_min = {b.x_min:.2f}, x_max = {b.x_max:.2f}, "
                         f"y_min = {b.y_min:.2f}, y_max = {b.y_max:.2f} }}")
        return "; ".join(lines)

    def to_json(self) -> dict[str, object]:
        return {"sit_margin_m": _r(self.sit_margin_m), "lying_margin_m": _r(self.lying_margin_m),
                "suggested": None if self.suggested is None else self.suggested.model_dump(
                    include={"x_min", "x_max", "y_min", "y_max"})}


def margin(zone: Box, x: float, y: float) -> float:
    """Distance from (x, y) to the zone's nearest edge: positive inside, negative outside."""
    inside = float(min(x - zone.x_min, zone.x_max - x, y - zone.y_min, zone.y_max - y))
    if inside >= 0:
        return inside
    dx = max(zone.x_min - x, 0.0, x - zone.x_max)
    dy = max(zone.y_min - y, 0.0, y - zone.y_max)
    return -float((dx * dx + dy * dy) ** 0.5)


def judge(zone: Box, sitting: list[tuple[float, float]], lying: list[tuple[float, float]]) -> ZoneVerdict:
    poses = [_median(p) for p in (sitting, lying)]
    margins = [None if p is None else margin(zone, *p) for p in poses]
    seen = [p for p in poses if p is not None]
    ok = bool(seen) and all(m is not None and m >= MIN_MARGIN_M for m in margins)
    suggested = None
    if seen:
        # the configured zone, grown just enough to keep both poses SUGGEST_MARGIN_M inside
        xs, ys = [p[0] for p in seen], [p[1] for p in seen]
        suggested = Box(x_min=min(zone.x_min, min(xs) - SUGGEST_MARGIN_M),
                        x_max=max(zone.x_max, max(xs) + SUGGEST_MARGIN_M),
                        y_min=min(zone.y_min, min(ys) - SUGGEST_MARGIN_M),
                        y_max=max(zone.y_max, max(ys) + SUGGEST_MARGIN_M))
    return ZoneVerdict(ok, margins[0], margins[1], suggested)


def _median(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    if len(points) < 3:
        return None
    return statistics.median(p[0] for p in points), statistics.median(p[1] for p in points)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)
