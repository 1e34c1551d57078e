"""The web side behind the shipped reverse proxy (deploy/nginx-community.conf) with a real nginx and a
certificate from `eldergate community ca`: plain HTTP is sent to HTTPS, a grid worker logs in
through it (CSRF and Secure cookies with behind_proxy), the wall's live stream is not buffered,
the admin pages are not reachable, and the claim collection is rate-limited per address."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker import Mosquitto, free_port, owns_listener
from community_proc import CommunityServer, community
from testutil import ROOT, wait_for

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = [pytest.mark.broker]


class Proxy:
    def __init__(self, upstream_port: int, pki: Path) -> None:
        if NGINX is None:
            pytest.fail("nginx is not installed: run ./scripts/test, which installs it")
        self.dir = Path(tempfile.mkdtemp(prefix="eldergate-nginx-"))
        self.dir.chmod(0o755)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.dir / sub).mkdir(mode=0o777)
            (self.dir / sub).chmod(0o777)  # nginx's workers run as nobody
        self.http_port, self.https_port = free_port(), free_port()
        site = (ROOT / "deploy" / "nginx-community.conf").read_text()
        assert "proxy_set_header X-Forwarded-Proto https;" in site
        site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)  # loopback only here
        site = (site.replace("listen 80;", f"listen 127.0.0.1:{self.http_port};")
                .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;")
                .replace("/etc/eldergate/pki/", f"{pki}/").replace("127.0.0.1:8000", f"127.0.0.1:{upstream_port}"))
        (self.dir / "site.conf").write_text(site)
        d = self.dir
        (d / "nginx.conf").write_text(
            f"daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nworker_processes 1;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n"
            f" fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n"
            f" include {d}/site.conf;\n}}\n")
        self.proc = subprocess.Popen([NGINX, "-c", str(d / "nginx.conf"), "-p", str(d)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        up = wait_for(lambda: self.proc.poll() is not None or all(
            owns_listener(self.proc.pid, p) for p in (self.http_port, self.https_port)), 10)
        assert up and self.proc.poll() is None, (d / "error.log").read_text()[-800:]

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Site:
    def __init__(self, tmp: Path, broker: Mosquitto) -> None:
        self.pki = tmp / "pki"
        for args in (("ca", "init", str(self.pki), "test CA"),
                     ("ca", "issue", str(self.pki), "web", "--host", "127.0.0.1")):
            assert community(*args, cwd=tmp).returncode == 0
        for f in self.pki.iterdir():
            f.chmod(0o644)  # nginx's master reads them as root anyway; its workers never do
        folder = tmp / "server"
        assert community("init", str(folder), "--community", "s1", "--street", "街道", cwd=tmp).returncode == 0
        self.toml = folder / "community.toml"
        server_port = free_port()
        self.proxy = Proxy(server_port, self.pki)
        self.toml.write_text(self.toml.read_text().replace(
            'listen = "127.0.0.1:8000"', f'listen = "127.0.0.1:{server_port}"\nbehind_proxy = true\n'
            f'public_url = "{self.proxy.base}"'))
        pw = tmp / "pw"
        pw.write_text("correct horse\n")
        assert community("create-user", "li.ming", "--role", "grid-worker", "--community", "s1", "--password-file",
                         str(pw), "--config", str(self.toml), cwd=tmp).returncode == 0
        self.wall = community("wall-url", "--config", str(self.toml), cwd=tmp).stdout.strip()
        self.server = CommunityServer(folder, broker.url, extra=("--config", str(self.toml)))
        self.server.port = server_port
        self.server.start()
        self.tls = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))

    def close(self) -> None:
        self.proxy.stop()
        self.server.stop()


@pytest.fixture
def site(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Site]:
    s = Site(tmp_path, mosquitto)
    yield s
    s.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_the_shipped_proxy_serves_the_console_and_the_wall_over_tls_only(site: Site) -> None:
    base = site.proxy.base
    # plain HTTP: sent to HTTPS, nothing served
    plain = http.client.HTTPConnection("127.0.0.1", site.proxy.http_port, timeout=5)
    plain.request("GET", "/console/login")
    r = plain.getresponse()
    assert r.status == 301 and r.getheader("Location", "").startswith("https://")
    plain.close()

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=site.tls),
                                         urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    with opener.open(f"{base}/api/v1/health", timeout=10) as r:
        assert r.status == 200 and "max-age" in r.headers.get("Strict-Transport-Security", "")
    with opener.open(f"{base}/console/login", timeout=10) as r:
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', r.read())
    assert token is not None
    assert all(c.secure for c in jar if c.name == "csrftoken"), "the CSRF cookie must be Secure behind TLS"
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1).decode(), "username": "li.ming",
                                   "password": "correct horse", "next": "/console"}).encode()
    req = urllib.request.Request(f"{base}/console/login", data=form, headers={
        "Referer": f"{base}/console/login", "Origin": base, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        opener.open(req, timeout=10)
        raise AssertionError("the login did not redirect")
    except urllib.error.HTTPError as err:
        assert err.code == 302 and err.headers["Location"] == "/console", err.read()[:300]
    session = [c for c in jar if c.name == "sessionid"]
    assert session and session[0].secure, "the session cookie must be Secure behind TLS"

    # the admin pages are not on the street
    try:
        opener.open(f"{base}/admin/", timeout=10)
        raise AssertionError("the admin pages answered through the proxy")
    except urllib.error.HTTPError as err:
        assert err.code == 404

    # the wall's live stream comes through unbuffered: its first event within seconds
    key = site.wall.rsplit("key=", 1)[1]
    conn = http.client.HTTPSConnection("127.0.0.1", site.proxy.https_port, context=site.tls, timeout=15)
    t0 = time.monotonic()
    conn.request("GET", f"/wall/events?key={key}")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type", "").startswith("text/event-stream")
    first = resp.fp.readline()
    assert first and time.monotonic() - t0 < 10, "the stream was buffered by the proxy"
    conn.close()


def test_the_proxy_limits_claim_collection_per_address(site: Site) -> None:
    body = b'{"code": "ABCDE-FGH23", "box_key": "kkkkkkkkkkkkkkkkkkkkkkkk", "site": "s1", "gateway": "gw1"}'
    statuses = []
    for _ in range(60):  # bounded: a burst from one address
        conn = http.client.HTTPSConnection("127.0.0.1", site.proxy.https_port, context=site.tls, timeout=10)
        conn.request("POST", "/api/v1/claims/collect", body=body, headers={"Content-Type": "application/json"})
        statuses.append(conn.getresponse().status)
        conn.close()
    assert statuses[0] == 202 and 429 in statuses, statuses
