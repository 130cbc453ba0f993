"""Exhaustive breadth-first exploration of every fiber schedule, with a visited set of worlds.

Breadth-first order makes the first violating state found for a property one of the shortest;
the search still runs to the end so that its statistics describe the whole bounded space.
With `fingerprint=True` the visited set keeps a 64-bit fingerprint per world instead of the
world, and each parent pointer is (parent fingerprint, fiber): traces are rebuilt by replaying
the fibers from the initial world.

Worlds are numbered as they are first met (one lookup in the visited set per step); parents and
depths are lists by number, made into the dicts keyed by world (or fingerprint) that observers
and traces read only when the search is over.
"""

from __future__ import annotations

import time
from collections import deque

from turnproof.explore.search import memory
from turnproof.explore.search.budget import every, stop
from turnproof.explore.search.compact import Links, Visited
from turnproof.explore.search.fingerprint import BITS, digest, encode
from turnproof.explore.search.liveness import Abstraction, Steps, abstract_key
from turnproof.explore.search.result import Finding, Observer, Progress, Result
from turnproof.explore.search.trace import Trace, path_to, replay_fibers, replay_path
from turnproof.model.system import System
from turnproof.model.world import World
from turnproof.specs.properties import Property


def bfs(
    system: System,
    properties: tuple[Property, ...],
    progress: Progress | None = None,
    observers: tuple[Observer, ...] = (),
    fingerprint: bool = False,
    *,
    until: frozenset[str] = frozenset(),
    first: bool = False,
) -> Result:
    """Visit every world reachable within the bound; record the shortest violation of each property.

    `until`: stop as soon as each property named there has its shortest violation (the search
    that shortens a reduced search's counterexamples); the statistics then cover what was visited.
    `first`: stop as soon as any property is violated (all a verdict needs: `turnproof repair`
    refutes designs with it); breadth-first, the violation met first is a shortest one of its
    property. Where no safety property is violated, loop-terminates is judged as usual.
    """
    with memory.collector_paused():
        return _bfs(system, properties, progress, observers, fingerprint, until, first)


def _bfs(system, properties, progress, observers, fingerprint, until, first=False) -> Result:
    started = time.perf_counter()
    meter = memory.Meter()
    result = Result(system, properties)
    stats = result.stats
    key = _fingerprint_once if fingerprint else None
    init = system.initial()
    k0 = key(init) if key else init
    links = Links(k0) if key else None  # with fingerprints: the links in arrays (explore/search/compact.py)
    index = Visited() if links else {}  # visited key -> number
    if links:
        index.add(k0, 0)
        keys, parent, via, depths = links.keys, links.parent, links.via, links.depths
    else:
        index[k0] = 0
        keys = [k0]  # number -> visited key
        parent: list = [None]  # number -> its parent's number
        via: list = [None]  # number -> the step from its parent
        depths = [0]
    check = _Checks(result, keys, parent, via, links)
    stats.fingerprint_bits = BITS if key else None
    check.world(init, 0, "always")
    steps = abstraction = None
    if any(p.when == "liveness" for p in properties):
        if key:  # the worlds are not kept: abstract each as it is met (as a fingerprint too)
            abstraction = Abstraction(system, memo=False)
            steps = Steps(system, lambda w: abstract_key(w, system, abstraction))
        else:
            steps = Steps(system)
        steps.met(init)
    bounded_out, successors = system.bounded_out, system.successors
    # Stopping early (`until`), a world is judged at rest as it is met, when nothing is enabled in
    # it (the same world as when it is expanded: both go in breadth-first order), so the search
    # can stop before it expands the level above the violation.
    enabled = system.enabled if until or first else None
    frontier = deque([(init, 0)])
    transitions = cut = quiescent = tick = 0
    often = every(progress)
    while frontier and not (until and until <= result.findings.keys()) and not (first and result.findings):
        w, nw = frontier.popleft()
        succ = successors(w)
        for o in observers:
            o.seen(w)
        if steps:
            steps.expanded()
        if not succ:
            quiescent += 1
            if not enabled or nw == 0:
                check.world(w, nw, "at_rest")
        d = depths[nw] + 1
        for step, nxt in succ:
            transitions += 1
            n = None
            if bounded_out(nxt):
                cut += 1
            else:
                kn = key(nxt) if key else nxt
                n = index.get(kn)
                if n is None:
                    n = len(keys)
                    if links:
                        index.add(kn, n)
                        links.add(kn, nw, step.fiber, d)
                    else:
                        index[kn] = n
                        keys.append(kn)
                        parent.append(nw)
                        via.append(step)
                        depths.append(d)
                    if steps:
                        steps.met(nxt)
                    if check.always:
                        check.world(nxt, n, "always")
                    if enabled and check.at_rest and not enabled(nxt):
                        check.world(nxt, n, "at_rest")
                    frontier.append((nxt, n))
            if steps:
                steps.step(n, step, nxt)
            for o in observers:
                o.edge(w, step, nxt, (d - 1, depths[n] if n is not None else None))
        tick += 1
        if progress and tick % often == 0:
            _count(stats, keys, depths, transitions, cut, quiescent)
            stats.seconds = time.perf_counter() - started
            stop(progress(stats, d - 1))
    _count(stats, keys, depths, transitions, cut, quiescent)
    meter.held(stats)  # the stored states: before the lasso search builds its graph (in the peak)
    # what loop-terminates needs: nothing when no step was cut and the search ran to the end (Steps)
    lassos = (
        steps.lassos(keys, abstraction, key)
        if steps and (cut or frontier) and not (first and result.findings)
        else None
    )
    if observers or lassos:
        parents, depth = _dicts(keys, parent, links.fibers_of(via) if links else via, depths)
        for o in observers:
            o.done(result, parents, depth)
        if lassos:
            lassos.done(result, parents, depth)
    meter.peak(stats)
    stats.seconds = time.perf_counter() - started
    return result


def _fingerprint_once(w: World) -> int:
    """A world's fingerprint, not kept with it (`fingerprint` would keep it in a dict on every
    world of the frontier, about 200 bytes each): bfs asks once per world met."""
    return digest(encode(w))


def _count(stats, keys: list, depths: list, transitions: int, cut: int, quiescent: int) -> None:
    stats.states, stats.max_depth = len(keys), depths[-1]  # numbered breadth-first: the last is deepest
    stats.transitions, stats.cut, stats.quiescent = transitions, cut, quiescent


def _dicts(keys: list, parent: list, via: list, depths: list) -> tuple[dict, dict]:
    """Parent pointers and depths keyed by world (or fingerprint), in breadth-first order."""
    parents: dict = {keys[0]: None}
    for k, p, step in zip(keys[1:], parent[1:], via[1:], strict=True):
        parents[k] = (keys[p], step)
    return parents, dict(zip(keys, depths, strict=True))


class _Checks:
    """The safety properties judged on each world as it is met; a violation's trace by number."""

    def __init__(self, result: Result, keys, parent, via, links: Links | None):
        self.result, self.keys, self.parent, self.via = result, keys, parent, via
        self.links = links
        self.always = [p for p in result.properties if p.when == "always"]
        self.at_rest = [p for p in result.properties if p.when == "at_rest"]

    def world(self, w: World, n: int, when: str) -> None:
        props = self.always if when == "always" else self.at_rest
        for prop in props:
            v = prop.check(w)
            if v is not None:
                self.result.findings[prop.name] = Finding(prop, v, self.trace(n))
                props = [p for p in props if p is not prop]  # judged: not checked again
                setattr(self, when, props)

    def trace(self, n: int) -> Trace:
        """Back along the parent numbers to the initial world (replayed, with fingerprints)."""
        if self.links is not None:
            return replay_fibers(self.result.system, self.links.path(n))
        steps = []
        while self.parent[n] is not None:
            steps.append((self.via[n], self.keys[n]))
            n = self.parent[n]
        steps.reverse()
        return Trace(self.keys[n], tuple(steps))


def check_world(result: Result, parents: dict, w: World, when: str, key=None) -> None:
    """The properties judged at `when` on a world of a search with parent pointers by world (or
    by `key`): the searches built on bfs's (sleep sets, preemption bounds) use it."""
    for prop in result.properties:
        if prop.when != when or prop.name in result.findings:
            continue
        v = prop.check(w)
        if v is not None:
            trace = replay_path(result.system, parents, key(w)) if key else path_to(parents, w)
            result.findings[prop.name] = Finding(prop, v, trace)
