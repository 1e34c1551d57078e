"""The demo's community: a Mosquitto, ``eldergate community serve`` on SQLite with about 50 homes
(the emulated demo home plus homes simulated at the contract level), and a demo grid worker who
acknowledges and resolves one alert at the end, through the API, as a person would.

Everything runs as separate processes started here (the home's code never imports the community
server's); ports come from the kernel and each listener is checked to be ours before use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from eldergate.gateway.tools.ports import free_port, owns_listener

SITE = "demo-community"
HOME = "demo-home-01"
HOMES = 50
NAMES = [  # invented names for the simulated residents
    "王秀兰", "李桂英", "张淑珍", "刘玉兰", "陈凤英", "杨秀珍", "赵桂兰", "黄玉珍", "周秀英", "吴淑英",
    "徐桂珍", "孙玉英", "胡秀兰", "朱凤兰", "高桂芳", "林秀珍", "何玉梅", "郭淑华", "马桂荣", "罗秀云",
    "梁玉华", "宋淑兰", "郑桂香", "谢秀芳", "韩玉兰", "唐淑珍", "冯桂英", "于秀梅", "董玉芳", "萧淑英",
    "程桂兰", "曹秀华", "袁玉英", "邓淑芳", "许桂珍", "傅秀英", "沈玉兰", "曾淑珍", "彭桂英", "吕秀兰",
    "苏玉珍", "卢淑英", "蒋桂芳", "蔡秀珍", "贾玉华", "丁淑兰", "魏桂香", "薛秀芳", "叶玉梅",
]


def missing() -> str | None:
    """Why the community part cannot run here (None: it can)."""
    import importlib.util

    if importlib.util.find_spec("eldergate.community") is None or importlib.util.find_spec("django") is None:
        return "the community server is not installed (pip install 'eldergate[community]'; ./scripts/demo does)"
    if _mosquitto() is None:
        return "Mosquitto is not installed (./scripts/demo installs it)"
    return None


def _dynsec_plugin() -> str | None:
    """Debian's dynamic security plugin (the package ships it), or None: the demo then runs open."""
    for pattern in ("/usr/lib/*/mosquitto_dynamic_security.so", "/usr/lib/mosquitto_dynamic_security.so"):
        found = sorted(Path("/").glob(pattern.lstrip("/")))
        if found:
            return str(found[0])
    return None


def _mosquitto() -> str | None:
    return shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


class CommunityDemo:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.dir = Path(tempfile.mkdtemp(prefix="eldergate-demo-community-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.broker_url = ""
        self.base = ""
        self.token = ""
        self.wall = ""
        self.console = ""
        self.server: subprocess.Popen[bytes] | None = None
        self.identities = False  # the broker checks who each box is (dynamic security)
        self.broker_dir: Path | None = None
        self.installer = ""

    def _eg(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).with_name("eldergate")), *args]

    def _run(self, *args: str) -> str:
        r = subprocess.run(self._eg("community", *args, "--config", str(self.dir / "community.toml"))
                           if args[0] not in ("init", "broker") else self._eg("community", *args),
                           cwd=self.dir, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"eldergate community {args[0]} failed: {r.stderr.strip()[-500:]}")
        return r.stdout

    def _spawn(self, cmd: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.dir / log).open("ab") as fh:
            p = subprocess.Popen(cmd, cwd=self.dir, stdout=fh, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def _listening(self, proc: subprocess.Popen[bytes], port: int, timeout: float = 30.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and proc.poll() is None:
            if owns_listener(proc.pid, port):
                return True
            time.sleep(0.05)
        return False

    def start(self) -> None:
        mosquitto = _mosquitto()
        assert mosquitto is not None
        # identities as in a real community (deploy/mosquitto-community.conf), on loopback without TLS:
        # the server's own client first, every box's once it is claimed
        # started as root, mosquitto drops to its own user, which must reach and save its store: a
        # folder of its own (self.dir is 0700)
        store = self.broker_dir = Path(tempfile.mkdtemp(prefix="eldergate-demo-broker-"))
        store.chmod(0o777)
        self._run("broker", "init", "--dynsec", str(store / "dynsec.json"), "--credentials",
                  str(self.dir / "server.credentials"))
        (store / "dynsec.json").chmod(0o666)
        plugin = _dynsec_plugin()
        for _ in range(5):  # a port another program takes in between: try another
            port = free_port()
            conf = self.dir / "mosquitto.conf"
            auth = (f"per_listener_settings false\nplugin {plugin}\nplugin_opt_config_file {store}/dynsec.json\n"
                    "allow_anonymous false\n" if plugin else "allow_anonymous true\n")
            conf.write_text(f"{auth}listener {port} 127.0.0.1\npersistence false\n"
                            "max_queued_messages 100000\nset_tcp_nodelay true\n")  # nodelay: -35 ms a receipt
            p = self._spawn([mosquitto, "-c", str(conf)], "mosquitto.log")
            if self._listening(p, port):
                self.broker_url = f"mqtt://127.0.0.1:{port}"
                break
            p.kill()
        else:
            raise RuntimeError("Mosquitto did not start")
        self._run("init", str(self.dir), "--community", SITE, "--name", "幸福里社区", "--street", "幸福街道")
        cfg = self.dir / "community.toml"  # the demo is short: a home whose will fired 15 s ago is offline
        text = cfg.read_text(encoding="utf-8").replace("grace_s = 120", "grace_s = 15")
        if plugin:
            text = text.replace('prefix = "eldergate/v1"', 'prefix = "eldergate/v1"\ncredentials_file = '
                                f'"{self.dir / "server.credentials"}"\nidentities = "dynsec"')
        cfg.write_text(text, encoding="utf-8")
        self.identities = bool(plugin)
        pw = self.dir / "demo-password"
        pw.write_text("demo\n")
        token = self._run("create-user", "li.ming", "--role", "grid-worker", "--community", SITE, "--token",
                          "--password-file", str(pw), "--display-name", "李明").strip().splitlines()[-1]
        self.token = token
        self.installer = self._run("create-user", "zhang.install", "--role", "installer", "--community", SITE,
                                   "--token", "--display-name", "张师傅").strip().splitlines()[-1]
        self._run("import-residents", str(self._residents_csv()))
        self._serve()
        key = self._run("wall-url").strip().rsplit("key=", 1)[1]
        self.wall = f"{self.base}/wall?key={key}"
        # a one-time login link (valid an hour for the demo): opened once, it becomes li.ming's session
        # (the path only: the configuration's public address is not the port this demo's server took)
        link = self._run("login-link", "li.ming", "--minutes", "60").strip().splitlines()[-1]
        self.console = self.base + "/console/link/" + link.rsplit("/console/link/", 1)[1]
        gateways = [f"demo-home-{i:02d}" for i in range(2, HOMES + 1)]
        sim = ["--credentials", str(self.dir / "simulator.credentials")] if self.identities else []
        if self.identities:  # the simulated homes share one site-wide identity (a test rig's, never a box's)
            self._run("identities", "issue", "--site-wide", SITE, "--out", str(self.dir / "simulator.credentials"))
        self._spawn(self._eg("community", "simulate", "--broker", self.broker_url, "--site", SITE,
                             "--gateways", *gateways, *sim), "simulate.log")
        self.out.write(f"community server: {self.base} ({HOMES} homes: this one emulated, "
                       f"{HOMES - 1} simulated at the contract level)\n"
                       f"wall: {self.wall}\nconsole: {self.console}\n"
                       "  (the console link logs in the demo grid worker li.ming once; then log in at "
                       f"{self.base}/console/login as li.ming, password: demo)\n\n")
        self.out.flush()

    def _serve(self, port: int | None = None) -> None:
        for _ in range(5):
            port = port or free_port()
            p = self._spawn(self._eg("community", "serve", "--config", str(self.dir / "community.toml"),
                                     "--broker", self.broker_url, "--listen", f"127.0.0.1:{port}"), "serve.log")
            if self._listening(p, port, 60) and self._healthy(f"http://127.0.0.1:{port}"):
                self.base, self.server = f"http://127.0.0.1:{port}", p
                return
            p.kill()
            port = None
        raise RuntimeError(f"the community server did not start: {(self.dir / 'serve.log').read_text()[-800:]}")

    def restart_server(self) -> None:
        """SIGKILL the server and start it again on the same address (the screens must recover)."""
        assert self.server is not None, "start() first"
        self.server.kill()
        self.server.wait(timeout=10)
        self._serve(int(self.base.rsplit(":", 1)[1]))

    def _healthy(self, base: str, timeout: float = 30.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        return False

    def _residents_csv(self) -> Path:
        rows = ["community,address,building,unit,house_number,site,gateway,resident_id,name,sex,birth_year,"
                "grid_worker,contact1_name,contact1_phone,contact1_role,contact1_consent,keyholder,consent_by,consent_date"]
        for i in range(1, HOMES + 1):
            name = "王奶奶" if i == 1 else NAMES[(i - 2) % len(NAMES)]
            building, unit, room = 1 + (i - 1) // 12, 1 + ((i - 1) // 4) % 3, 101 + (i - 1) % 4 + 100 * ((i - 1) % 6)
            rows.append(f"{SITE},幸福里小区,{building},{unit},{room},{SITE},demo-home-{i:02d},r1,{name},女,"
                        f"{1930 + (i * 7) % 20},li.ming,{name[0]}先生,1390000{i:04d},child,yes,"
                        f"邻居赵阿姨 1380000{i:04d},"
                        "本人,2026-11-01")  # consent to monitoring, recorded: the wall shows vitals
        path = self.dir / "residents.csv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        return path

    def _api(self, path: str, method: str = "GET", body: dict[str, Any] | None = None, token: str = "") -> Any:
        req = urllib.request.Request(f"{self.base}/api/v1{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token or self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    @property
    def site_credentials(self) -> Path | None:
        """The simulated homes' site-wide identity (None: the broker checks no identities)."""
        return self.dir / "simulator.credentials" if self.identities else None

    def claim(self, code: str, gateway: str = HOME, site: str = SITE) -> str:
        """The demo installer claims the box showing ``code`` for its home, as from the console."""
        try:
            got = self._api("/claims", "POST", {"code": code, "site": site, "gateway": gateway}, self.installer)
            return f"installer zhang.install claimed it for {site}/{gateway}: identity {got['username']} issued"
        except (urllib.error.URLError, OSError, KeyError) as err:
            return f"(the claim did not go through: {err})"

    def grid_worker_answers(self) -> str | None:
        """The demo grid worker takes the oldest open critical alert through every step."""
        try:
            items = self._api("/alerts?state=open&limit=500")["items"]
            critical = [a for a in items if a["severity"] == "critical" and not a["acknowledged_by"]]
            if not critical:
                return None
            a = min(critical, key=lambda x: x["raised_at"])
            for step in ("acknowledge", "on-the-way", "arrived"):
                self._api(f"/alerts/{a['ref']}/{step}", "POST")
            self._api(f"/alerts/{a['ref']}/resolve", "POST", {"outcome": "helped", "note": "demo: checked on her"})
            self.out.write(f"grid worker li.ming: acknowledged, on the way, arrived, resolved "
                           f"“{a['title_zh']}” ({a['title_en']}) at {a['gateway']} — outcome: helped\n")
            return str(a["id"])
        except (urllib.error.URLError, OSError, KeyError) as err:
            self.out.write(f"(the demo grid worker could not reach the server: {err})\n")
            return None

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.broker_dir is not None:
            shutil.rmtree(self.broker_dir, ignore_errors=True)
