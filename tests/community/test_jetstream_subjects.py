"""MQTT topics and NATS subjects map as NATS maps them (docs.nats.io, MQTT): ``/`` is ``.`` and
``.`` is ``//``; the ingest reads a gateway's site and id back from the subject it pulled."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st


def test_a_topic_becomes_the_subject_nats_gives_it(db: Any) -> None:
    from eldergate.community.ingest.jetstream import subject, topic_levels

    assert subject("eldergate/v1/kz.7/gw1/alerts") == "eldergate.v1.kz//7.gw1.alerts"
    assert topic_levels("eldergate.v1.kz//7.gw1.alerts") == ["eldergate", "v1", "kz.7", "gw1", "alerts"]


@given(st.lists(st.text(alphabet="abcdefghij0123456789-_", min_size=1, max_size=8), min_size=1, max_size=5),
       st.booleans())
def test_levels_without_dots_round_trip(django_cfg: Any, levels: list[str], dotted: bool) -> None:
    from eldergate.community.ingest.jetstream import subject, topic_levels

    if dotted:
        levels = [*levels[:-1], f"{levels[-1]}.x"]
    assert topic_levels(subject("/".join(levels))) == levels
