"""The limits every contract payload keeps, and the check of its free-form parts (an alert's
evidence, an event's details, a summary's figures).

The server refuses what breaks them before anything is stored (docs/contract.md, "Limits"); the
box cleans its own free-form parts with ``clean_bag`` before it sends them, so an honest box never
trips them (a NaN from an estimator becomes null rather than a refused alert).
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

MAX_PAYLOAD_BYTES = 65_536  # a whole message; the brokers refuse larger ones too (deploy/)
MAX_EVIDENCE_BYTES = 4_096
MAX_DETAILS_BYTES = 4_096
MAX_FIGURES_BYTES = 16_384
MAX_DEPTH = 3  # {"a": {"b": [1, 2]}} is depth 3
# a diagnostic capture as the box posts it (gzip'd): the box leaves its oldest items out to keep
# under it, the server refuses more (gateway/delivery/diagnostic_capture.py, community/work/diagnostic_captures.py)
MAX_CAPTURE_BYTES = 16 << 20
MAX_KEYS = 64  # per object
MAX_KEY_CHARS = 64
MAX_TEXT_CHARS = 500
MAX_NUMBER = 1e12


def bounded_bag(value: dict[str, Any], limit_bytes: int) -> dict[str, Any]:
    """``value`` if it is small, shallow JSON with finite numbers; ValueError naming what is not."""
    _check(value, 1)
    size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    if size > limit_bytes:
        raise ValueError(f"{size} bytes, more than {limit_bytes}")
    return value


def _check(v: Any, depth: int) -> None:
    if v is None or isinstance(v, bool | str | int | float):
        if isinstance(v, str) and len(v) > MAX_TEXT_CHARS:
            raise ValueError(f"a text of {len(v)} characters, more than {MAX_TEXT_CHARS}")
        if isinstance(v, str) and "\x00" in v:
            raise ValueError("a text with a NUL character")
        if isinstance(v, int | float) and not isinstance(v, bool) and not (
                math.isfinite(v) and abs(v) <= MAX_NUMBER):
            raise ValueError(f"a number out of range ({v!r})")
        return
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH}")
    if isinstance(v, dict):
        if len(v) > MAX_KEYS:
            raise ValueError(f"{len(v)} keys, more than {MAX_KEYS}")
        for k, item in v.items():
            if not isinstance(k, str) or not k or len(k) > MAX_KEY_CHARS or "\x00" in k:
                raise ValueError(f"a key that is not a name of 1-{MAX_KEY_CHARS} characters")
            _check(item, depth + 1)
    elif isinstance(v, list):
        if len(v) > MAX_KEYS:
            raise ValueError(f"a list of {len(v)} items, more than {MAX_KEYS}")
        for item in v:
            _check(item, depth + 1)
    else:
        raise ValueError(f"a {type(v).__name__}, which JSON has not")


def clean_bag(value: dict[str, Any], limit_bytes: int) -> dict[str, Any]:
    """The box's side: what ``bounded_bag`` would accept, made from ``value`` by dropping what it
    would refuse (non-finite numbers become null, long texts are cut, deep or extra parts dropped)."""
    out = _clean(value, 1)
    cleaned: dict[str, Any] = out if isinstance(out, dict) else {}
    while cleaned and len(json.dumps(cleaned, ensure_ascii=False).encode()) > limit_bytes:
        cleaned.pop(next(reversed(cleaned)))  # the last-added figures are the least important
    return cleaned


def _clean(v: Any, depth: int) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v[:MAX_TEXT_CHARS].replace("\x00", "")
    if isinstance(v, numbers.Real):  # numpy's numbers too
        x = float(v)
        if not (math.isfinite(x) and abs(x) <= MAX_NUMBER):
            return None
        return int(v) if isinstance(v, numbers.Integral) else x
    if depth > MAX_DEPTH:
        return None
    if isinstance(v, dict):
        return {str(k)[:MAX_KEY_CHARS].replace("\x00", ""): _clean(item, depth + 1)
                for k, item in list(v.items())[:MAX_KEYS] if str(k).replace("\x00", "")}
    if isinstance(v, list | tuple):
        return [_clean(item, depth + 1) for item in list(v)[:MAX_KEYS]]
    return str(v)[:MAX_TEXT_CHARS]
