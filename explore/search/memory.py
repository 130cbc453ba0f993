"""Memory per stored state, measured with tracemalloc while a search runs (never estimated).

The caller starts tracing (the CLI's `--memory`); a search takes a baseline when it starts and,
once every state is stored, divides what its allocations still hold by the states it kept.
"""

from __future__ import annotations

import gc
import tracemalloc
from contextlib import contextmanager


class Meter:
    """Reads traced memory at the start and at the end of a search, if tracing is on."""

    def __init__(self) -> None:
        self.on = tracemalloc.is_tracing()
        if self.on:
            tracemalloc.reset_peak()
            self.base = tracemalloc.get_traced_memory()[0]

    def read(self, stats) -> None:
        """Set stats.bytes_per_state (held now, over states) and stats.peak_bytes."""
        self.held(stats)
        self.peak(stats)

    def held(self, stats) -> None:
        """stats.bytes_per_state: what the search holds now, over the states it stored."""
        if self.on:
            stats.bytes_per_state = (tracemalloc.get_traced_memory()[0] - self.base) / max(stats.states, 1)

    def peak(self, stats) -> None:
        """stats.peak_bytes: the most the search held at once, so far."""
        if self.on:
            stats.peak_bytes = tracemalloc.get_traced_memory()[1] - self.base


@contextmanager
def traced():
    """Trace allocations for the duration (unless something already does)."""
    if tracemalloc.is_tracing():
        yield
        return
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


@contextmanager
def collector_paused():
    """Run a search without the cyclic garbage collector (as it was before, after it).

    The worlds a search keeps are immutable tuples and values that form no cycles, and refcounting
    frees what a step drops; but each full collection walks every object the visited set holds,
    and a search allocates enough to trigger one again and again: about a third of bfs's time on
    idle-window, for nothing collected. Garbage in cycles made meanwhile is collected afterwards.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
