"""The database side of a city (#19): PostgreSQL with a synchronous streaming standby, and the
server's database URL naming both (libpq keeps the one that accepts writes). The primary is
killed (immediate stop: no shutdown checkpoint, as a power cut) right after a burst, the standby
is promoted, and every alert the gateways were told is received is on the promoted standby: with
``synchronous_standby_names`` a commit, and so a receipt, waits until the standby has it. Then the
same server process goes on storing on the new primary without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from broker import Mosquitto
from community_proc import CommunityServer, community
from contract_gateways import Figures, fleet, shutdown, until
from pg import Postgres

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_primary_killed_standby_promoted_no_receipted_alert_lost(tmp_path: Path, mosquitto: Mosquitto) -> None:
    primary = Postgres().start("-c synchronous_standby_names=*")
    standby = Postgres()
    try:
        standby.start(standby_of=primary)
        primary.create_db("city")  # replicated to the standby like everything else
        db = f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/city"
        folder = tmp_path / "server"
        assert community("init", str(folder), "--community", "load-00", "--db", db, cwd=tmp_path).returncode == 0
        cfg = ("--config", str(folder / "community.toml"))
        token = community("create-user", "ops", "--role", "platform-operator", "--token", *cfg,
                          cwd=tmp_path).stdout.strip().splitlines()[-1]
        server = CommunityServer(folder / "run", mosquitto.url, extra=cfg).start()
        fig = Figures()

        async def run() -> tuple[list[str], list[str]]:
            gws = fleet(20, [mosquitto.url], fig, vitals_every=2.0, events_every=10.0)
            tasks = [asyncio.create_task(g.run(start_within=1.0)) for g in gws]
            assert await until(lambda: all(g.connected.is_set() for g in gws), 30)
            before = [g.raise_alert() for g in gws]
            assert await until(lambda: fig.receipted >= set(before), 30)
            primary.stop()  # pg_ctl -m immediate: no checkpoint, no goodbye
            after = [g.raise_alert("gas", "critical") for g in gws]  # raised while there is no primary
            await asyncio.sleep(1.0)  # fault: a second with no primary at all
            standby.promote()
            assert await until(lambda: fig.receipted >= set(after), 90), \
                f"{len(set(after) - fig.receipted)} alerts raised across the failover never receipted"
            await shutdown(gws, tasks)
            return before, after

        before, after = asyncio.run(run())
        ids = [a["id"] for a in server.all_alerts(token)]
        assert len(ids) == len(set(ids)) == 40 and set(ids) == set(before) | set(after)
        assert server.healthy()  # the same process, now on the promoted standby
        server.stop()
    finally:
        standby.cleanup()
        primary.cleanup()
