"""Every alert kind has all its facets (contract/alert_kinds.py): the box's kinds, the server's
own (`home_offline`), and the lost-elder kinds; words in both languages, a procedure in both."""

from __future__ import annotations

from eldergate.contract.alert_kinds import KINDS, SEVERITY_EN, SEVERITY_ZH
from eldergate.gateway.core.alerts import RAISES, AlertKind


def test_every_kind_the_box_raises_has_every_facet() -> None:
    for kind in [*AlertKind, "home_offline", "not_back", "found_by_passerby"]:
        f = KINDS.get(str(kind))
        assert f is not None, f"{kind} has no facets in contract/alert_kinds.py"
        assert f.zh and f.en and f.steps_zh and f.steps_en, kind
        assert all(isinstance(s, str) and s for s in (*f.steps_zh, *f.steps_en)), kind
        assert len(f.steps_zh) == len(f.steps_en), kind
        assert f.severity in SEVERITY_ZH and f.severity in SEVERITY_EN
        assert f.emergency in (None, "119", "120")


def test_the_box_raises_each_kind_at_its_usual_severity() -> None:
    for kind, severity in RAISES.values():
        assert KINDS[str(kind)].severity == str(severity), kind
