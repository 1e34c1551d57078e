"""Every alert kind has all its facets (contract/alert_kinds.py): the box's kinds, the server's
own (`home_offline`, `found_by_passerby`); words in both languages, a procedure in both, what
raises it and what ends it. The box's alert engine takes its rules from the same table."""

from __future__ import annotations

from collections import Counter

from eldergate.contract.alert_kinds import KINDS, SEVERITY_EN, SEVERITY_ZH, AlertKind, facets
from eldergate.contract.events import EventName
from eldergate.gateway.core.alerts import CLEARS, CLOSED_BY_ACK, RAISES


def test_every_kind_has_every_facet() -> None:
    for kind in AlertKind:
        f = KINDS.get(kind)
        assert f is not None, f"{kind} has no facets in contract/alert_kinds.py"
        assert f.kind == kind and facets(str(kind)) is f
        assert f.zh and f.en and f.steps_zh and f.steps_en, kind
        assert all(isinstance(s, str) and s for s in (*f.steps_zh, *f.steps_en)), kind
        assert len(f.steps_zh) == len(f.steps_en), kind
        assert f.severity in SEVERITY_ZH and f.severity in SEVERITY_EN
        assert f.emergency in (None, "119", "120")
        if f.origin == "server":
            assert not f.raised_by and not f.cleared_by, f"{kind}: the server raises and ends it itself"
        else:
            assert f.cleared_by or f.closed_by_ack, f"{kind}: nothing ends it"
            assert not (f.cleared_by and f.closed_by_ack), kind
    assert set(KINDS) == set(AlertKind)


def test_an_event_raises_or_clears_one_kind_at_most() -> None:
    raised = Counter(e for f in KINDS.values() for e in f.raised_by)
    cleared = Counter(e for f in KINDS.values() for e in f.cleared_by)
    assert all(n == 1 for n in raised.values()), raised
    assert all(n == 1 for n in cleared.values()), cleared
    assert not set(raised) & set(cleared)
    assert all(isinstance(e, EventName) for e in (*raised, *cleared))


def test_the_box_engine_follows_the_contract() -> None:
    for f in KINDS.values():
        for e in f.raised_by:
            assert RAISES[e] == (f.kind, f.severity)
        for e in f.cleared_by:
            assert CLEARS[e] == f.kind
        assert (f.kind in CLOSED_BY_ACK) == f.closed_by_ack
    assert {k for k, _ in RAISES.values()}.isdisjoint({AlertKind.HOME_OFFLINE, AlertKind.FOUND_BY_PASSERBY})
