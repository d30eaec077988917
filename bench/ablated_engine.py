"""``hotline`` with parts of the call path replaced by nothing (``HOTLINE_ABLATE``), for
``bench/fastagi_ablation.py`` only: never a way to run the engine."""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

variant = os.environ.get("HOTLINE_ABLATE", "full")
if variant in ("no-reads", "no-db"):
    import blocklist.check
    import routing.priority

    blocklist.check.active_block_in = lambda db, key, now: None
    routing.priority.is_registered = lambda db, key: False
if variant in ("no-records", "no-db"):
    import flow.services

    flow.services.DbCallLog.open = lambda self, *args: None
    flow.services.DbCallLog.close = lambda self, *args: None
from hotline.cli import main  # noqa: E402

sys.exit(main())
