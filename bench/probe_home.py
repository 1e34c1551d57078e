"""One probe home in a process of its own, so that a fresh fall's latency is what a real home
feels, not the wait of the load generator's event loop (which also serves 10,000 simulated
gateways on the same core). Driven by bench/community_load.py through its standard streams:

    stdin:  "raise <alert id> <kind>"   (one line each)
    stdout: {"connected": true|false} when that changes, {"id": ..., "latency": s} per receipt

    .venv/bin/python bench/probe_home.py URL [URL ...] --site probe --gateway probe-gw
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from contract_gateways import Figures, Gateway, brokers_of, shutdown


async def main_async(urls: list[str], site: str, gateway: str, qos: int) -> None:
    fig = Figures()
    probe = Gateway(site, gateway, brokers_of(urls), fig, random.Random(1), subscribe_qos=qos)
    probe.telemetry = False
    task = asyncio.create_task(probe.run())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    said_connected = False
    reported = 0

    async def report() -> None:
        nonlocal said_connected, reported
        while True:
            if probe.connected.is_set() != said_connected:
                said_connected = probe.connected.is_set()
                print(json.dumps({"connected": said_connected}), flush=True)
            while reported < len(fig.receipt_order):
                aid, latency = fig.receipt_order[reported]
                print(json.dumps({"id": aid, "latency": latency}), flush=True)
                reported += 1
            await asyncio.sleep(0.005)

    reporter = asyncio.create_task(report())
    try:
        while line := (await reader.readline()).decode().strip():
            _cmd, aid, kind = line.split()
            probe.raise_alert(kind, "critical", aid=aid)
    finally:
        reporter.cancel()
        await shutdown([probe], [task])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("urls", nargs="+")
    ap.add_argument("--site", default="probe")
    ap.add_argument("--gateway", default="probe-gw")
    ap.add_argument("--qos", type=int, default=1)
    args = ap.parse_args()
    asyncio.run(main_async(args.urls, args.site, args.gateway, args.qos))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
