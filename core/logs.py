"""Logging set-up. Phone numbers are personal data: they are masked before any handler sees them."""
from __future__ import annotations

import logging
import re

# mobiles (optionally +86/0086) and landlines with a leading-0 area code
_PHONE = re.compile(r"(?<![\d.])(?:\+?86|0086)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?![\d.])")


def mask_number(number: str | None) -> str:
    """138****0000 style: keep 3 leading and 4 trailing digits, hide the rest."""
    if not number:
        return "-"
    digits = "".join(ch for ch in str(number) if ch.isdigit())
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) < 8:
        return digits[:1] + "*" * (len(digits) - 3) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_text(text: str) -> str:
    return _PHONE.sub(lambda m: mask_number(m.group(0)), text)


class MaskingFilter(logging.Filter):
    """Safety net: whatever a message says, phone-like numbers leave it masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(isinstance(f, MaskingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(MaskingFilter())
        root.addHandler(handler)
    root.setLevel(level.upper())
