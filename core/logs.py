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


class Incident:
    """Logs a failing dependency once per incident: the first failure, then the recovery
    (with how many failures were not logged in between) — not one line per call.

    With ``probe`` (a callable that raises while the dependency is away), the recovery is found
    by probing every ``probe_every`` seconds in a background thread, and only then reported."""

    def __init__(self, what: str, logger: logging.Logger | None = None, probe=None,
                 probe_every: float = 2.0) -> None:
        import threading
        import time

        self.probe, self.probe_every = probe, probe_every
        self.what = what
        self.log = logger or logging.getLogger("hotline.incident")
        self._lock = threading.Lock()
        self._since: float | None = None
        self._failures = 0
        self._time = time.monotonic

    @property
    def active(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._failures += 1
            if self._since is not None:
                return
            self._since = self._time()
        if self.probe is not None:
            import threading
            threading.Thread(target=self._probe_until_back, name="incident-probe", daemon=True).start()
        self.log.error("%s unavailable (%s: %s); calls continue degraded until it is back", self.what,
                       exc.__class__.__name__, mask_text(str(exc).splitlines()[0][:200] if str(exc) else ""))

    def _probe_until_back(self) -> None:
        import time

        while self._since is not None:
            time.sleep(self.probe_every)
            try:
                self.probe()
            except Exception:  # noqa: BLE001 - still away
                continue
            self.ok()

    def ok(self) -> None:
        if self._since is None:          # the common case: nothing to report, no lock taken
            return
        with self._lock:
            if self._since is None:
                return
            seconds, failures = self._time() - self._since, self._failures
            self._since, self._failures = None, 0
        self.log.warning("%s back after %.0f s (%d failed attempt(s))", self.what, seconds, failures)
