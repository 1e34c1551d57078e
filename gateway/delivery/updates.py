"""Software updates on the box: a signed release installed beside the running one, switched to,
and confirmed only once the new version has been healthy for a while (docs/install.md, "Software
updates"). The launcher (``tools/launch.py``) rolls back what is not confirmed in time.

Asked by the community server (``cmd`` ``update``, audited there), in a thread of its own:

1. refused while an alert is open in the home, while another release is pending, or when the box
   was not started by the launcher (nothing could roll it back);
2. the bundle is fetched (bounded, with a timeout) and checked against the release key the box was
   installed with (``contract/releases.py``): signature, size, SHA-256, the version asked for;
3. a virtual environment for the version is made in ``<state_dir>/releases/<version>``, sharing the
   dependencies of the installation, its wheel and the dependency wheels it carries (new ones, or
   newer versions) installed into it, and ``eldergate --version`` run from it: a release that
   cannot even start is refused here;
4. ``current`` points at it, ``update.json`` says *pending* with its deadline, and the gateway
   starts the launcher again, which runs the new release.

The new release confirms itself (``tick``) after ``confirm_after`` of health (every supervised
thread alive, the uplink connected); past its deadline unconfirmed, it stops (``expired``), and
the launcher, whose child it is while it is pending, goes back. Each step's state is in the
status (``update_state``); the server's rollout reads it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from eldergate.config.schema import Updates
from eldergate.contract.releases import MAX_BUNDLE_BYTES, BadRelease, Verified, verify
from eldergate.gateway.core.update_state import LAUNCH_ENV, point, read_state, write_state
from eldergate.gateway.core.version import version

log = logging.getLogger(__name__)
DEPS_PTH = "_eldergate_dependencies.pth"  # a release's link to the installation's dependencies
FETCH_TIMEOUT_S = 120.0


class Refused(Exception):
    pass


class Updater:
    def __init__(self, cfg: Updates, state_dir: Path, open_alerts: Callable[[], int], healthy: Callable[[], bool],
                 changed: Callable[[], None], clock: Callable[[], float] = time.time) -> None:
        self.cfg, self.state_dir = cfg, state_dir
        self.releases = state_dir / "releases"
        self.open_alerts, self.healthy, self.changed, self.clock = open_alerts, healthy, changed, clock
        self.relaunch = False  # a release is installed: start the launcher again, which runs it
        self.expired = False  # this release is past its deadline unconfirmed: stop; the launcher goes back
        self._healthy_since: float | None = None
        self._busy = threading.Lock()
        # the release this process runs, if it is still proving itself: read once, at start (the
        # launcher writes it before; only this process writes it after), not on every loop turn
        started = read_state(state_dir)
        self._proving = started if started.get("state") == "pending" and started.get("version") == version() else None

    # -- what the status says ----------------------------------------------------------------

    def report(self) -> tuple[str, str, str]:
        s = read_state(self.state_dir)
        return str(s.get("version", ""))[:40], str(s.get("state", "")), str(s.get("reason", ""))[:300]

    def _say(self, release: str, state: str, reason: str = "", **more: object) -> None:
        write_state(self.state_dir, {**read_state(self.state_dir), "version": release, "state": state,
                                     "reason": reason[:300], "at": self.clock(), **more})
        (log.warning if state in ("refused", "failed") else log.info)(
            "software update %s: %s%s", release, state, f" ({reason})" if reason else "")
        self.changed()

    # -- asked by the server (core loop) -------------------------------------------------------

    def offer(self, release: str | None, url: str | None) -> None:
        if not release or not url:
            return
        s = read_state(self.state_dir)
        if release == version() or (s.get("version") == release and s.get("state") in ("installing", "pending")):
            self.changed()  # already running or under way: the status says so again
            return
        try:
            if not self.cfg.enabled or self.cfg.public_key_file is None:
                raise Refused("updates are not enabled on this box ([updates] in its configuration)")
            if LAUNCH_ENV not in os.environ:
                raise Refused("this box was not started by the launcher: nothing could roll an update back")
            if s.get("state") == "pending":
                raise Refused(f"release {s.get('version')} is still proving itself")
            if self.open_alerts():
                raise Refused("an alert is open in this home")
        except Refused as why:
            self._say(release, "refused", str(why))
            return
        if not self._busy.acquire(blocking=False):
            return  # one install at a time; the server asks again
        self._say(release, "installing")
        threading.Thread(target=self._install, args=(release, url), name="eg-update", daemon=True).start()

    def _install(self, release: str, url: str) -> None:
        try:
            assert self.cfg.public_key_file is not None
            bundle = verify(_fetch(url), self.cfg.public_key_file.read_bytes(), release)
            target = self._venv(bundle)
            if self.open_alerts():  # an alert raised while installing: not now
                raise Refused("an alert is open in this home")
            current = self.releases / "current"
            point(self.releases / "previous", current.resolve() if current.is_symlink() else None)
            point(current, target)
            self._say(release, "pending", "", previous=version(), deadline=self.clock() + self.cfg.health_window,
                      starts=0, max_starts=self.cfg.max_starts)
            self.relaunch = True
        except (BadRelease, Refused) as why:
            self._say(release, "refused", str(why))
        except (OSError, subprocess.SubprocessError, urllib.error.URLError) as err:
            self._say(release, "failed", f"{type(err).__name__}: {err}")
        finally:
            self._busy.release()

    def _venv(self, bundle: Verified) -> Path:
        """The release's virtual environment, made beside the others, where it will run (a virtual
        environment cannot be moved: its scripts name its interpreter). Its own site holds its wheel
        and the dependencies it brought, found before the installation's (the .pth line comes after
        the site on sys.path): a newer version of one shadows the installation's. Nothing runs it
        until the ``current`` link is switched to it, after it has said its version."""
        release = bundle.manifest.version
        self.releases.mkdir(parents=True, exist_ok=True)
        tmp = self.releases / release
        if tmp.resolve() == (self.releases / "current").resolve():
            raise Refused(f"release {release} is the one running")
        shutil.rmtree(tmp, ignore_errors=True)
        _run([sys.executable, "-m", "venv", "--without-pip", str(tmp)], "make its virtual environment")
        py = tmp / "bin" / "python"
        site = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], "find its site")
        Path(site.strip(), DEPS_PTH).write_text(_dependencies() + "\n")
        wheels = [tmp / bundle.manifest.wheel] + [tmp / name for name in bundle.dependencies]
        for path, data in zip(wheels, [bundle.wheel, *bundle.dependencies.values()], strict=True):
            path.write_bytes(data)
        _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
              "--no-cache-dir", "--disable-pip-version-check", *map(str, wheels)], "install its wheels")
        for path in wheels:
            path.unlink()
        said = _run([str(tmp / "bin" / "eldergate"), "--version"], "start").strip()
        if said.split()[-1:] != [release]:
            raise Refused(f"the new version says it is {said!r}, not {release}")
        return tmp

    # -- the running release (core loop) ---------------------------------------------------------

    def tick(self, now: float) -> None:
        """Confirm this release once healthy long enough; past its deadline unconfirmed, ask for
        the launcher (which goes back to the previous release)."""
        s = self._proving
        if s is None or self.relaunch or self.expired:
            return
        if now > float(s.get("deadline", 0)):
            log.error("software update %s: not healthy within its window: stopping so that the box goes back",
                      version())
            self.expired = True
            return
        if not self.healthy():
            self._healthy_since = None
            return
        self._healthy_since = self._healthy_since or now
        if now - self._healthy_since >= self.cfg.confirm_after:
            self._proving = None
            self._say(version(), "confirmed", "", previous=s.get("previous", ""))
            self._prune(keep={version(), str(s.get("previous", ""))})

    def _prune(self, keep: set[str]) -> None:
        """Old releases go; the running one and the one before stay (what a rollback needs)."""
        if not self.releases.is_dir():
            return
        for d in self.releases.iterdir():
            if d.is_dir() and not d.is_symlink() and d.name not in keep and not d.name.startswith("."):
                shutil.rmtree(d, ignore_errors=True)


def relaunch_command() -> list[str] | None:
    """How to start the launcher again, as it started this process (None: it did not)."""
    raw = os.environ.get(LAUNCH_ENV)
    try:
        cmd = json.loads(raw) if raw else None
    except ValueError:
        return None
    return [str(c) for c in cmd] if isinstance(cmd, list) and cmd else None


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as r:
        data: bytes = r.read(MAX_BUNDLE_BYTES + 1)
    if len(data) > MAX_BUNDLE_BYTES:
        raise BadRelease(f"the bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    return data


def _dependencies() -> str:
    """The site-packages holding the installation's dependencies: this release's own link if it has
    one (it is itself a release), else this environment's."""
    site = Path(sysconfig.get_paths()["purelib"])
    link = site / DEPS_PTH
    return link.read_text().strip() if link.exists() else str(site)


def _run(cmd: list[str], what: str) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONNOUSERSITE": "1"})
    if r.returncode != 0:
        raise Refused(f"the new version could not {what}: {(r.stderr or r.stdout).strip()[-200:]}")
    return r.stdout
