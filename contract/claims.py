"""The claim code a new box shows and an installer types into the console (docs/identities.md):
one alphabet and one format for both halves."""

from __future__ import annotations

import random
import secrets

CLAIM_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed on a phone
CODE_LENGTH = (8, 16)  # accepted, after normalising; a box makes 10


def new_claim_code(rng: random.Random | None = None) -> str:
    """Ten characters (50 bits), shown as XXXXX-XXXXX."""
    r = rng or secrets.SystemRandom()
    c = "".join(r.choice(CLAIM_ALPHABET) for _ in range(10))
    return f"{c[:5]}-{c[5:]}"


def normal_code(code: str) -> str:
    """What a person typed, as the box printed it: upper case, no spaces or dashes."""
    return "".join(c for c in code.upper() if c.isalnum())


def valid_code(code: str) -> bool:
    c = normal_code(code)
    return CODE_LENGTH[0] <= len(c) <= CODE_LENGTH[1] and all(ch in CLAIM_ALPHABET for ch in c)
