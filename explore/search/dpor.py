"""Stateful dynamic partial-order reduction (DPOR) with a visited set: `--strategy dpor`.

What it does. A depth-first search that takes, in each world, only some of the enabled steps:
first one invisible step, then every step that a race shows must also go first there. A race
is two dependent steps of different fibers on the explored path, with nothing between them
ordering them, whose order could be reversed (Flanagan & Godefroid 2005); what is added to
reverse it is an initial step of the reversed sequence, unless one already is there (the source
sets of Abdulla et al. 2014). Steps are dependent when their footprints conflict
(model/footprint.py: one changes a location the other reads or changes). A world met again is
not explored again: every explored world keeps a summary of the events below it (per fiber, the
locations they read and changed), and the current path is checked for races against it, as in
stateful DPOR (Yang et al. 2008); where a summary cannot tell which step would begin the
reversed order, every step that could begin it is added.

Why this decides what turnproof checks, in the bounded space:
- Coverage. From an explored world, every maximal execution (to a world at rest, or to a step
  past the bound) has a weak initial among the steps explored there: one of its steps that
  commutes with every step before it, or a step that commutes with all of it. The races
  establish this (the source sets of Abdulla et al.; it needs that no step disables another
  fiber, which holds in the model, enabledness only growing, and is tested on every reachable
  world); a summary reports every race the cached subgraph would, or more. It depends only on
  what lies below the world, so caching by world is sound.
- Visibility (the ample-set condition C2): a world explores all its enabled steps as soon as one
  explored step is visible: it writes a location kind that an `always` property reads
  (`Property.reads`; a property without it makes every step visible) or that deciding the bound
  reads (`System.bound_reads`: the number of messages), or it goes past the bound.
- Hence, by induction on the height of the DAG: take a path from an explored world to a world at
  rest, a violating world or a step past the bound, extended to a maximal execution, and its
  weak initial t explored there. If t is on the path, it commutes to the front and the path
  from the world after t is shorter. If not, t commutes with the whole path and, the world not
  being fully expanded, t is invisible: the path from the world after t ends in a world with
  the same property values and the same side of the bound. So every world at rest is reached
  (at-rest properties are judged on all of them), some violating world of every violated
  always-property is visited, and a step past the bound is met if one exists (`bound.complete`
  is bfs's).
- Cycles: worlds only grow, so the space is acyclic and no cycle proviso (C3) is needed; should
  a world ever recur on the path, the search starts again without reduction.
- loop-terminates: when nothing was cut, every execution ends at rest within the bound, so no
  loop goes round for ever: it holds. Otherwise the lasso search runs on the explored graph; a
  fair cycle it finds is replayed concretely and is a real violation. If it finds none while
  the bound cut steps, the property is reported as not judged, never as holding.
Counterexamples are the shortest within the explored graph, not necessarily the shortest
overall; each one is a schedule of the plain model and replays under it.

How the code is laid out. The current path is one list of frames (`Frame`): per world on it,
its node, the renaming into its names, and the step taken from it with what that step changed;
a frame is pushed when the search enters a world and popped, undoing its step, when every step
chosen there is explored. The race routines read the path's events from the frames and add
reversals to the frame where a race began.

Over orbits (given a Quotient, explore/scale/symmetry.py, and its `OrbitRenaming`,
explore/search/renaming.py; plain DPOR passes the identity, `IDENTITY`, and every renaming it
meets is None): every world is the least of its orbit under renamings of interchangeable
prompts, so a world is met again when any renaming of it was explored. A step is taken in the
plain model and its successor made least by a renaming (the move's `rn`); footprints and the
fibers of events are renamed into one naming for the whole path (that of its first world),
races are found there, and what they add is renamed back into the naming of the world where it
is added (the frame's `sig`); a cached world's summary is renamed from its naming into the
path's. The model and the dependency relation do not look at a prompt's name (only locations
of kinds `renaming.NAMED` name one, and a renaming maps them to each other), so a renamed
summary is what exploring below the renamed world would have given, and the argument above
holds orbit by orbit: every orbit at rest is reached, and a violating orbit of every violated
always-property. Traces are lifted to schedules of the plain model.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from turnproof.explore.search import memory
from turnproof.explore.search.budget import every, stop
from turnproof.explore.search.liveness import Lassos
from turnproof.explore.search.renaming import IDENTITY, Masks, Perm, Renaming, named
from turnproof.explore.search.result import Finding, Observer, Result
from turnproof.explore.search.trace import path_to
from turnproof.model.footprint import dependent
from turnproof.model.system import System
from turnproof.model.world import World
from turnproof.specs.properties import Property


class _Cycle(Exception):
    """A world recurred on the current path: the space is not acyclic."""


class Move:
    """One enabled step of a world, its footprint as bit masks, whether it is visible, and (over
    orbits) the renaming that made its successor the least of its orbit."""

    __slots__ = ("step", "nxt", "reads", "writes", "clears", "visible", "cut", "rn")

    def __init__(self, step, nxt: World, reads: int, writes: int, clears: int, visible: bool, cut: bool, rn=None):
        self.step, self.nxt, self.reads, self.writes, self.clears = step, nxt, reads, writes, clears
        self.visible, self.cut, self.rn = visible, cut, rn

    def conflicts(self, reads: int, writes: int, clears: int) -> bool:
        return dependent(self.reads, self.writes, self.clears, reads, writes, clears)


class Node:
    """An explored world (the key it is kept under), its moves, the fibers chosen to go first
    here, and its summary."""

    __slots__ = ("world", "moves", "todo", "chosen", "full", "below", "on_path", "via")

    def __init__(self, world: World, moves: dict[str, Move]):
        self.world, self.moves = world, moves
        self.on_path = False  # on the current path (a flag, not a set: no look-up by world)
        self.via = ""  # the fiber whose step first reached it, named as in the world it left
        self.todo: list[str] = []  # chosen, not yet explored
        self.chosen: set[str] = set()  # explored or to be
        self.full = False  # every enabled step is chosen
        self.below: dict[str, tuple[int, int, int]] = {}  # fiber -> (reads, writes, clears) of its events below


class Event:
    """A step on the current path: its fiber, footprint, and the path indices it happens after."""

    __slots__ = ("fiber", "reads", "writes", "clears", "hb")

    def __init__(self, fiber: str, reads: int, writes: int, clears: int, hb: int):
        self.fiber, self.reads, self.writes, self.clears, self.hb = fiber, reads, writes, clears, hb


@dataclass(slots=True)
class Frame:
    """One world on the current path (its node), pushed when the search enters it and popped when
    every step from it is explored, with what the path needs there: `sig` renames the path's
    names (those of its first world) into this world's (None: nothing to rename), and `event` is
    the step taken from it to the next frame (None on top), `undo` what that step changed in
    `last` (fiber -> its former latest event, None if it had none)."""

    node: Node
    sig: Perm | None
    event: Event | None = None
    undo: list[tuple[str, int | None]] | tuple = ()


def dpor_search(
    system: System,
    properties: tuple[Property, ...],
    progress=None,
    *,
    until: frozenset[str] = frozenset(),
    observers: tuple[Observer, ...] = (),
    renaming: Renaming = IDENTITY,
) -> Result:
    """Explore a reduced but sufficient part of the bounded space; see the module docstring.
    `progress(stats, depth)` is called now and then, as bfs does. `until`: stop as soon as every
    property named there is violated (the verdict is then known; the statistics cover what was
    explored, and `search["stopped"]` says so). `observers` are shown the explored graph once the
    search is over (read only: explore/search/mazurkiewicz.py counts its schedules). `renaming`:
    the identity, or, when `system` is a Quotient, its `OrbitRenaming` (explore/search/renaming.py)."""
    started = time.perf_counter()
    with memory.collector_paused():
        try:
            result = _Search(system, properties, True, progress, started, until, observers, renaming).run()
        except _Cycle:
            result = _Search(system, properties, False, progress, started, until, observers, renaming).run()
    result.stats.seconds = time.perf_counter() - started
    return result


class _Search:
    def __init__(
        self,
        system: System,
        properties: tuple[Property, ...],
        reduce: bool,
        progress,
        started: float,
        until=(),
        observers: tuple[Observer, ...] = (),
        renaming: Renaming = IDENTITY,
    ):
        self.system, self.reduce, self.progress, self.started = system, reduce, progress, started
        self.often = every(progress)
        # Over orbits (a Quotient): worlds are the least of their orbits, steps are taken in the
        # plain model and their successors made least again; see "Over orbits" in the module docstring.
        self.renaming = renaming
        self.plain = renaming.model(system)
        self.until, self.observers = until, observers
        self.stopped = False
        self.result = Result(system, properties, strategy="dpor")
        always = [p for p in properties if p.when == "always"]
        self.judged = {when: [p for p in properties if p.when == when] for when in ("always", "at_rest")}
        bound = getattr(self.plain, "bound_reads", None)  # what deciding "past the bound" reads
        self.every_step_visible = not reduce or bound is None or any(p.reads is None for p in always)
        self.masks = Masks({k for p in always for k in (p.reads or ())} | set(bound or ()), renaming)
        self.nodes: dict[World, Node] = {}
        self.parents: dict[World, tuple | None] = {}
        self.counts = {"enabled": 0, "races": 0, "summary_races": 0, "added": 0}
        self.last: dict[str, int] = {}  # fiber -> its latest event on the path, or the event that forked it

    def node(self, w: World) -> Node:
        """Compute a world's moves and choose the first step to explore there."""
        moves = {}
        mask, bounded_out, every = self.masks, self.plain.bounded_out, self.every_step_visible
        canonical = self.renaming.canonical
        for st, nxt, fp in self.plain.moves(w):
            writes, clears = mask(fp.writes), mask(fp.clears)
            cut = bounded_out(nxt)
            visible = every or cut or bool((writes | clears) & mask.visible)
            nxt, rn = canonical(nxt)
            moves[st.fiber] = Move(st, nxt, mask(fp.reads), writes, clears, visible, cut, rn)
        node = Node(w, moves)
        self.counts["enabled"] += len(moves)
        quiet = [f for f, m in moves.items() if not m.visible]
        if not quiet:
            self.expand(node)
        else:  # the invisible step that conflicts with the fewest others (then writes least): likeliest alone
            first, best = quiet[0], None
            if len(quiet) > 1:
                for f in quiet:
                    mf = moves[f]
                    key = (
                        sum(1 for m in moves.values() if mf.conflicts(m.reads, m.writes, m.clears)),
                        (mf.writes | mf.clears).bit_count(),
                    )
                    if best is None or key < best:  # (the first of equals, as min takes)
                        first, best = f, key
            node.todo.append(first)
            node.chosen.add(first)
            node.full = len(moves) == 1
        return node

    def expand(self, node: Node) -> None:
        if node.full:
            return
        for f in node.moves:
            if f not in node.chosen:
                node.todo.append(f)
                node.chosen.add(f)
        node.full = True

    def add(self, node: Node, fiber: str) -> None:
        """Make `fiber` go first in `node` too; all of them if that makes a visible step go first."""
        if node.full or fiber in node.chosen:
            return
        self.counts["added"] += 1
        if node.moves[fiber].visible:
            self.expand(node)
            return
        node.todo.append(fiber)
        node.chosen.add(fiber)
        if len(node.chosen) == len(node.moves):
            node.full = True

    # --- the search ----------------------------------------------------------------------------

    def run(self) -> Result:
        res, stats, system = self.result, self.result.stats, self.system
        renaming, masks, last = self.renaming, self.masks, self.last
        init = system.initial()
        self.parents[init] = None
        root = self.visit(init)
        root.on_path = True
        frames = [Frame(root, None)]  # the current path, its first world first
        while frames:
            if self.until and self.until <= res.findings.keys():
                self.stopped = True
                break
            top = frames[-1]
            node = top.node
            w = node.world
            if not node.todo:
                self.pop(frames)
                continue
            f = node.todo.pop(0)
            m = node.moves[f]
            stats.transitions += 1
            fp = (m.reads, m.writes, m.clears)
            _merge(node.below, {f: fp})
            to_path = renaming.back(top.sig)  # the event as the path names it
            f_path, fp = named(f, to_path), masks.renamed(fp, to_path)
            events = [fr.event for fr in frames[:-1]]  # events[i] goes from frames[i] to frames[i + 1]
            hb = self.races(events, frames, f_path, *fp)
            nxt = m.nxt
            if m.cut:
                stats.cut += 1
                continue
            event = Event(f_path, *fp, hb)
            seen = self.nodes.get(nxt)
            if seen is not None:
                if seen.on_path:  # a cycle: C3 cannot be had cheaply, so no reduction at all
                    if self.reduce:
                        raise _Cycle
                    continue
                m.nxt = seen.world  # the world kept: later look-ups find it by identity, not field by field
                to_path = renaming.back(renaming.then(top.sig, m.rn))
                below = masks.renamed_below(seen.below, to_path)  # as the path names them
                self.summary_races([*events, event], frames, w, nxt, below)
                _merge(node.below, masks.renamed_below(seen.below, renaming.back(m.rn)))
                continue
            self.parents[nxt] = (w, m.step)
            new = self.visit(nxt)
            new.via = f
            if self.progress and stats.states % self.often == 0:
                stats.seconds = time.perf_counter() - self.started
                stop(self.progress(stats, len(frames)))
            top.event, top.undo = event, [(g, last.get(g)) for g in (f_path, *_forked(w, nxt))]
            for g, _ in top.undo:
                last[g] = len(frames) - 1
            new.on_path = True
            frames.append(Frame(new, renaming.then(top.sig, m.rn)))
        self.finish()
        return res

    def pop(self, frames: list[Frame]) -> None:
        """Leave the world on top of the path, every step from it explored: undo the step into it
        and add what lies below it to its parent's summary."""
        node = frames.pop().node
        node.on_path = False
        if frames:
            parent = frames[-1]
            for f, before in parent.undo:
                if before is None:
                    self.last.pop(f, None)
                else:
                    self.last[f] = before
            parent.event, parent.undo = None, ()
            rn = parent.node.moves[node.via].rn
            _merge(parent.node.below, self.masks.renamed_below(node.below, self.renaming.back(rn)))

    def visit(self, w: World) -> Node:
        """A new world: compute its moves, check the properties on it."""
        stats = self.result.stats
        node = self.nodes[w] = self.node(w)
        stats.states += 1
        self.check(w, "always")
        if not node.moves:
            stats.quiescent += 1
            self.check(w, "at_rest")
        return node

    def check(self, w: World, when: str) -> None:
        for prop in self.judged[when]:
            if prop.name not in self.result.findings:
                v = prop.check(w)
                if v is not None:
                    self.result.findings[prop.name] = Finding(prop, v, path_to(self.parents, w))

    # --- races -----------------------------------------------------------------------------------
    # Events and fibers are named as the path names them (as its first world does); frames[i].sig
    # renames them into the names of frames[i]'s world, where a race's reversal is added.

    def races(self, events: list[Event], frames: list[Frame], fiber: str, reads: int, writes: int, clears: int) -> int:
        """The new event's happens-before set; each race it closes adds its reversal where it began."""
        hb = 0
        direct = [i for i, e in enumerate(events) if dependent(e.reads, e.writes, e.clears, reads, writes, clears)]
        for i in direct:
            hb |= events[i].hb | (1 << i)
        if not self.reduce:
            return hb
        covered = 0  # events ordered before some later direct predecessor: no race with those
        for i in reversed(direct):
            if covered >> i & 1:
                continue
            covered |= events[i].hb
            if events[i].fiber != fiber:
                self.reverse(events, frames[i], i, fiber, hb)
        return hb

    def reverse(self, events: list[Event], pre: Frame, i: int, fiber: str, hb: int) -> None:
        """Race between event i (taken from `pre`) and a new event of `fiber`: make an initial step
        of the reversed order (the events after i not ordered after it, then the new one) go first
        before event i."""
        if pre.node.full:
            return
        self.counts["races"] += 1
        free = [k for k in range(i + 1, len(events)) if not events[k].hb >> i & 1]
        free_mask = sum(1 << k for k in free)
        initials = [events[k].fiber for k in free if not events[k].hb & free_mask]
        if not hb & free_mask:
            initials.append(fiber)
        self.begin(pre, initials)

    def begin(self, pre: Frame, initials: list[str]) -> None:
        """Unless one of these initial steps (named as the path names them) already goes first at
        pre, make the first of them that can go first there."""
        if pre.sig is not None:
            initials = [named(g, pre.sig) for g in initials]
        node = pre.node
        initials = [g for g in initials if g in node.moves]  # the new fiber may not be runnable there
        if initials and not any(g in node.chosen for g in initials):
            self.add(node, initials[0])

    def summary_races(self, evs: list[Event], frames: list[Frame], w: World, y: World, below: dict) -> None:
        """Races between the path's events `evs` (the last one the step from w into y) and the
        events below the cached world y, `below` (its summary)."""
        if not self.reduce or not below:
            return
        n = len(evs) - 1
        fiber, last = evs[n].fiber, self.last
        forked = set(_forked(w, y))
        for g, (r, wr, c) in below.items():
            lg = n if g == fiber or g in forked else last.get(g)
            for i in [i for i, e in enumerate(evs) if dependent(e.reads, e.writes, e.clears, r, wr, c)]:
                if evs[i].fiber == g or frames[i].node.full:
                    continue
                if lg is not None and (lg == i or evs[lg].hb >> i & 1):
                    continue  # every event of g below y comes after one that comes after event i
                self.reverse_below(evs, frames[i], i, g, below)

    def reverse_below(self, evs: list[Event], pre: Frame, i: int, g: str, below: dict) -> None:
        """Race between event i (taken from `pre`) and the events of g below the cached world."""
        node = pre.node
        self.counts["summary_races"] += 1
        n = len(evs) - 1
        free = [k for k in range(i + 1, n + 1) if not evs[k].hb >> i & 1]
        if free:  # the first of them begins the reversed order whatever lies below
            free_mask = sum(1 << k for k in free)
            self.begin(pre, [evs[k].fiber for k in free if not evs[k].hb & free_mask])
            return
        # Every step after event i on the path comes after it: the reversed order begins below y,
        # with g itself or with a step that is the same before event i as below y. Add them all.
        after = evs[i : n + 1]
        from_pre = self.renaming.back(pre.sig)
        for h_pre, mv in node.moves.items():
            h = named(h_pre, from_pre)  # as the path names it
            if h == evs[i].fiber or (h != g and h not in below):
                continue
            mr, mw, mc = self.masks.renamed((mv.reads, mv.writes, mv.clears), from_pre)
            if h == g or not any(dependent(mr, mw, mc, e.reads, e.writes, e.clears) for e in after):
                self.add(node, h_pre)
            if node.full:
                return

    # --- the end -------------------------------------------------------------------------------

    def finish(self) -> None:
        """Shortest traces within the explored graph; loop-terminates judged as the docstring says."""
        res, stats = self.result, self.result.stats
        parents, depth = self.shortest()
        stats.max_depth = max(depth.values())
        for name, f in list(res.findings.items()):
            w = self.first(f.prop, depth)
            res.findings[name] = Finding(f.prop, f.prop.check(w), path_to(parents, w))
        live = [p for p in res.properties if p.when == "liveness"]
        if live and self.stopped:
            for p in live:
                res.unjudged[p.name] = "not judged by dpor: the search stopped once the other properties were violated"
        elif live and stats.cut:  # else every execution ends at rest within the bound: no loop runs for ever
            lassos = Lassos(self.system)
            for w in depth:
                node = self.nodes[w]
                lassos.note_numbered(lassos.alpha(w), w, node.moves)  # (one move per enabled fiber)
                for f, m in node.moves.items():  # (in fiber order: the same every run)
                    if f in node.chosen:
                        lassos.edge(w, m.step, m.nxt)
            lassos.done(res, parents, depth)
            for p in live:
                if p.name not in res.findings:
                    res.unjudged[p.name] = (
                        f"not judged by dpor: the bound cut {stats.cut} steps and the explored graph has no fair cycle"
                    )
        for o in self.observers:  # the explored graph: every world and every step taken from it
            for w in depth:
                o.seen(w)
                for f, m in self.nodes[w].moves.items():
                    if f in self.nodes[w].chosen:
                        o.edge(w, m.step, m.nxt, (depth[w], None if m.cut else depth.get(m.nxt)))
            o.done(res, parents, depth)
        c = self.counts
        branching = [n for n in self.nodes.values() if len(n.moves) > 1]
        full = sum(len(n.chosen) == len(n.moves) for n in branching)
        res.search = {
            "enabled": c["enabled"],  # steps enabled in the explored worlds
            "pruned": c["enabled"] - stats.transitions,  # of those, never taken
            "worlds_reduced": len(branching) - full,  # worlds with 2+ enabled steps where some were not taken
            "worlds_full": full,  # worlds with 2+ enabled steps where every one was taken
            "races": c["races"],  # races on the path whose reversal was checked
            "summary_races": c["summary_races"],  # races with the events below a world met again
            "added": c["added"],  # steps a race made go first too
            "restarted_without_reduction": not self.reduce,  # the space had a cycle
            "stopped": self.stopped,  # ended once every property asked for was violated
        }

    def shortest(self) -> tuple[dict, dict]:
        """Breadth-first over the explored transitions: shortest parents and depths within them."""
        init = self.system.initial()
        parents: dict = {init: None}
        depth = {init: 0}
        queue = deque([init])
        while queue:
            w = queue.popleft()
            node = self.nodes[w]
            for f, m in node.moves.items():
                if f in node.chosen and not m.cut and m.nxt not in depth and m.nxt in self.nodes:
                    parents[m.nxt] = (w, m.step)
                    depth[m.nxt] = depth[w] + 1
                    queue.append(m.nxt)
        return parents, depth

    def first(self, prop: Property, depth: dict) -> World:
        """The shallowest explored world violating `prop` (at rest for at-rest properties)."""
        for w in depth:  # filled breadth-first: in order of depth
            if (prop.when != "at_rest" or not self.nodes[w].moves) and prop.check(w) is not None:
                return w
        raise AssertionError(f"{prop.name}: the violating world is not in the explored graph")


def _forked(w, nxt) -> tuple[str, ...]:
    """Fibers that exist after a step and not before it (a world of the turn model appends them)."""
    fibers = getattr(nxt, "fibers", ())
    return tuple(f.name for f in fibers[len(w.fibers) :]) if fibers else ()


def _merge(into: dict, more: dict) -> None:
    for f, (r, w, c) in more.items():
        old = into.get(f)
        into[f] = (r, w, c) if old is None else (old[0] | r, old[1] | w, old[2] | c)
