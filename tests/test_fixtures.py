"""Every parser over every recorded fixture (tests/fixtures/<protocol>/, written by record.py):
fed whole, a byte at a time, in random chunks and after garbage, it reads exactly what was
recorded. A protocol in the registry without a fixture fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eldergate.drivers.base import StreamParser
from eldergate.drivers.protocols import PROTOCOLS, message_parser, stream_parser

FIXTURES = Path(__file__).resolve().parent / "fixtures"
STREAMS = sorted(FIXTURES.glob("*/*.bin"))
MESSAGES = sorted(FIXTURES.glob("*/*.json"))


def _read_all(p: StreamParser, chunks: list[bytes]) -> list[dict[str, object]]:
    out = [r for c in chunks for r in p.feed(c)]
    flush = getattr(p, "flush", None)
    if flush is not None:
        out += flush()
    return [json.loads(json.dumps(r.to_json(), sort_keys=True)) for r in out]


def _expected(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.with_suffix(".expected.jsonl").read_text().splitlines() if line]


def test_every_protocol_has_a_fixture() -> None:
    have = {p.parent.name for p in [*STREAMS, *MESSAGES]}
    assert set(PROTOCOLS) - have == set(), "record a fixture: tests/fixtures/record.py"


@pytest.mark.parametrize("path", STREAMS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_stream_fixture_whole_and_bytewise(path: Path) -> None:
    data, expected = path.read_bytes(), _expected(path)
    assert expected, "a fixture that reads nothing proves nothing"
    whole = stream_parser(path.parent.name)
    assert _read_all(whole, [data]) == expected
    assert whole.stats.dropped_bytes == 0 and whole.stats.bad_checksum == 0
    assert _read_all(stream_parser(path.parent.name), [data[i : i + 1] for i in range(len(data))]) == expected


@pytest.mark.parametrize("path", STREAMS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_stream_fixture_after_garbage_is_found_and_the_garbage_counted(path: Path) -> None:
    garbage = bytes([0x00, 0x11, 0x22, 0x33]) * 8  # none of the protocols' start bytes
    p = stream_parser(path.parent.name)
    assert _read_all(p, [garbage + path.read_bytes()]) == _expected(path)
    assert p.stats.dropped_bytes == len(garbage)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_stream_fixtures_in_any_chunking(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(STREAMS))
    raw = path.read_bytes()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=20)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert _read_all(stream_parser(path.parent.name), chunks) == _expected(path)


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_message_fixture(path: Path) -> None:
    doc = json.loads(path.read_text())
    p = message_parser(path.parent.name, doc["topic"], doc["options"])
    for m in doc["messages"]:
        got = [json.loads(json.dumps(r.to_json(), sort_keys=True)) for r in p.feed_message(m["topic"],
                                                                                            m["payload"].encode())]
        assert got == m["readings"], m["payload"]
    assert p.stats.malformed >= 1  # each fixture carries at least one broken payload, counted and skipped
