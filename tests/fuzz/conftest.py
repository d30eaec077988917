"""Property-based tests: each reports how many inputs it tried (printed at the end of the run)."""
from __future__ import annotations

import collections

from tests.e2e.conftest import make_engine, running  # noqa: F401 - fixtures for the call fuzzing

TRIED: collections.Counter = collections.Counter()


def tried(name: str) -> None:
    """Count one generated input for ``name``; the totals are printed after the session."""
    TRIED[name] += 1


def pytest_terminal_summary(terminalreporter):
    if TRIED:
        terminalreporter.write_sep("-", f"fuzz inputs tried: {sum(TRIED.values())}")
        for name, n in sorted(TRIED.items()):
            terminalreporter.write_line(f"{n:7d}  {name}")


import pytest  # noqa: E402


@pytest.fixture
def make_engine_once(make_engine):
    """One engine for all the examples of a property test (speech through the transcript recogniser)."""
    return make_engine(speech_engine="transcript")
