"""The dynamic security plugin's first file (``eldergate community broker init``): the server's own
client, which reads every gateway's leaves and administers the identities; nothing else exists,
and the defaults deny. No Django here: it is written before there is a database."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from eldergate.community.identity import acl


def _hashed(password: str, iterations: int = 101) -> dict[str, Any]:
    """The plugin's stored form: PBKDF2-HMAC-SHA512 of the password with a random salt, base64.
    (101 iterations is the plugin's own default; these passwords are random, not chosen by people.)"""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return {"password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": iterations}


def initial_store(prefix: str, server_username: str, server_password: str) -> dict[str, Any]:
    """The dynamic security plugin's first file: the server's client and nothing else."""
    return {
        "clients": [{"username": server_username, "textname": "eldergate community server",
                     **_hashed(server_password),
                     "roles": [{"rolename": acl.SERVER_ROLE}, {"rolename": acl.ADMIN_ROLE}]}],
        "roles": [{"rolename": acl.SERVER_ROLE, "acls": acl.server_acls(prefix)},
                  {"rolename": acl.ADMIN_ROLE, "acls": acl.admin_acls()}],
        "groups": [],
        # nobody may publish or subscribe but by a role; an unsubscription is always harmless
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": True},
    }
