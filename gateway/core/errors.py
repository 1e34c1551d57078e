"""One exception root; the subclass says what the caller should do."""

from __future__ import annotations


class EldergateError(Exception):
    """Root of eldergate's own errors."""


class TransientError(EldergateError):
    """A link is down for now (a serial device gone, a radar refusing its configuration):
    the transport retries with back-off. Configuration errors are eldergate.config.ConfigError
    (exit 2 at start); refused credentials are reported by the uplink and retried slowly."""
