"""The installed version, for --version and the status message."""

from __future__ import annotations

from importlib import metadata


def version() -> str:
    try:
        return metadata.version("eldergate")
    except metadata.PackageNotFoundError:
        return "0+unknown"
