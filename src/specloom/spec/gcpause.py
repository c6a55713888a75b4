"""Pause Python's cyclic garbage collector around allocation-heavy, cycle-free work.

Parsing and linting a large spec allocates hundreds of thousands of small objects that all
stay alive. Each of those allocations counts towards the collector's thresholds, and every
full collection walks the whole (growing) heap, so the collector can take a third of the
time while finding nothing: these objects hold no reference cycles and are freed by
reference counting. ``gc_paused`` turns the collector off for the duration and back on
afterwards. It nests and is safe across threads: the collector is off while any caller is
inside, and comes back on (if it was on before the first entered) when the last one leaves.

May import: the standard library only.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Context manager (and decorator) that keeps the cyclic collector off while inside."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
