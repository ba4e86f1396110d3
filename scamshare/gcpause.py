"""Pausing Python's cycle collector while a bulk operation builds its objects.

A batch of 10,000 reports makes some hundreds of thousands of objects (parsed JSON, candidates,
indicator states, rows) that all live until the response is sent. Each time 700 more objects
exist than were freed, the collector walks the youngest of them, and every tenth walk the
older ones too: work that grows with the batch and finds nothing, since the batch's objects
are still in use. Reference counting still frees every object that is dropped; only garbage in
reference cycles waits for the collector, which runs again as soon as the operation ends.
Batches are bounded in size, so the memory that waits is bounded too.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0  # operations under way in this process (waitress serves each on its own thread)
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Keep the cycle collector off until the last of the operations under way ends.

    The collector is process-wide: it comes back on when no paused operation remains, and only
    if it was on when the first of them began.
    """
    global _active, _was_enabled
    with _lock:
        if _active == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _was_enabled:
                gc.enable()
