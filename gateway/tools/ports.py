"""Ports for the servers the demo starts: a free one from the kernel, and a check that the listener
on it is the process we started (another program may take a port between our choice and our
server's start; then we must not talk to it). The tests use the same two."""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["free_port", "owns_listener"]


def owns_listener(pid: int, port: int) -> bool:
    """Is the TCP listener on ``port`` (IPv4 or IPv6) a socket of process ``pid``? Another program may
    have taken the port between our choice and our server's start: then we must not talk to it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f[9])
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
