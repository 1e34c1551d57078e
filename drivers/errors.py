"""One exception root for all of eldergate; the subclass says what the caller does with it.

As in python-kasa, the type decides: ``retry`` is "never" (the input or the configuration is
wrong: report it, skip or stop), "backoff" (a link is down for now: try again, waiting longer
each time) or "slowly" (we are refused who we are: say so once, try again every few minutes).
It lives in drivers/, the lowest layer, so that every folder may raise and catch it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

Retry = Literal["never", "backoff", "slowly"]


class EldergateError(Exception):
    """Root of eldergate's own errors."""

    retry: ClassVar[Retry] = "never"


class InputError(EldergateError):
    """Bad input: a frame or payload (counted and skipped), a capture or a protocol name given on
    the command line (a one-line error, exit 2). Trying the same input again cannot help."""


class MalformedPayload(InputError, ValueError):
    """An MQTT payload that does not decode (not JSON, not an object, over the size cap)."""


class ConfigurationError(InputError):
    """The configuration cannot be used: refused at start, naming the field, exit 2."""


class TransientError(EldergateError):
    """A link is down for now (a serial device gone, a radar refusing its configuration, a
    database or broker unreachable): retried with back-off."""

    retry = "backoff"


class AuthenticationError(EldergateError):
    """A server refused our credentials or certificate: reported once, retried slowly."""

    retry = "slowly"


class RejectedError(EldergateError):
    """A server refused what we sent as wrong (HTTP 400, 413, 422...): sending it again cannot
    help, so it is dropped and counted."""
