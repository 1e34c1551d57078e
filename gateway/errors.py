"""One exception root; the subclass says what the caller should do."""

from __future__ import annotations


class EldergateError(Exception):
    """Root of eldergate's own errors."""


class StartupError(EldergateError):
    """The gateway cannot start as configured: report and exit 2."""


class TransientError(EldergateError):
    """A link is down for now: retry with back-off."""


class DeviceGone(TransientError):
    """A serial device disappeared (USB unplugged): reopen with back-off."""


class AuthError(EldergateError):
    """Credentials or certificates refused: report clearly, retry slowly."""
