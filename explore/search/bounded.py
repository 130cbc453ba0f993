"""Iterative context bounding (CHESS): breadth-first, but only schedules with at most K
preemptions, i.e. switches away from a fiber that could have gone on.

Most concurrency bugs need very few preemptions, so small K finds them fast in spaces too big to
exhaust; a "holds" is only "holds within K preemptions" and the verdict says so.
"""

from __future__ import annotations

import time
from collections import deque

from turnproof.explore.search.bfs import check_world
from turnproof.explore.search.budget import every, stop
from turnproof.explore.search.result import Result
from turnproof.model.system import System
from turnproof.specs.properties import Property


def bfs_preemptions(system: System, properties: tuple[Property, ...], k: int, progress=None) -> Result:
    """Explore every schedule with at most `k` preemptions; liveness is not judged here.
    `progress(stats, depth)` is called now and then, as bfs does."""
    started = time.perf_counter()
    result = Result(system, tuple(p for p in properties if p.when != "liveness"), preemption_bound=k)
    stats = result.stats
    init = system.initial()
    via = {(init, None): None}  # (world, last fiber) -> (previous (world, last), step)
    best = {(init, None): 0}  # fewest preemptions spent to reach (world, last fiber)
    depth = {init: 0}
    frontier = deque([(init, None, 0)])
    stats.states = 1
    check_world(result, _chain(via, (init, None)), init, "always")
    rested = set()
    tick = 0
    often = every(progress)
    while frontier:
        w, last, spent = frontier.popleft()
        tick += 1
        if progress and tick % often == 0:
            stats.seconds = time.perf_counter() - started
            stop(progress(stats, depth[w]))
        if best[(w, last)] < spent:
            continue  # reached more cheaply since this entry was queued
        succ = system.successors(w)
        if not succ and w not in rested:
            rested.add(w)
            stats.quiescent += 1
            check_world(result, _chain(via, (w, last)), w, "at_rest")
        runnable = {f.name for f in system.enabled(w)}
        for step, nxt in succ:
            cost = spent + (1 if last is not None and step.fiber != last and last in runnable else 0)
            if cost > k:
                continue
            stats.transitions += 1
            if system.bounded_out(nxt):
                stats.cut += 1
                continue
            key = (nxt, step.fiber)
            if cost >= best.get(key, k + 1):
                continue
            best[key], via[key] = cost, ((w, last), step)
            frontier.append((nxt, step.fiber, cost))
            if nxt not in depth:
                depth[nxt] = depth[w] + 1
                stats.states += 1
                stats.max_depth = max(stats.max_depth, depth[nxt])
                check_world(result, _chain(via, key), nxt, "always")
    stats.seconds = time.perf_counter() - started
    return result


def _chain(via: dict, key) -> dict:
    """The parent pointers of one schedule within the bound, in the form `path_to` reads."""
    parents = {}
    while True:
        back = via[key]
        parents[key[0]] = None if back is None else (back[0][0], back[1])
        if back is None:
            return parents
        key = back[0]
