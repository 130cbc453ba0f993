"""Exhaustive breadth-first exploration of every fiber schedule, with a visited set of worlds.

Breadth-first order makes the first violating state found for a property one of the shortest;
the search still runs to the end so that its statistics describe the whole bounded space.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from explore.trace import Trace, path_to
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
        """The search is over."""


def bfs(
    system: System,
    properties: tuple[Property, ...],
    progress: Progress | None = None,
    observers: tuple[Observer, ...] = (),
    until: frozenset[str] = frozenset(),
) -> Result:
    """Visit every world reachable within the bound; record the shortest violation of each property.

    `until`: stop as soon as each property named there has its shortest violation (the search
    that shortens a reduced search's counterexamples); the statistics then cover what was visited.
    """
    started = time.perf_counter()
    result = Result(system, properties)
    stats = result.stats
    init = system.initial()
    parents: dict[World, tuple[World, object] | None] = {init: None}
    depth = {init: 0}
    frontier = deque([init])
    stats.states = 1
    _check(result, parents, init, "always")
    if any(p.when == "liveness" for p in properties):
        from explore.liveness import Lassos  # liveness builds on this module

        observers = (*observers, Lassos(system))
    tick = 0
    while frontier and not (until and until <= result.findings.keys()):
        w = frontier.popleft()
        succ = system.successors(w)
        for o in observers:
            o.seen(w)
        if not succ:
            stats.quiescent += 1
            _check(result, parents, w, "at_rest")
        for step, nxt in succ:
            stats.transitions += 1
            if system.bounded_out(nxt):
                stats.cut += 1
            elif nxt not in parents:
                parents[nxt] = (w, step)
                d = depth[w] + 1
                depth[nxt] = d
                stats.states += 1
                stats.max_depth = max(stats.max_depth, d)
                _check(result, parents, nxt, "always")
                frontier.append(nxt)
            for o in observers:
                o.edge(w, step, nxt, (depth[w], depth.get(nxt)))
        tick += 1
        if progress and tick % 500 == 0:
            stats.seconds = time.perf_counter() - started
            progress(stats, depth[w])
    for o in observers:
        o.done(result, parents, depth)
    stats.seconds = time.perf_counter() - started
    return result


def _check(result: Result, parents: dict, w: World, when: str) -> None:
    for prop in result.properties:
        if prop.when != when or prop.name in result.findings:
            continue
        v = prop.check(w)
        if v is not None:
            result.findings[prop.name] = Finding(prop, v, path_to(parents, w))
