"""The server's desired configuration on the box (gateway/delivery/desired_config.py): laid over
the TOML's residents, checked by the box's own schema, stored atomically beside the last good one,
and at start the last version that still fits the TOML (never a failed start)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from eldergate.contract.desired_config import ConfigMessage
from eldergate.gateway.delivery.desired_config import CURRENT, PREVIOUS, DesiredConfig, effective_config

TOML = """
[gateway]
site = "s1"
id = "gw1"
state_dir = "{state}"

[[residents]]
id = "r1"
display_name = "x"
birth_year = 1940
[residents.thresholds]
night_start = "22:00"
out_of_bed_at_night = "30m"

[[rooms]]
id = "bedroom"
name = "卧室"

[[sensors]]
id = "door"
protocol = "zigbee2mqtt"
role = "door"
room = "bedroom"
mqtt = {{ topic = "zigbee2mqtt/door" }}
"""


def _doc(version: int, **resident: object) -> ConfigMessage:
    return ConfigMessage.model_validate({"site": "s1", "gateway": "gw1", "sent_at": time.time(), "version": version,
                                         "residents": [{"id": "r1", **resident}]})


def _box(tmp_path: Path) -> tuple[Path, DesiredConfig]:
    state = tmp_path / "state"
    state.mkdir()
    toml = tmp_path / "home.toml"
    toml.write_text(TOML.format(state=state))
    cfg, st = effective_config(toml)
    return toml, DesiredConfig(toml, state, st, cfg)


def test_a_good_version_is_stored_and_run_a_bad_one_refused_naming_the_field(tmp_path: Path) -> None:
    toml, box = _box(tmp_path)
    assert box.offer(_doc(1, thresholds={"night_start": "23:15"}, birth_year=1939, contacts=[
        {"order": 1, "role": "relative", "phone": "13900000000", "notify": "json://127.0.0.1:9/x"}]))
    stored = box.state_dir / CURRENT
    assert stored.stat().st_mode & 0o077 == 0  # push URLs are secrets
    cfg, st = effective_config(toml)
    r = cfg.residents[0]
    assert st.version == 1 and str(r.thresholds.night_start) == "23:15:00" and r.birth_year == 1939
    assert r.thresholds.out_of_bed_at_night == 1800  # the TOML's own stays where the server says nothing
    assert [(c.role, c.phone, c.name) for c in r.contacts] == [("relative", "13900000000", "relative-1")]

    box.running = cfg
    assert not box.offer(_doc(1, thresholds={"night_start": "23:15"}))  # the retained copy again: nothing
    assert not box.offer(_doc(2, thresholds={"heart_rate_min_bpm": 130}))
    assert box.state.refused_version == 2 and box.state.version == 1
    assert box.state.refused.startswith("residents[0].thresholds") and "heart_rate_min_bpm" in box.state.refused
    assert not box.offer(ConfigMessage.model_validate(
        {"site": "s1", "gateway": "gw1", "sent_at": time.time(), "version": 3, "residents": [{"id": "r9"}]}))
    assert box.state.refused.startswith("residents[0].id") and "r9" in box.state.refused
    assert json.loads(stored.read_text())["version"] == 1  # the last good one is kept


def test_a_version_that_changes_nothing_here_is_stored_without_a_restart(tmp_path: Path) -> None:
    _toml, box = _box(tmp_path)
    assert not box.offer(_doc(4, thresholds={"night_start": "22:00"}))
    assert box.state.version == 4 and (box.state_dir / CURRENT).exists()


def test_at_start_a_stored_version_that_no_longer_fits_is_set_aside(tmp_path: Path) -> None:
    toml, box = _box(tmp_path)
    assert box.offer(_doc(1, thresholds={"night_start": "23:00"}))
    box.running = effective_config(toml)[0]
    assert box.offer(_doc(2, at_risk_of_getting_lost=True))
    assert (box.state_dir / PREVIOUS).exists()
    # the installer sets a threshold the stored version, laid over it, makes impossible
    toml.write_text(toml.read_text().replace('night_start = "22:00"', 'night_start = "22:00"\nheart_rate_max_bpm = 50'))
    (box.state_dir / CURRENT).write_text(_doc(2, thresholds={"heart_rate_min_bpm": 60}).model_dump_json())
    cfg, st = effective_config(toml)
    assert st.version == 1 and str(cfg.residents[0].thresholds.night_start) == "23:00:00"  # the one before
    (box.state_dir / PREVIOUS).write_text("not json")
    cfg, st = effective_config(toml)
    assert st.version == 0 and str(cfg.residents[0].thresholds.night_start) == "22:00:00"  # the TOML alone


def test_a_toml_that_cannot_be_read_now_refuses_the_version_and_breaks_nothing(tmp_path: Path) -> None:
    toml, box = _box(tmp_path)
    toml.unlink()
    assert not box.offer(_doc(5, thresholds={"night_start": "21:00"}))
    assert box.state.refused_version == 5 and box.state.refused.startswith("(file)")
