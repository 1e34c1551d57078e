"""A new box claims its identity: it shows a one-time code, an installer claims it for the home in
the community console, and the box collects its broker credentials from the server.

Until then the box runs the home as usual (alerts are raised and kept in the outbox); the uplink
starts once the credentials are stored (``uplink.credentials_file``, mode 0600). The code and the
box's own key (never shown; it proves that the collecting box is the one that first collected)
are kept beside the credentials in ``<credentials_file>.claim`` (0600) so that a restart shows the
same code. The server answers ``pending`` until the claim is made, ``refused`` with a reason a
person can act on (claimed for another home, collected by another device, revoked: then a new
code is made and shown).
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eldergate.config.schema import Config
from eldergate.contract.claims import new_claim_code

log = logging.getLogger(__name__)
POLL_S = (5.0, 15.0)  # waiting for the installer: every 5-15 s
EAGER_POLL_S = (1.0, 3.0)  # ... but every 1-3 s in the first minute, while the installer stands there
EAGER_FOR_S = 60.0
REFUSED_POLL_S = 60.0


def write_private(path: Path, text: str) -> None:
    """Atomically, readable by this user only (0600), whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@dataclass
class ClaimState:
    code: str
    box_key: str
    state: str = "unclaimed"  # unclaimed | refused | claimed
    why: str = ""


class Claimer:
    def __init__(self, cfg: Config, rng: random.Random | None = None) -> None:
        assert cfg.uplink is not None and cfg.uplink.server_url and cfg.uplink.credentials_file is not None
        self.cfg, self.up = cfg, cfg.uplink
        self.credentials: Path = cfg.uplink.credentials_file
        self.file = self.credentials.with_name(self.credentials.name + ".claim")
        self.rng = rng or random.Random()
        self.done = threading.Event()
        self.polls = 0
        self.claim = self._load()

    @staticmethod
    def needed(cfg: Config) -> bool:
        up = cfg.uplink
        return (up is not None and up.enabled and bool(up.server_url) and up.credentials_file is not None
                and not up.credentials_file.exists())

    def _load(self) -> ClaimState:
        try:
            d = json.loads(self.file.read_text())
            return ClaimState(str(d["code"]), str(d["box_key"]))
        except (OSError, ValueError, KeyError, TypeError):
            return self._new()

    def _new(self) -> ClaimState:
        c = ClaimState(new_claim_code(), secrets.token_urlsafe(32))
        write_private(self.file, json.dumps({"code": c.code, "box_key": c.box_key}))
        return c

    def view(self) -> dict[str, Any]:
        """For the status page and `eldergate commission`: the code, the state, a QR code (SVG)."""
        c = self.claim
        return {"code": c.code, "state": "claimed" if self.done.is_set() else c.state, "why": c.why,
                "gateway": f"{self.cfg.gateway.site}/{self.cfg.gateway.id}", "qr_svg": qr_svg(c.code)}

    def poll(self) -> str:
        """Ask the server once; returns the state (``claimed`` once the credentials are stored)."""
        body = json.dumps({"code": self.claim.code, "box_key": self.claim.box_key,
                           "site": self.cfg.gateway.site, "gateway": self.cfg.gateway.id}).encode()
        url = f"{(self.up.server_url or '').rstrip('/')}/api/v1/claims/collect"
        req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        ctx = ssl.create_default_context(cafile=str(self.up.ca_file) if self.up.ca_file else None)
        self.polls += 1
        try:
            with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
                status, answer = r.status, json.loads(r.read(65_536) or b"{}")
        except urllib.error.HTTPError as err:
            status = err.code
            try:
                answer = json.loads(err.read(65_536) or b"{}")
            except ValueError:
                answer = {}
        except (urllib.error.URLError, OSError, ValueError) as err:
            self._say("unclaimed", f"the community server cannot be reached yet ({getattr(err, 'reason', err)})")
            return self.claim.state
        if status == 200 and answer.get("username") and answer.get("password"):
            write_private(self.credentials, f"{answer['username']}\n{answer['password']}\n")
            log.info("claimed: broker credentials for %s stored in %s", answer["username"], self.credentials)
            self.claim.state, self.claim.why = "claimed", ""
            self.done.set()
        elif status == 202:
            self._say("unclaimed", "")
        elif status == 403:
            why = str(answer.get("why") or "refused")[:200]
            self._say("refused", why)
            if "revoked" in why:  # the installer starts again with a fresh code
                self.claim = self._new()
        else:
            self._say("unclaimed", f"the server answered {status}")
        return self.claim.state

    def _say(self, state: str, why: str) -> None:
        if (state, why) != (self.claim.state, self.claim.why) and why:
            (log.error if state == "refused" else log.warning)("claim %s: %s", self.claim.code, why)
        self.claim.state, self.claim.why = state, why

    def run(self, stop: threading.Event) -> None:
        if self.claim.state == "unclaimed":
            log.warning("this box is not claimed yet: claim code %s — an installer enters it in the community "
                        "console for %s/%s", self.claim.code, self.cfg.gateway.site, self.cfg.gateway.id)
        eager_until = time.monotonic() + EAGER_FOR_S
        while not stop.is_set() and not self.done.is_set():
            state = self.poll()
            if state == "claimed":
                return
            every = EAGER_POLL_S if time.monotonic() < eager_until else POLL_S
            stop.wait(REFUSED_POLL_S if state == "refused" else self.rng.uniform(*every))


def qr_svg(text: str) -> str:
    """The code as an inline SVG QR code (segno), or "" where segno is missing."""
    try:
        import segno
    except ImportError:
        return ""
    import io

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
    return buf.getvalue().decode()
