"""The knowledge base as the rest of the engine uses it: one object per process.

    kb = KnowledgeBase(db, threshold=settings.kb_threshold, zone=settings.zone)
    kb.warm()                                   # build the index at start (else: on first use)
    kb.answer("社保卡掉了怎么补", "cmn")          # -> KbAnswer | None
    kb.import_file("entries.jsonl")             # all-or-nothing, then the index is rebuilt

The index lives in memory; searching takes no lock (the index is immutable and swapped whole).
Another process (``hotline kb import`` while the engine runs, another engine node) changes the
table: every ``refresh_s`` seconds the next search compares the table's stamp (row count and
latest ``updated_at``) and, when it changed, rebuilds the index in a background thread while the
old one keeps answering.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core.clock import utcnow
from knowledge import interchange
from knowledge.emergency import detect_emergency
from knowledge.models import KnowledgeEntry
from knowledge.retrieval import DEFAULT_THRESHOLD, EntryDoc, KnowledgeIndex, SearchResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KbAnswer:
    """Same fields as ``flow.ports.Answer`` (the composition root converts it)."""

    entry_id: str
    text: str
    score: float          # calibrated confidence in [0, 1]
    confident: bool       # score ≥ threshold: play it; else the caller goes to a person
    audio: str | None = None


class KnowledgeBase:
    def __init__(self, db, *, threshold: float = DEFAULT_THRESHOLD, zone: ZoneInfo | str = "Asia/Shanghai",
                 clock: Callable[[], datetime] = utcnow, refresh_s: float = 30.0) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("kb threshold must be between 0 and 1")
        self.db = db
        self.threshold = threshold
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        self.clock = clock
        self.refresh_s = refresh_s
        self._index: KnowledgeIndex | None = None
        self._stamp: tuple | None = None
        self._checked = 0.0
        self._build_lock = threading.Lock()
        self._refreshing = False

    # -- the index ------------------------------------------------------------------------------

    @property
    def index(self) -> KnowledgeIndex:
        index = self._index
        if index is None:
            with self._build_lock:
                if self._index is None:
                    self._load()
                index = self._index
        else:
            self._maybe_refresh()
        assert index is not None
        return index

    def warm(self) -> int:
        """Build the index now (a start-up step); returns the number of entries."""
        return len(self.index)

    def reload(self) -> int:
        """Rebuild the index from the database now; returns the number of entries."""
        with self._build_lock:
            self._load()
            return len(self._index)

    def _load(self) -> None:
        with self.db.read_session() as s:
            stamp = self._read_stamp(s)
            docs = [r.to_doc() for r in interchange.all_records(s)]
        self._index = KnowledgeIndex(docs, self.threshold)
        self._stamp = stamp
        self._checked = time.monotonic()
        log.info("knowledge base: %d entries indexed", len(docs))

    @staticmethod
    def _read_stamp(session) -> tuple:
        count, latest = session.execute(
            select(func.count(KnowledgeEntry.id), func.max(KnowledgeEntry.updated_at))).one()
        return (int(count or 0), str(latest))

    def _maybe_refresh(self) -> None:
        if self.refresh_s <= 0 or time.monotonic() - self._checked < self.refresh_s or self._refreshing:
            return
        self._checked = time.monotonic()
        try:
            with self.db.read_session() as s:
                stamp = self._read_stamp(s)
        except Exception:  # noqa: BLE001 - a database hiccup must not break a call; keep the old index
            log.warning("knowledge base: could not check for changes", exc_info=True)
            return
        if stamp != self._stamp:
            self._refreshing = True
            threading.Thread(target=self._background_reload, name="kb-reload", daemon=True).start()

    def _background_reload(self) -> None:
        try:
            self.reload()
        except Exception:  # noqa: BLE001
            log.exception("knowledge base: reload failed; the previous index stays in use")
        finally:
            self._refreshing = False

    # -- questions ------------------------------------------------------------------------------

    def search(self, text: str, k: int = 3, now: datetime | None = None) -> SearchResult:
        """The ``k`` best entries valid on ``now``'s local day, with calibrated scores."""
        now = now or self.clock()
        return self.index.search(text, k, today=now.astimezone(self.zone).date())

    def answer(self, text: str, language: str = "cmn", now: datetime | None = None) -> KbAnswer | None:
        """The best answer for a transcript, or None when nothing matches at all.

        ``language`` is accepted for the flow's port; the entries are written Mandarin and every
        recogniser here transcribes to Chinese characters, so the same index serves all languages.
        Never raises: on an internal error the caller simply goes to a person.
        """
        if not text or not text.strip():
            return None
        try:
            result = self.search(text, 1, now)
            if not result.matches:
                return None
            best = result.matches[0]
            entry = self.index.by_id[best.entry_id]
            return KbAnswer(entry_id=entry.id, text=entry.answer, score=best.score,
                            confident=result.answered, audio=entry.audio)
        except Exception:  # noqa: BLE001 - human-first: an error sends the caller to an agent
            log.exception("knowledge base: answering failed")
            return None

    def entry(self, entry_id: str) -> EntryDoc | None:
        return self.index.by_id.get(entry_id)

    @staticmethod
    def emergency(text: str) -> str | None:
        """``"119"`` / ``"110"`` / ``"120"`` or None (see ``knowledge.emergency``)."""
        return detect_emergency(text)

    # -- content --------------------------------------------------------------------------------

    def import_records(self, records: list[interchange.EntryRecord],
                       now: datetime | None = None) -> interchange.ImportResult:
        result = interchange.import_records(self.db, records, now or self.clock())
        self.reload()
        return result

    def import_file(self, path: str | Path, now: datetime | None = None) -> interchange.ImportResult:
        """Validate the whole file, then import it in one transaction and rebuild the index."""
        return self.import_records(interchange.parse_file(path), now)

    def import_lines(self, lines: Iterable[str], now: datetime | None = None) -> interchange.ImportResult:
        return self.import_records(interchange.parse_lines(lines), now)

    def load_demo(self, now: datetime | None = None) -> interchange.ImportResult:
        """The demo knowledge base shipped with the engine (``knowledge/demo_kb.jsonl``)."""
        return self.import_file(interchange.DEMO_KB, now)


def load_demo(db, now: datetime | None = None) -> interchange.ImportResult:
    """Import the demo knowledge base into ``db`` (upsert; safe to run at every start)."""
    return interchange.import_records(db, interchange.read_demo(), now or utcnow())
