"""Timestamps as text: the one function every layer writes a UTC datetime with.

Two forms are in use and both are fixed by what clients and files already hold:

* ``"Z"``: the APIs' form (``2026-03-01T00:00:00Z``), as DRF writes datetimes
  in the industrial API; layer2 writes the intent and widget data the same way,
  and the experience journal keeps each intent in that form too.
* ``"+00:00"``: ``datetime.isoformat()`` (``2026-03-01T00:00:00+00:00``), the
  experience journal's on-disk form of its own times (``created_at``,
  ``received_at``).

It lives in ``industrial``, the bottom layer, so that both ``layer2`` and
``rl.experiences`` may import it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal


def iso_timestamp(ts: datetime | None, *, utc: Literal["Z", "+00:00"]) -> str | None:
    """``ts`` in ISO-8601 with UTC written as ``utc`` (other offsets as they are); None stays None."""
    if ts is None:
        return None
    text = ts.isoformat()
    if utc == "Z":
        return text.replace("+00:00", "Z")
    if utc == "+00:00":
        return text
    raise ValueError(f'utc must be "Z" or "+00:00", got {utc!r}')
