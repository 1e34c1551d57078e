"""Fixtures shared by the tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from broker import MOSQUITTO, Mosquitto


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    if MOSQUITTO is None:
        pytest.fail("mosquitto is not installed: run ./scripts/test, which installs it")
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.cleanup()
