"""What each identity may do on the broker, as Mosquitto dynamic-security roles.

A box publishes only its own gateway→server leaves and reads only its own ``ack``/``cmd`` and the
server's status (docs/contract.md). The server reads every gateway's leaves (and the broker's
``$SYS`` counters), publishes ``ack``/``cmd`` to any box and its own status, and administers the
identities (``$CONTROL/dynamic-security``). Nobody else may do anything: dynamic security's
defaults deny publishing and subscribing, and anonymous clients are refused by the listener.

ACL types and their meaning: https://mosquitto.org/documentation/dynamic-security/ (acltype
``publishClientSend`` = what a client may publish, ``publishClientReceive`` = what it may be
delivered, ``subscribePattern`` = subscription filters it may ask for, matched as patterns)."""

from __future__ import annotations

from typing import Any

from eldergate.contract.messages import GATEWAY_LEAVES

SERVER_TO_BOX = ("ack", "cmd", "config")
SERVER_ROLE = "eldergate-server"
ADMIN_ROLE = "eldergate-identities"
CONTROL = "$CONTROL/dynamic-security/v1"


def _allow(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def box_role_name(username: str) -> str:
    return f"box:{username}"


def box_acls(prefix: str, site: str, gateway: str) -> list[dict[str, Any]]:
    """``gateway`` empty: every gateway of the site (a site-wide tool, never a box)."""
    gw = gateway or "+"
    own = f"{prefix}/{site}/{gw}"
    acls = [_allow("publishClientSend", f"{own}/{leaf}") for leaf in GATEWAY_LEAVES]
    for leaf in SERVER_TO_BOX:
        acls += [_allow("subscribePattern", f"{own}/{leaf}"), _allow("publishClientReceive", f"{own}/{leaf}")]
    status = f"{prefix}/_server/status"
    return [*acls, _allow("subscribePattern", status), _allow("publishClientReceive", status)]


def server_acls(prefix: str) -> list[dict[str, Any]]:
    acls = [_allow("subscribePattern", f"{prefix}/#"), _allow("publishClientReceive", f"{prefix}/#"),
            _allow("subscribePattern", "$SYS/#"), _allow("publishClientReceive", "$SYS/#")]
    acls += [_allow("publishClientSend", f"{prefix}/+/+/{leaf}") for leaf in SERVER_TO_BOX]
    return [*acls, _allow("publishClientSend", f"{prefix}/_server/status")]


def admin_acls() -> list[dict[str, Any]]:
    return [_allow("publishClientSend", f"{CONTROL}"), _allow("subscribePattern", f"{CONTROL}/response"),
            _allow("publishClientReceive", f"{CONTROL}/response")]


def box_client_id(site: str, gateway: str) -> str:
    """The MQTT client id a box uses (gateway/delivery/uplink.py): bound to its identity, so that a
    stolen identity cannot take over another box's persistent session either."""
    return f"eldergate-{site}-{gateway}"
