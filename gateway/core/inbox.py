"""What the core loop's one queue carries: readings from the drivers, the markers that confirm a
home-broker message once its readings are processed, and the community server's messages."""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass

from eldergate.contract.desired_config import ConfigMessage
from eldergate.contract.messages import AckMessage, CommandMessage
from eldergate.drivers.readings import Reading


@dataclass(frozen=True, slots=True)
class Processed:
    """Follows a message's readings on the queue: when the core loop reaches it, they are processed
    and what they raised is committed, so the broker may let the message go (``confirm``)."""

    confirm: Callable[[], object]


InboxItem = Reading | Processed | AckMessage | CommandMessage | ConfigMessage
Inbox = queue.Queue[InboxItem]
