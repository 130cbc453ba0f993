"""Partitioned breadth-first search: workers expand a level's worlds, the owner dedups.

The search is level-synchronous. Each partition (a worker) holds the worlds of the current
level that it is to expand; it returns, per world, the properties it violates and, per
successor, the fiber, the successor's fingerprint (None past the bound) and what liveness
needs. It keeps the successors it made. The owner holds only fingerprints: it decides which
successors are new, keeps the parent pointers (fingerprint -> (parent, fiber)), and tells each
partition which of its successors to expand next. No world crosses a process, except when the
owner moves some from a partition that holds too many to one that holds too few.

Every world reachable within the bound is expanded exactly once and every transition counted
once, so states, transitions, quiescent and cut worlds and the depth equal those of `bfs`;
levels are BFS levels, so each violation found is at its shortest depth, and its trace is
rebuilt by replaying the fibers from the initial world.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from turnproof.explore.search import memory
from turnproof.explore.search.budget import stop
from turnproof.explore.search.fingerprint import BITS, fingerprint
from turnproof.explore.search.result import Finding, Result
from turnproof.explore.search.trace import replay_path
from turnproof.model import steps
from turnproof.model.world import World
from turnproof.specs.properties import Property

BALANCE = 1.25  # move worlds when a partition holds more than this times the mean
MIN_MOVE = 64  # ... and the surplus is at least this many worlds


@dataclass(frozen=True)
class Spec:
    """What a worker needs: the system (plain or quotient) and the properties it checks."""

    system: object
    properties: tuple[Property, ...]  # checked by the workers: "always" and "at_rest" ones
    liveness: bool  # also report abstract states and loop iterations for loop-terminates
    symmetry: bool  # also report each world's orbit size


class Partition:
    """One worker's share of the search: the worlds it is to expand, by fingerprint."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.pending: dict[int, World] = {}

    def load(self, worlds: list[World]) -> int:
        """Take worlds sent by the owner (pickled without their kept hash: this process hashes anew)."""
        for w in worlds:
            self.pending[fingerprint(w)] = w
        return len(self.pending)

    def give(self, keys: list[int]) -> list[World]:
        return [self.pending.pop(k) for k in keys]

    def expand(self, keep: list[int], found: frozenset = frozenset()) -> list[tuple]:
        """Expand the kept worlds; forget the other successors of the last level. Properties in
        `found` already have their shortest counterexample and are not checked again.

        Per world: (violated properties, moves, abstract identity, orbit size), where each move
        is (fiber, successor fingerprint or None if cut) and, for liveness, whether it is a loop
        iteration and (cut successors only, which are never expanded) the successor's identity.
        """
        spec, system = self.spec, self.spec.system
        todo = [self.pending[k] for k in keep]
        self.pending = {}
        out = []
        for w in todo:
            succ = system.successors(w)
            when = ("always",) if succ else ("always", "at_rest")
            bad = tuple(
                p.name for p in spec.properties if p.when in when and p.name not in found and p.check(w) is not None
            )
            moves = []
            for step, nxt in succ:
                cut = system.bounded_out(nxt)
                fp = None if cut else fingerprint(nxt)
                if not cut:
                    self.pending.setdefault(fp, nxt)
                if spec.liveness:
                    progress = steps.is_progress(step.fiber, (e.ref for e in step.events))
                    moves.append((step.fiber, fp, progress, _ident(nxt, system) if cut else None))
                else:
                    moves.append((step.fiber, fp))
            ident = _ident(w, system) if spec.liveness else None
            orbit = system.symmetry.orbit(w) if spec.symmetry else 1
            out.append((bad, tuple(moves), ident, orbit))
        return out


def _ident(w: World, system) -> int:
    from turnproof.explore.search.liveness import abstract_key

    return abstract_key(w, system)


def partitioned_bfs(system, properties: tuple[Property, ...], engine, progress=None, symmetry: bool = False) -> Result:
    """Breadth-first search of `system` with its levels expanded by `engine`'s partitions."""
    from turnproof.explore.scale.symmetry import Quotient
    from turnproof.explore.search.liveness import Lassos

    started = time.perf_counter()
    meter = memory.Meter()
    search = Quotient.of(system) if symmetry else system
    liveness = any(p.when == "liveness" for p in properties)
    result = Result(search, properties)
    stats = result.stats
    lassos = None
    if liveness:
        lassos = Lassos(search, fingerprint, lambda w: _ident(w, search))
    safety = tuple(p for p in properties if p.when != "liveness")
    init = search.initial()
    k0 = fingerprint(init)
    parents: dict = {k0: None}
    depth = {k0: 0}
    first: dict[str, int] = {}  # property -> fingerprint of the first violating world found
    represented = {"states": 0, "transitions": 0, "quiescent": 0}
    numbered: dict[int, int] = {}  # liveness: fingerprint -> abstract state number, once expanded
    waiting: dict[int, list] = {}  # liveness: edges into worlds not expanded yet, by fingerprint
    ok = False
    try:
        engine.start(Spec(search, safety, liveness, symmetry))  # (inside: an interrupt here stops it too)
        n = engine.workers
        stats.fingerprint_bits, stats.workers, stats.engine = BITS, n, engine.name
        engine.call(0, "load", [init])
        keeps: list[list[int]] = [[k0]] + [[] for _ in range(n - 1)]
        stats.states, level = 1, 0
        while any(keeps):
            if hasattr(engine, "rescale"):
                keeps = engine.rescale(keeps, stats.states)
                stats.workers = engine.workers
            _balance(engine, keeps)
            found = frozenset(first)
            for p, out in enumerate(engine.call_all("expand", [(keep, found) for keep in keeps])):
                new: list[int] = []
                for k, (bad, moves, ident, orbit) in zip(keeps[p], out, strict=True):
                    for name in bad:
                        first.setdefault(name, k)
                    represented["states"] += orbit
                    represented["transitions"] += orbit * len(moves)
                    if not moves:
                        stats.quiescent += 1
                        represented["quiescent"] += orbit
                    if lassos:
                        a = numbered[k] = lassos.note(ident, k, [m[0] for m in moves])
                        for src, fiber, iteration in waiting.pop(k, ()):
                            lassos.link(src, a, fiber, iteration)
                    for move in moves:
                        fiber, fp = move[0], move[1]
                        stats.transitions += 1
                        if lassos:
                            if fp is None:
                                lassos.link(a, lassos.numbered(move[3]), fiber, move[2])
                            elif fp in numbered:
                                lassos.link(a, numbered[fp], fiber, move[2])
                            else:
                                waiting.setdefault(fp, []).append((a, fiber, move[2]))
                        if fp is None:
                            stats.cut += 1
                        elif fp not in parents:
                            parents[fp] = (k, fiber)
                            depth[fp] = level + 1
                            new.append(fp)
                keeps[p] = new
                if progress:  # (also where a budget is checked: a level can be large)
                    stats.seconds = time.perf_counter() - started
                    stop(progress(stats, level))
            if any(keeps):
                level += 1
                stats.states += sum(map(len, keeps))
                stats.max_depth = level
            if progress:
                stats.seconds = time.perf_counter() - started
                stop(progress(stats, level))
        ok = True
    finally:
        engine.stop(abort=not ok)  # interrupted, out of budget or failed: the workers end at once
    meter.read(stats)
    for prop in safety:
        if prop.name in first:
            trace = replay_path(search, parents, first[prop.name])
            result.findings[prop.name] = Finding(prop, prop.check(trace.final), trace)
    if lassos:
        lassos.done(result, parents, depth)
    if symmetry:
        from turnproof.explore.scale.symmetry import lift_findings

        lift_findings(search, result, represented)
    stats.seconds = time.perf_counter() - started
    return result


def _balance(engine, keeps: list[list[int]]) -> None:
    """Move worlds from partitions holding too many to those holding too few."""
    n = len(keeps)
    if n < 2:
        return
    mean = sum(map(len, keeps)) / n
    over = [p for p in range(n) if len(keeps[p]) > BALANCE * mean and len(keeps[p]) - mean >= MIN_MOVE]
    for p in over:
        surplus = keeps[p][int(mean) :]
        keeps[p] = keeps[p][: int(mean)]
        worlds = engine.call(p, "give", surplus)
        for q in sorted(range(n), key=lambda q: len(keeps[q])):
            if not worlds:
                break
            room = max(int(mean) - len(keeps[q]), 0) if q != p else 0
            if not room:
                continue
            part, worlds = worlds[:room], worlds[room:]
            engine.call(q, "load", part)
            keeps[q] += [fingerprint(w) for w in part]
        if worlds:  # rounding left a few: they go back where they came from
            engine.call(p, "load", worlds)
            keeps[p] += [fingerprint(w) for w in worlds]
