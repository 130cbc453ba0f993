"""How much a search may spend: states, seconds, memory; past any of them it stops, undecided.

Every search calls its progress hook now and then with (stats, depth) (bfs per 500 expansions,
dpor per 500 new worlds, sleep and bounded bfs likewise, the partitioned search per partition
answer); `Budget` is such a hook. A hook answers None to go on; once a limit is passed, the
budget answers an `OutOfBudget`, carrying what was explored, and the search loop that asked
raises it (`stop`): the hook itself never raises, and the stop is visible in each loop. Time and memory are also
watched from a thread (`Budget.watch`) that signals the main thread when one is spent, so the
phases that call no hook (the lasso search over the explored graph, minimal traces, drawing) stop
too. The memory limit is the resident memory of this process and of its worker processes, read
from /proc (Linux); by default it is a fraction of the memory available when the search starts.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

MEMORY_FRACTION = 0.25  # of the memory available at start: the default memory budget
MEMORY_EVERY = 0.5  # seconds between two readings of the resident memory
EVERY = 500  # states (or expansions) between two calls of a progress hook that asks for no other


def every(hook) -> int:
    """How many states a search may let pass between two calls of `hook`: its `every`, or EVERY."""
    return getattr(hook, "every", EVERY)


def stop(answer) -> None:
    """What a search loop does with its progress hook's answer: an OutOfBudget stops the search."""
    if answer is not None:
        raise answer


class OutOfBudget(Exception):
    """A search passed one of its limits: `why` says which; `stats` and `depth` what it explored."""

    def __init__(self, why: str, stats, depth: int, seconds: float = 0.0):
        super().__init__(why)
        self.why, self.stats, self.depth = why, stats, depth
        self.seconds = seconds or getattr(stats, "seconds", 0.0)  # since the check began


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


def descendants() -> list[int]:
    """Process ids of this process's children, their children, and so on (from /proc)."""
    try:
        parent = {int(p): _ppid(int(p)) for p in os.listdir("/proc") if p.isdigit()}
    except OSError:
        return []
    found, todo = [], [os.getpid()]
    while todo:
        me = todo.pop()
        kids = [pid for pid, pp in parent.items() if pp == me]
        found += kids
        todo += kids
    return found


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
    """Limits on one check; None means none. Call it as a progress hook: it answers OutOfBudget
    once one is spent (None before)."""

    max_states: int | None = None
    max_seconds: float | None = None
    max_bytes: int | None = None
    # How each limit was given, as the reason a stop gives names it ("states", "seconds",
    # "memory"; a command line says its flags); a limit not named is said by its value.
    said: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started = time.monotonic()
        self.measured = -MEMORY_EVERY
        self.peak = 0
        self.stats, self.depth = None, 0  # the latest the search reported
        self.spent = ""  # set by the watching thread: why the budget is spent
        self.raised = False  # an OutOfBudget is on its way up: the signal raises no second one

    @property
    def every(self) -> int:
        """How often the searches call it: each state under a state budget (exact), else every EVERY."""
        return 1 if self.max_states is not None else EVERY

    def __call__(self, stats, depth: int) -> OutOfBudget | None:
        self.stats, self.depth = stats, depth
        past = self.past_states(stats, depth)
        if past is None:
            why = self.spent or self.over()
            past = OutOfBudget(why, stats, depth, self.elapsed) if why else None
        self.raised = self.raised or past is not None  # the search raises it: the watcher's signal raises no second
        return past

    def past_states(self, stats, depth: int) -> OutOfBudget | None:
        """The stop for a search that stored more states than the state budget, or None."""
        if self.max_states is None or stats.states <= self.max_states:
            return None
        said = self.said.get("states") or f"{self.max_states:,} states"
        return OutOfBudget(f"the state budget ({said}) is spent", stats, depth, self.elapsed)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def over(self) -> str:
        """Why time or memory is spent now, or "" (memory is read at most every MEMORY_EVERY s)."""
        now = time.monotonic() - self.started
        if self.max_seconds is not None and now > self.max_seconds:
            return f"the time budget ({self.said.get('seconds') or f'{self.max_seconds:g}s'}) is spent"
        if self.max_bytes is not None and now - self.measured >= MEMORY_EVERY:
            self.measured = now
            rss = resident_bytes()
            if rss is not None:
                self.peak = max(self.peak, rss)
                if rss > self.max_bytes:
                    said = self.said.get("memory") or f"{self.max_bytes >> 20} MB"
                    return f"the memory budget ({said}) is spent: {rss >> 20} MB resident"
        return ""

    @contextmanager
    def watch(self):
        """Watch time and memory from a thread while the block runs; when one is spent, SIGUSR1
        tells the main thread, whose handler raises OutOfBudget wherever it is (a blocking wait on
        a worker included). Where Python swallows that exception (the signal landed in a gc
        callback, a __del__ or a weakref callback: "Exception ignored in …"), the watcher signals
        again, so the stop never depends on where the signal lands. Outside the main thread only
        the hook checks."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_kill"):
            yield
            return
        main, stop, again = threading.main_thread().ident, threading.Event(), threading.Event()
        sending = threading.Lock()  # no signal is sent once the block is left

        own = sys._getframe().f_code  # this generator's code: on the stack only while entering or leaving

        def raise_spent(signum, frame):
            if self.raised or _within(frame, own):  # one is on its way, or the block is being left
                return
            self.raised = True
            raise OutOfBudget(self.spent, self.stats or _Nothing(), self.depth, self.elapsed)

        def swallowed(unraisable) -> None:
            if isinstance(unraisable.exc_value, OutOfBudget):
                self.raised = False  # lost: ask the watcher for another signal
                again.set()
            else:
                previous(unraisable)

        def run() -> None:
            while not stop.wait(MEMORY_EVERY / 2):
                why = self.over()
                if why:
                    self.spent = why
                    break
            while True:
                with sending:
                    if stop.is_set():
                        return
                    signal.pthread_kill(main, signal.SIGUSR1)
                again.wait()  # set when the raise was swallowed, or when the block is left
                again.clear()
                if stop.wait(0.01):
                    return

        old, previous = signal.signal(signal.SIGUSR1, raise_spent), sys.unraisablehook
        sys.unraisablehook = swallowed
        watcher = threading.Thread(target=run, name="turnproof-budget", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            with sending:
                stop.set()
            again.set()
            try:
                watcher.join()
            finally:
                signal.signal(signal.SIGUSR1, old)
                sys.unraisablehook = previous


def _within(frame, code) -> bool:
    """Whether a frame running `code` is on the stack from `frame` up."""
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


class _Nothing:
    """Stats before the search reported any: nothing explored yet."""

    states = transitions = cut = 0
    seconds = 0.0


def chain(*hooks):
    """One progress hook that calls each of `hooks` (None ones left out), or None if none."""
    live = [h for h in hooks if h is not None]
    if not live:
        return None
    if len(live) == 1:
        return live[0]

    def call(stats, depth: int):
        """Every hook is told; the first answer that is not None (a stop) is the chain's."""
        answers = [h(stats, depth) for h in live]
        return next((a for a in answers if a is not None), None)

    call.every = min(every(h) for h in live)
    return call
