"""How much a search may spend: states, seconds, memory; past any of them it stops, undecided.

Every search calls its progress hook now and then with (stats, depth) (bfs per 500 expansions,
dpor per 500 new worlds, sleep and bounded bfs likewise, the partitioned search per partition
answer); `Budget` is such a hook. It raises `OutOfBudget`, carrying what was explored, the
moment a limit is passed, so no search needs code of its own to stop. The memory limit is the
resident memory of this process and of its worker processes, read from /proc (Linux) at most
once a second; by default it is a fraction of the memory available when the search starts.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

MEMORY_FRACTION = 0.25  # of the memory available at start: the default memory budget
MEMORY_EVERY = 1.0  # seconds between two readings of the resident memory


class OutOfBudget(Exception):
    """A search passed one of its limits: `why` says which; `stats` and `depth` what it explored."""

    def __init__(self, why: str, stats, depth: int):
        super().__init__(why)
        self.why, self.stats, self.depth = why, stats, depth


def available_bytes() -> int | None:
    """Memory available to new work now: MemAvailable from /proc/meminfo, else free pages."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_max_bytes() -> int | None:
    """The default memory budget: MEMORY_FRACTION of what is available now (None if unknown)."""
    avail = available_bytes()
    return int(avail * MEMORY_FRACTION) if avail else None


def resident_bytes() -> int | None:
    """Resident memory of this process and its child processes (the partitioned search's
    workers), or None where /proc cannot tell."""
    me = os.getpid()
    total = _rss(me)
    if total is None:
        return None
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return total
    for pid in pids:
        if pid != me and _ppid(pid) == me:
            total += _rss(pid) or 0
    return total


def _rss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Budget:
    """Limits on one check; None means none. Call it as a progress hook: it raises OutOfBudget."""

    max_states: int | None = None
    max_seconds: float | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        self.started = time.monotonic()
        self.measured = -MEMORY_EVERY
        self.peak = 0

    def __call__(self, stats, depth: int) -> None:
        now = time.monotonic() - self.started
        if self.max_states is not None and stats.states > self.max_states:
            raise OutOfBudget(f"the state budget (--max-states {self.max_states:,}) is spent", stats, depth)
        if self.max_seconds is not None and now > self.max_seconds:
            raise OutOfBudget(f"the time budget (--max-seconds {self.max_seconds:g}) is spent", stats, depth)
        if self.max_bytes is not None and now - self.measured >= MEMORY_EVERY:
            self.measured = now
            rss = resident_bytes()
            if rss is not None:
                self.peak = max(self.peak, rss)
                if rss > self.max_bytes:
                    raise OutOfBudget(
                        f"the memory budget (--max-memory {self.max_bytes >> 20} MB) is spent: {rss >> 20} MB resident",
                        stats,
                        depth,
                    )


def chain(*hooks):
    """One progress hook that calls each of `hooks` (None ones left out), or None if none."""
    live = [h for h in hooks if h is not None]
    if not live:
        return None
    if len(live) == 1:
        return live[0]

    def call(stats, depth: int) -> None:
        for h in live:
            h(stats, depth)

    return call
