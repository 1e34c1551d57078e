"""The NATS cluster's users file (``deploy/nats/node.conf`` includes it): every live box identity
as a user allowed MQTT connections only, publishing its own gateway→server subjects and reading
its own ``ack``/``cmd`` and the server's status; and the server's own user. NATS maps an MQTT topic
``a/b/c`` to the subject ``a.b.c`` (https://docs.nats.io/running-a-nats-service/configuration/mqtt).

Written by ``eldergate community identities nats-users`` on each node (a timer, every 30 s), and
reloaded only when it changed: a node reloading its users disconnects those that are gone, so a
revoked box is refused within a minute. Passwords are stored as bcrypt digests of cost 4: they are
random 192-bit tokens (no dictionary to try), and a reconnect storm of ten thousand boxes must not
cost seconds of CPU each (cost 10 is ~60 ms a connection)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import bcrypt

from eldergate.community.identity import acl
from eldergate.contract.messages import GATEWAY_LEAVES

BCRYPT_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class User:
    username: str
    password: str
    site: str = ""
    gateway: str = ""  # empty with a site: every gateway of the site
    server: bool = False


def _subject(prefix: str, *tokens: str) -> str:
    return ".".join([*prefix.split("/"), *tokens])


def permissions(prefix: str, u: User) -> dict[str, object]:
    if u.server:
        return {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    gw = u.gateway or "*"
    return {"publish": {"allow": [_subject(prefix, u.site, gw, leaf) for leaf in GATEWAY_LEAVES]},
            "subscribe": {"allow": [*(_subject(prefix, u.site, gw, leaf) for leaf in acl.SERVER_TO_BOX),
                                    _subject(prefix, "_server", "status")]}}


def render(prefix: str, users: Iterable[User], hashed: dict[str, str] | None = None) -> str:
    """The file's text. ``hashed`` (username -> digest of the same password, from the file in place)
    is reused where the password is unchanged, so an unchanged registry writes an unchanged file."""
    hashed = hashed or {}
    lines = ["# written by `eldergate community identities nats-users`: do not edit (it is rewritten)",
             "authorization {", "  users = ["]
    for u in sorted(users, key=lambda x: (not x.server, x.username)):
        old = hashed.get(u.username, "")
        digest = old if old and bcrypt.checkpw(u.password.encode(), old.encode()) else \
            bcrypt.hashpw(u.password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()
        entry: dict[str, object] = {"user": u.username, "password": digest, "permissions": permissions(prefix, u)}
        if not u.server:
            entry["allowed_connection_types"] = ["MQTT"]  # a box never speaks NATS itself
        lines.append("    " + json.dumps(entry, ensure_ascii=True))  # JSON is valid NATS configuration
    return "\n".join([*lines, "  ]", "}", ""])


def digests(text: str) -> dict[str, str]:
    """username -> bcrypt digest, from a file ``render`` wrote."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            out[str(d.get("user"))] = str(d.get("password"))
    return out
