"""Partial-order reduction with sleep sets over a visited set (Godefroid's state caching rule).

Two steps of different fibers are independent in a world when each leaves the other runnable
and both orders end in the same world; the check is made on the model itself, in that world, so
no hand-written dependency table can be wrong. After exploring step a from w, a sibling step b
independent of a need not be taken again after a: it sleeps there. Sleep sets prune transitions,
never states: every reachable world is still visited and every state property checked, which a
test compares with plain breadth-first search. Traces are the first found, not the shortest.

loop-terminates is judged as `explore/search/dpor.py` does: it holds when the bound cut nothing (every
execution then ends at rest); a fair cycle the lasso search finds among the explored transitions
is a real violation; otherwise it is reported as not judged, never as holding.
"""

from __future__ import annotations

import time

from turnproof.explore.search import memory
from turnproof.explore.search.bfs import check_world
from turnproof.explore.search.budget import every, stop
from turnproof.explore.search.liveness import Lassos
from turnproof.explore.search.result import Observer, Result
from turnproof.model.system import System
from turnproof.model.world import World
from turnproof.specs.properties import Property


class Moves:
    """Each world's successors by fiber, computed once."""

    def __init__(self, system: System):
        self.system = system
        self.cache: dict[World, dict] = {}
        self.checks = 0

    def of(self, w: World) -> dict:
        m = self.cache.get(w)
        if m is None:
            m = self.cache[w] = {step.fiber: (step, nxt) for step, nxt in self.system.successors(w)}
        return m

    def independent(self, w: World, a: str, b: str) -> bool:
        """a and b commute in w: each stays runnable after the other, and both orders agree."""
        self.checks += 1
        after_a, after_b = self.of(w)[a][1], self.of(w)[b][1]
        if self.system.bounded_out(after_a) or self.system.bounded_out(after_b):
            return False
        ab, ba = self.of(after_a).get(b), self.of(after_b).get(a)
        return ab is not None and ba is not None and ab[1] == ba[1]


def sleep_search(
    system: System, properties: tuple[Property, ...], progress=None, *, observers: tuple[Observer, ...] = ()
) -> Result:
    """Depth-first search with sleep sets and a visited set; loop-terminates as the docstring says.
    `progress(stats, depth)` is called now and then, as bfs does. `observers` are shown the explored
    graph once the search is over (read only: explore/search/mazurkiewicz.py counts its schedules)."""
    with memory.collector_paused():
        return _sleep_search(system, properties, progress, observers)


def _sleep_search(system: System, properties: tuple[Property, ...], progress, observers) -> Result:
    started = time.perf_counter()
    result = Result(system, properties, strategy="sleep")
    stats = result.stats
    moves = Moves(system)
    init = system.initial()
    parents: dict = {init: None}
    often = every(progress)
    asleep: dict[World, frozenset] = {}  # what was left asleep in each visited world
    depth = {init: 0}
    explored: list[tuple] = []  # (world, step, next world) of every transition taken, for the lasso search
    stack = [(init, frozenset())]
    while stack:
        w, sleep = stack.pop()
        if w in asleep:
            todo = [f for f in moves.of(w) if f in asleep[w] and f not in sleep]
            asleep[w] = asleep[w] & sleep
        else:
            asleep[w] = sleep
            if progress and len(asleep) % often == 0:
                stats.states, stats.seconds = len(asleep), time.perf_counter() - started
                stop(progress(stats, depth[w]))
            check_world(result, parents, w, "always")
            if not moves.of(w):
                stats.quiescent += 1
                check_world(result, parents, w, "at_rest")
            todo = [f for f in moves.of(w) if f not in sleep]
        done: list[str] = []
        for f in todo:
            step, nxt = moves.of(w)[f]
            stats.transitions += 1
            explored.append((w, step, nxt))
            if system.bounded_out(nxt):
                stats.cut += 1
                continue
            if nxt not in parents:
                parents[nxt] = (w, step)
                depth[nxt] = depth[w] + 1
                stats.max_depth = max(stats.max_depth, depth[nxt])
            keep = frozenset(g for g in (*sleep, *done) if g in moves.of(w) and moves.independent(w, f, g))
            stack.append((nxt, keep))
            done.append(f)
    stats.states = len(asleep)
    live = [p for p in properties if p.when == "liveness"]
    if live and stats.cut:
        lassos = Lassos(system)
        for w in depth:
            lassos.seen(w)
        for w, step, nxt in explored:
            lassos.edge(w, step, nxt)
        lassos.done(result, parents, depth)
        for p in live:
            if p.name not in result.findings:
                result.unjudged[p.name] = (
                    f"not judged by sleep: the bound cut {stats.cut} steps and the explored graph has no fair cycle"
                )
    for o in observers:
        for w in depth:
            o.seen(w)
        for w, step, nxt in explored:
            o.edge(w, step, nxt, (depth[w], None if system.bounded_out(nxt) else depth[nxt]))
        o.done(result, parents, depth)
    stats.seconds = time.perf_counter() - started
    result.search = {
        "independence_checks": moves.checks,
        "pruned": sum(len(moves.of(w)) for w in asleep) - stats.transitions,
    }
    return result
