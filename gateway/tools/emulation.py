"""Virtual serial devices on pseudo-terminals, for the demo and the tests.

A ``VirtualSerialPort`` owns a pty pair and a stable symlink to its slave end (like
``/dev/serial/by-id/...``), so the gateway opens the same path after an "unplug" and
"replug" even though the kernel hands out a new ``/dev/pts/N``. A ``FrameEmulator``
writes a device's byte-exact frames to it, optionally split or corrupted.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import random
import select
import termios
import threading
import tty
from collections.abc import Callable
from pathlib import Path

from eldergate.drivers.readings import Reading


class VirtualSerialPort:
    def __init__(self, link: Path) -> None:
        self.link = link
        self._lock = threading.Lock()
        self._master: int | None = None
        self._slave: int | None = None
        self.bytes_written = 0
        self.dropped_writes = 0
        self.plug()

    def plug(self) -> None:
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no CR/LF translation: bytes pass as they are
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            tmp = self.link.with_name(self.link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(os.ttyname(slave))
            tmp.replace(self.link)

    def unplug(self) -> None:
        """Like pulling the USB cable: the reader gets an error, the path disappears."""
        with self._lock:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def write(self, data: bytes, timeout: float = 0.5) -> bool:
        """Write all of ``data`` unless the reader stalls for ``timeout``; False if dropped."""
        view = memoryview(data)
        while view:
            with self._lock:
                fd = self._master
                if fd is None:
                    self.dropped_writes += 1
                    return False
                try:
                    n = os.write(fd, view)
                except BlockingIOError:
                    n = 0
                except OSError:
                    self.dropped_writes += 1
                    return False
            self.bytes_written += n
            view = view[n:]
            if view:
                _, ready, _ = select.select([], [fd], [], timeout)
                if not ready:
                    self.dropped_writes += 1
                    return False
        return True

    def unread(self) -> int:
        """Bytes written that no reader has taken yet (FIONREAD on the terminal side): 0 once the
        gateway has read everything, or discarded what came before it opened the port."""
        with self._lock:
            if self._slave is None:
                return 0
            buf = array.array("i", [0])
            fcntl.ioctl(self._slave, termios.FIONREAD, buf)
            return int(buf[0])

    def read_available(self) -> bytes:
        """Bytes the host wrote to the device (commands), if any."""
        with self._lock:
            if self._master is None:
                return b""
            try:
                return os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                return b""

    def close(self) -> None:
        self.unplug()


class FrameEmulator:
    """Encodes readings into a device's frames and writes them to a virtual port."""

    def __init__(self, port: VirtualSerialPort, encode: Callable[[Reading], bytes], seed: int = 0) -> None:
        self.port, self.encode = port, encode
        self.rng = random.Random(seed)
        self.frames = 0

    def send(self, *readings: Reading, corrupt: bool = False, split: bool = False) -> None:
        data = b"".join(self.encode(r) for r in readings)
        if corrupt and data:
            i = self.rng.randrange(len(data))
            data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1 :]
        if split and len(data) > 1:
            cut = self.rng.randrange(1, len(data))
            self.port.write(data[:cut])
            self.port.write(data[cut:])
        else:
            self.port.write(data)
        self.frames += len(readings)
