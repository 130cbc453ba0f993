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

from turnproof.explore.search import memory
from turnproof.explore.search.fingerprint import BITS
from turnproof.explore.search.fingerprint import fingerprint as fingerprint_of
from turnproof.explore.search.liveness import Lassos, abstract_key
from turnproof.explore.search.result import Finding, Observer, Progress, Result
from turnproof.explore.search.trace import path_to, replay_path
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
) -> Result:
    """Visit every world reachable within the bound; record the shortest violation of each property.

    `until`: stop as soon as each property named there has its shortest violation (the search
    that shortens a reduced search's counterexamples); the statistics then cover what was visited.
    """
    started = time.perf_counter()
    meter = memory.Meter()
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
