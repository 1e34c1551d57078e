"""Real releases for the update tests: the project's own wheel (built once per session with pip),
copied under another version, optionally made to fail at `eldergate run` (a release that installs
and says its version, then cannot start), and signed into bundles served over loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROKEN_RUN = "    raise SystemExit('this release cannot start')  # sabotaged by tests/releases.py\n"


def project_wheel(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "--disable-pip-version-check", "-w", str(out), str(ROOT)], check=True, capture_output=True)
    return next(out.glob("eldergate-*.whl"))


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def retag(wheel: Path, version: str, out: Path, broken: bool = False, needs: str | None = None) -> Path:
    """The same wheel as ``version`` (its metadata, dist-info and RECORD rewritten); ``needs``: a
    module its command line imports first, so that it cannot even say its version without it."""
    old = wheel.name.split("-")[1]
    target = out / f"eldergate-{version}-py3-none-any.whl"
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            data = z.read(name)
            name = name.replace(f"eldergate-{old}.dist-info", f"eldergate-{version}.dist-info")
            if name.endswith(".dist-info/METADATA"):
                data = data.replace(f"\nVersion: {old}\n".encode(), f"\nVersion: {version}\n".encode())
            if broken and name == "eldergate/gateway/tools/cli.py":
                head = b"def cmd_run(args: argparse.Namespace) -> int:\n"
                assert head in data
                data = data.replace(head, head + BROKEN_RUN.encode())
            if needs and name == "eldergate/gateway/tools/cli.py":
                future = b"from __future__ import annotations\n"
                assert future in data
                data = data.replace(future, future + f"import {needs}  # noqa: F401  (tests/releases.py)\n".encode())
            files[name] = data
    _write_wheel(target, files)
    return target


def _write_wheel(target: Path, files: dict[str, bytes]) -> None:
    record = next(n for n in files if n.endswith(".dist-info/RECORD"))
    lines = [_record_line(n, d) for n, d in files.items() if n != record] + [f"{record},,"]
    files[record] = ("\n".join(lines) + "\n").encode()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)


def dependency_wheel(out: Path, name: str, version: str = "1.0") -> Path:
    """A pure-Python wheel of one module ``name`` (``VERSION = version``): a dependency the
    installation lacks, for a release to bring."""
    info = f"{name}-{version}.dist-info"
    target = out / f"{name}-{version}-py3-none-any.whl"
    _write_wheel(target, {
        f"{name}.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests/releases.py\nRoot-Is-Purelib: true\n"
                          b"Tag: py3-none-any\n",
        f"{info}/RECORD": b""})
    return target


class BundleServer:
    """The community server's part, for the box's tests: bundles over loopback HTTP."""

    def __init__(self, folder: Path) -> None:
        handler = partial(_Quiet, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass
