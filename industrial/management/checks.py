"""A tiny check runner for diagnostic management commands (``test_rag_integration``, ``test_timeseries_db``).

A check is a name and a callable that raises (``AssertionError`` or any other
exception) to fail. Each prints one line, ``PASS  name  (12 ms)`` or
``FAIL  name  (12 ms): reason``, so a run reads the same whichever command
made it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)

Check = tuple[str, Callable[[], None]]


class Writer(Protocol):
    def write(self, msg: str) -> object: ...


def run_checks(checks: list[Check], stdout: Writer) -> int:
    """Run ``checks`` in order, print one line each to ``stdout``; return how many failed."""
    failures = 0
    for name, check in checks:
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # a failing check must not stop the others
            failures += 1
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("check %r failed", name, exc_info=True)
            stdout.write(f"FAIL  {name}  ({elapsed:.0f} ms): {_reason(exc)}\n")
        else:
            elapsed = (time.perf_counter() - started) * 1000
            stdout.write(f"PASS  {name}  ({elapsed:.0f} ms)\n")
    return failures


def _reason(exc: Exception) -> str:
    text = (str(exc) or "assertion failed") if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())  # one line per check, whatever the message
