"""Identifiers that stay unique across several engine nodes sharing one database."""
from __future__ import annotations

import secrets
import time


def new_call_id() -> str:
    """Time-ordered, 24 hex characters: 12 of milliseconds, 12 random (48 bits)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"
