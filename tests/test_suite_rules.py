"""The suite's own rules, checked on its source.

Readiness, not sleeps: a test that sleeps to let something happen passes on this machine and fails
(or, worse, passes vacuously) on a slower one. A test waits on the evidence the processes give
(``testutil.wait_for`` on a log line, a counter, a marker message sent after the thing checked).
A sleep is allowed only as the length of a fault or the pace of a load, and says so on its line:
``# fault: ...`` or ``# pace: ...``; or when it is 0.1 s or less (a poll's own step).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SAID = re.compile(r"#\s*(fault|pace):")
STEP_S = 0.1


def _sleeps(path: Path) -> list[tuple[int, str]]:
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sleep"):
            continue
        arg = node.args[0] if node.args else None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, int | float) and arg.value <= STEP_S:
            continue
        line = lines[node.lineno - 1]
        if not SAID.search(line):
            found.append((node.lineno, line.strip()))
    return found


def test_no_test_sleeps_to_wait_for_something() -> None:
    files = sorted(TESTS.rglob("test_*.py"))
    assert len(files) > 50  # the rule looked at the suite, not at an empty folder
    unsaid = [f"{p.relative_to(TESTS)}:{n}: {line}" for p in files for n, line in _sleeps(p)]
    assert not unsaid, "sleeps that wait instead of watching (wait on evidence, or say '# fault:'/'# pace:'):\n" \
        + "\n".join(unsaid)


def test_the_rule_sees_a_sleep_that_waits(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text("import time\n\ndef test_x():\n    time.sleep(1.0)\n    time.sleep(2)  # fault: down 2 s\n"
                      "    time.sleep(0.05)\n")
    assert _sleeps(sample) == [(4, "time.sleep(1.0)")]
