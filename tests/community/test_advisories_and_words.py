"""Advisories on synthetic 30-day histories with known shifts (each found, none in a stable
history), every word in both languages, the wall's privacy setting."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from eldergate.community.work.advisories import Night, advisories
from eldergate.community.work.words import T

START = datetime(2026, 10, 30, 23, 0, tzinfo=UTC)


def _history(shift: str = "", seed: int = 1, days: int = 30) -> list[Night]:
    rng = random.Random(seed)
    out = []
    for d in range(days):
        recent = d >= days - 3
        exits = rng.choice([0, 1, 1, 2]) + (4 if recent and shift == "exits" else 0)
        sleep = rng.uniform(400, 470) * (0.4 if recent and shift == "sleep" else 1)
        if shift == "no_bed" and d == days - 1:
            sleep = 0
        hr = rng.uniform(60, 66) + (14 if recent and shift == "hr" else 0)
        active = rng.uniform(150, 220) * (0.4 if recent and shift == "activity" else 1)
        out.append(Night(START + timedelta(days=d), exits, sleep, hr, active))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_a_stable_history_gives_no_advisory(seed: int) -> None:
    assert advisories(_history("", seed)) == []


@pytest.mark.parametrize(("shift", "key"), [("exits", "adv_night_exits"), ("sleep", "adv_sleep"), ("hr", "adv_hr"),
                                            ("activity", "adv_activity"), ("no_bed", "adv_no_bed")])
@pytest.mark.parametrize("seed", range(5))
def test_each_shift_is_found_and_says_what_moved_and_since_when(shift: str, key: str, seed: int) -> None:
    history = _history(shift, seed)
    found = advisories(history)
    assert [a.key for a in found] == [key]
    a = found[0]
    assert a.base is not None and a.now is not None and a.now != a.base
    assert a.since in (history[-3].end, history[-1].end)


def test_too_short_a_history_says_nothing() -> None:
    assert advisories(_history("exits", days=9)) == []


def test_every_word_has_both_languages_and_every_page_word_exists() -> None:
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for key, (zh, en) in T.items():
        assert zh and en, key
        if key != "language":  # the switch names the other language
            assert cjk.search(zh), f"{key}: untranslated in zh-hans: {zh!r}"
    used = set()
    for tpl in (Path(__file__).resolve().parents[2] / "community" / "templates").rglob("*.html"):
        used |= set(re.findall(r"\bw\.([a-z_0-9]+)", tpl.read_text(encoding="utf-8")))
    assert used and not used - set(T), f"missing words: {sorted(used - set(T))}"


def test_the_wall_hides_names_and_medical_notes_unless_the_community_chooses(world: Any) -> None:
    from django.test import Client

    from eldergate.community.models import Community

    kz = world.sides["kz"]
    url = f"/wall/tiles?key={kz.community.wall_key}"
    html = Client().get(url).content.decode()
    assert 'data-resident="kz/gw1/r1"' in html
    assert "杜秀英" not in html and "杜老人 301" in html and "高血压" not in html
    Community.objects.filter(pk=kz.community.pk).update(wall_names="full", wall_medical=True)
    html = Client().get(url).content.decode()
    assert "杜秀英" in html and "高血压" in html
    assert Client().get("/wall?key=wrong").status_code == 403
    other = world.sides["other"].community.wall_key
    assert "kz/gw1/r1" not in Client().get(f"/wall/tiles?key={other}").content.decode()


def test_the_evidence_a_box_sends_is_said_in_words() -> None:
    """What the box's alert engine writes (the raising event, its value, the detector's keys) is
    what the page reads: an unusual heart rate is the event's value, not a key no box sends."""
    from eldergate.community.work.words import evidence

    said = evidence("abnormal_vitals", {"event": "abnormal_heart_rate", "value": 131.0}, "", "", "zh-hans")
    assert said == ["心率 131次/分"]
    assert evidence("abnormal_vitals", {"event": "abnormal_breathing_rate", "value": 31.0}, "", "", "en") == \
        ["breathing 31/min"]
    assert evidence("fall", {"event": "fall", "down_s": 250.0}, "", "", "en")[0].startswith("on the floor")
