"""Exhaustive breadth-first exploration of every fiber schedule, with a visited set of worlds.

Breadth-first order makes the first violating state found for a property one of the shortest;
the search still runs to the end so that its statistics describe the whole bounded space.
With `fingerprint=True` the visited set keeps a 64-bit fingerprint per world instead of the
world, and each parent pointer is (parent fingerprint, fiber): traces are rebuilt by replaying
the fibers from the initial world.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from explore import memory
from explore.fingerprint import BITS
from explore.fingerprint import fingerprint as fingerprint_of
from explore.trace import Trace, path_to, replay_path
from model.system import System
from model.world import World
from specs.properties import Property, Violation


@dataclass
class Stats:
    states: int = 0  # distinct worlds reached (the initial one included)
    transitions: int = 0  # steps taken, counting those into already-visited worlds
    max_depth: int = 0
    quiescent: int = 0  # distinct worlds where no fiber can move
    cut: int = 0  # steps into worlds past the scenario's bound, not explored
    seconds: float = 0.0
    bytes_per_state: float | None = None  # traced memory kept by the search per state (when measured)
    peak_bytes: int | None = None  # traced peak during the search (when measured)
    fingerprint_bits: int | None = None  # the visited set held fingerprints of this many bits
    symmetry: dict | None = None  # groups, and the plain-model states the orbits stand for
    workers: int = 1  # processes that expanded states
    engine: str | None = None  # "local" (processes on this machine) or "dask", for partitioned search


@dataclass(frozen=True)
class Finding:
    prop: Property
    violation: Violation
    trace: Trace


@dataclass
class Result:
    system: System
    properties: tuple[Property, ...]
    findings: dict[str, Finding] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    minimal: dict = field(default_factory=dict)  # property -> explore.minimize.Minimal, with --minimize
    strategy: str = "bfs"
    preemption_bound: int | None = None  # set when only schedules with at most this many were explored
    random: dict = field(default_factory=dict)  # runs, schedules, seed, budget (strategy "random")
    unjudged: dict = field(default_factory=dict)  # property -> why this search could not judge it
    search: dict = field(default_factory=dict)  # what a reduced search pruned and why (JSON stats.reduction)
    chosen_by: str = ""  # set when --strategy auto picked this strategy: how it chose
    shortest: dict = field(default_factory=dict)  # auto: the bfs that shortened the traces (its stats)

    @property
    def holds(self) -> bool:
        """Every property judged and none violated (a property not judged never counts as holding)."""
        return not self.findings and not self.unjudged

    @property
    def verdict(self) -> str:
        return "violated" if self.findings else "undecided" if self.unjudged else "holds"

    @property
    def complete(self) -> bool:
        """True when the bound cut nothing: "holds" is then a proof for the scenario as a whole."""
        return self.strategy in ("bfs", "sleep", "dpor") and self.preemption_bound is None and self.stats.cut == 0


Progress = Callable[[Stats, int], None]


class Observer:
    """Sees the search as it runs (explored worlds, every transition), then the finished result.

    The liveness check, the minimal-trace search and the state-graph export are observers, so
    the breadth-first search itself stays one small loop.
    """

    def seen(self, w: World) -> None:
        """An explored world (not cut by the bound)."""

    def edge(self, w: World, step, nxt: World, depths: tuple[int, int | None]) -> None:
        """A transition; depths are (depth of w, depth of nxt or None when nxt was cut)."""

    def done(self, result: Result, parents: dict, depth: dict) -> None:
        """The search is over. With fingerprints, parents and depth are keyed by fingerprint."""


def bfs(
    system: System,
    properties: tuple[Property, ...],
    progress: Progress | None = None,
    observers: tuple[Observer, ...] = (),
    fingerprint: bool = False,
    *,
    until: frozenset[str] = frozenset(),
) -> Result:
    """Visit every world reachable within the bound; record the shortest violation of each property.

    `until`: stop as soon as each property named there has its shortest violation (the search
    that shortens a reduced search's counterexamples); the statistics then cover what was visited.
    """
    started = time.perf_counter()
    if any(p.when == "liveness" for p in properties):
        from explore.liveness import Lassos, abstract_key  # liveness builds on this module
    meter = memory.Meter()  # after that import: a module is not state the search stores
    result = Result(system, properties)
    stats = result.stats
    key = fingerprint_of if fingerprint else None
    init = system.initial()
    k0 = key(init) if key else init
    parents: dict = {k0: None}
    depth = {k0: 0}
    frontier = deque([init])
    stats.states = 1
    stats.fingerprint_bits = BITS if key else None
    _check(result, parents, init, "always", key)
    if any(p.when == "liveness" for p in properties):
        # with fingerprints, abstract states are kept as fingerprints too
        ident = (lambda w: abstract_key(w, system)) if key else None
        observers = (*observers, Lassos(system, key, ident))
    tick = 0
    while frontier and not (until and until <= result.findings.keys()):
        w = frontier.popleft()
        kw = key(w) if key else w
        succ = system.successors(w)
        for o in observers:
            o.seen(w)
        if not succ:
            stats.quiescent += 1
            _check(result, parents, w, "at_rest", key)
        for step, nxt in succ:
            stats.transitions += 1
            kn = None
            if system.bounded_out(nxt):
                stats.cut += 1
            else:
                kn = key(nxt) if key else nxt
                if kn not in parents:
                    parents[kn] = (kw, step.fiber) if key else (w, step)
                    d = depth[kw] + 1
                    depth[kn] = d
                    stats.states += 1
                    stats.max_depth = max(stats.max_depth, d)
                    _check(result, parents, nxt, "always", key)
                    frontier.append(nxt)
            for o in observers:
                o.edge(w, step, nxt, (depth[kw], depth.get(kn) if kn is not None else None))
        tick += 1
        if progress and tick % 500 == 0:
            stats.seconds = time.perf_counter() - started
            progress(stats, depth[kw])
    meter.read(stats)
    for o in observers:
        o.done(result, parents, depth)
    stats.seconds = time.perf_counter() - started
    return result


def _check(result: Result, parents: dict, w: World, when: str, key=None) -> None:
    for prop in result.properties:
        if prop.when != when or prop.name in result.findings:
            continue
        v = prop.check(w)
        if v is not None:
            trace = replay_path(result.system, parents, key(w)) if key else path_to(parents, w)
            result.findings[prop.name] = Finding(prop, v, trace)
