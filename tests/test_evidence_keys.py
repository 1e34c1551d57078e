"""An alert's evidence speaks the contract's words (contract/evidence.py): every key the box's
detectors put in an event's details is there, and every key there is written by someone (the box's
detectors or alert engine, or the server's own alerts), so the server never renders a figure no
box sends. The scan reads the source: the keyword arguments of ``Event(...)`` and ``_event(...)``,
``details={...}`` literals and ``details["key"] = ...`` assignments."""

from __future__ import annotations

import ast
from pathlib import Path

from eldergate.contract.evidence import EVIDENCE, EvidenceKey, known

from testutil import ROOT

_EVENT_FIELDS = {"t", "name", "resident", "room", "sensor", "value", "details"}
BOX = [*sorted((ROOT / "signal").glob("*.py")), *sorted((ROOT / "gateway" / "core").glob("*.py"))]


def _literal_keys(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Dict):
        return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return set()


def _called(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def details_keys(path: Path) -> set[str]:
    keys: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and _called(node) in ("Event", "_event"):
            keys |= {k.arg for k in node.keywords if k.arg and k.arg not in _EVENT_FIELDS}
            keys |= set().union(*(_literal_keys(k.value) for k in node.keywords if k.arg == "details"))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == "details" and node.value is not None:
                    keys |= _literal_keys(node.value)
                if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                        and target.value.id == "details" and isinstance(target.slice, ast.Constant)):
                    keys.add(str(target.slice.value))
    return keys


def test_the_scan_finds_the_keys_it_is_meant_to_find() -> None:
    falls = details_keys(ROOT / "signal" / "falls.py")
    outings = details_keys(ROOT / "signal" / "outings.py")
    assert {"down_s", "drop_m", "speed_ms"} <= falls
    assert {"out_min", "outdoor_c", "usual_min", "why"} <= outings  # a literal and a subscript assignment


def test_every_key_a_detector_writes_is_in_the_contract() -> None:
    unknown = {f"{p.relative_to(ROOT)}: {k}" for p in BOX for k in details_keys(p) if k not in set(EvidenceKey)}
    assert not unknown, f"details keys missing from contract/evidence.py: {sorted(unknown)}"


def test_every_key_in_the_contract_has_a_unit_and_a_writer() -> None:
    assert set(EVIDENCE) == set(EvidenceKey)
    written = set().union(*(details_keys(p) for p in BOX))
    sources = "\n".join(p.read_text() for folder in ("gateway", "community")
                        for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)
    for key in EvidenceKey:
        assert EVIDENCE[key][1], key  # what it is (a word, a flag or an id has no unit)
        assert key in written or f'"{key}"' in sources or f"K.{key.name}" in sources, \
            f"{key} is in the contract but nothing writes it"


def test_a_reader_drops_keys_it_does_not_know() -> None:
    assert known({"down_s": 61.0, "from_a_newer_box": 1}) == {"down_s": 61.0}
