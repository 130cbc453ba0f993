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

Over orbits (given a Quotient, explore/scale/symmetry.py): every world is the least of its orbit
under renamings of interchangeable prompts, so a world is met again when any renaming of it was
explored. A step is taken in the plain model and its successor made least by a renaming (the
move's `rn`); footprints and the fibers of events are renamed into one naming for the whole
path (that of its first world), races are found there, and what they add is renamed back into
the naming of the world where it is added; a cached world's summary is renamed from its naming
into the path's. The model and the dependency relation do not look at a prompt's name (only
locations of kinds NAMED name one, and a renaming maps them to each other), so a renamed
summary is what exploring below the renamed world would have given, and the argument above
holds orbit by orbit: every orbit at rest is reached, and a violating orbit of every violated
always-property. Traces are lifted to schedules of the plain model.
"""

from __future__ import annotations

import time
from collections import deque

from turnproof.explore.search import memory
from turnproof.explore.search.budget import every, stop
from turnproof.explore.search.liveness import Lassos
from turnproof.explore.search.result import Finding, Observer, Result
from turnproof.explore.search.trace import path_to
from turnproof.model.footprint import dependent
from turnproof.model.system import BOUND, System
from turnproof.model.world import World
from turnproof.specs.properties import Property

NAMED = ("fiber", "sent")  # the location kinds that name a prompt (model/footprint.py)


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


class Perm:
    """A renaming of prompt names (the names it moves), interned per search so that footprints
    renamed by it can be remembered under its key."""

    __slots__ = ("map", "key", "inverse")

    def __init__(self, m: dict[str, str], key: tuple):
        self.map, self.key = m, key
        self.inverse: Perm | None = None


class Event:
    """A step on the current path: its fiber, footprint, and the path indices it happens after."""

    __slots__ = ("fiber", "reads", "writes", "clears", "hb")

    def __init__(self, fiber: str, reads: int, writes: int, clears: int, hb: int):
        self.fiber, self.reads, self.writes, self.clears, self.hb = fiber, reads, writes, clears, hb


def dpor_search(
    system: System,
    properties: tuple[Property, ...],
    progress=None,
    *,
    until: frozenset[str] = frozenset(),
    observers: tuple[Observer, ...] = (),
) -> Result:
    """Explore a reduced but sufficient part of the bounded space; see the module docstring.
    `progress(stats, depth)` is called now and then, as bfs does. `until`: stop as soon as every
    property named there is violated (the verdict is then known; the statistics cover what was
    explored, and `search["stopped"]` says so). `observers` are shown the explored graph once the
    search is over (read only: explore/search/mazurkiewicz.py counts its schedules)."""
    started = time.perf_counter()
    with memory.collector_paused():
        try:
            result = _Search(system, properties, True, progress, started, until, observers).run()
        except _Cycle:
            result = _Search(system, properties, False, progress, started, until, observers).run()
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
    ):
        self.system, self.reduce, self.progress, self.started = system, reduce, progress, started
        self.often = every(progress)
        # Over orbits (a Quotient): worlds are the least of their orbits, steps are taken in the
        # plain model and their successors made least again; see `symmetry` in the module docstring.
        self.sym = getattr(system, "symmetry", None)
        self.plain = system.system if self.sym is not None else system
        self.until, self.observers = until, observers
        self.stopped = False
        self.result = Result(system, properties, strategy="dpor")
        always = [p for p in properties if p.when == "always"]
        self.judged = {when: [p for p in properties if p.when == when] for when in ("always", "at_rest")}
        bound = getattr(self.plain, "bound_reads", None)  # what deciding "past the bound" reads
        self.every_step_visible = not reduce or bound is None or any(p.reads is None for p in always)
        self.kinds = {k for p in always for k in (p.reads or ())} | set(bound or ())
        self.bit: dict = {BOUND: 0}  # BOUND is handled by making steps past the bound visible
        self.masks: dict[frozenset, int] = {}  # a footprint's set of locations -> its mask (they recur)
        self.visible_mask = 0
        self.nodes: dict[World, Node] = {}
        self.parents: dict[World, tuple | None] = {}
        self.counts = {"enabled": 0, "races": 0, "summary_races": 0, "added": 0}
        self.named = 0  # the bits of locations that name a prompt a renaming moves
        self.named_loc: dict[int, tuple] = {}  # such a bit -> its location
        self.perms: dict[tuple, Perm] = {}
        self.renamings: dict[tuple, int] = {}  # (mask, perm key) -> the mask renamed

    # --- footprints as bit masks ---------------------------------------------------------------

    def mask(self, locs: frozenset) -> int:
        m = self.masks.get(locs)
        if m is None:
            m = self.masks[locs] = self._mask(locs)
        return m

    def _mask(self, locs) -> int:
        m = 0
        for loc in locs:
            b = self.bit.get(loc)
            if b is None:
                b = self.bit[loc] = 1 << (len(self.bit) - 1)
                if loc[0] in self.kinds:
                    self.visible_mask |= b
                if self.sym is not None and loc[0] in NAMED and loc[1] in self.sym.members:
                    self.named |= b
                    self.named_loc[b] = loc
            m |= b
        return m

    # --- renamings (over orbits only) --------------------------------------------------------

    def perm(self, m: dict) -> Perm | None:
        """The interned renaming moving what m moves (None: the identity)."""
        if not m:
            return None
        key = tuple(sorted(m.items()))
        p = self.perms.get(key)
        if p is None:
            p = self.perms[key] = Perm(dict(m), key)
        return p

    def then(self, a: Perm | None, b: Perm | None) -> Perm | None:
        """Renaming a, then b."""
        if b is None:
            return a
        if a is None:
            return b
        out = {}
        for n in self.sym.members:
            x = a.map.get(n, n)
            y = b.map.get(x, x)
            if y != n:
                out[n] = y
        return self.perm(out)

    def back(self, p: Perm | None) -> Perm | None:
        if p is None:
            return None
        if p.inverse is None:
            p.inverse = self.perm({new: old for old, new in p.map.items()})
        return p.inverse

    def rename(self, mask: int, p: Perm | None) -> int:
        """A footprint mask with the prompt names in its locations renamed by p."""
        if p is None or not mask & self.named:
            return mask
        k = (mask, p.key)
        out = self.renamings.get(k)
        if out is None:
            out = mask & ~self.named
            rest = mask & self.named
            while rest:
                b = rest & -rest
                rest ^= b
                kind, name = self.named_loc[b]
                out |= self._mask(((kind, p.map.get(name, name)),))
            self.renamings[k] = out
        return out

    def renamed(self, fp: tuple[int, int, int], p: Perm | None) -> tuple[int, int, int]:
        """A footprint's (reads, writes, clears) masks, renamed by p."""
        if p is None:
            return fp
        r = self.rename
        return r(fp[0], p), r(fp[1], p), r(fp[2], p)

    def renamed_below(self, below: dict, p: Perm | None) -> dict:
        """A summary (fiber -> footprint masks) with its fibers and locations renamed by p."""
        if p is None:
            return below
        return {p.map.get(g, g): self.renamed(fp, p) for g, fp in below.items()}

    def node(self, w: World) -> Node:
        """Compute a world's moves and choose the first step to explore there."""
        moves = {}
        mask, bounded_out, every, sym = self.mask, self.plain.bounded_out, self.every_step_visible, self.sym
        for st, nxt, fp in self.plain.moves(w):
            writes, clears = mask(fp.writes), mask(fp.clears)
            cut = bounded_out(nxt)
            visible = every or cut or bool((writes | clears) & self.visible_mask)
            rn = None
            if sym is not None:
                nxt, m = sym.canonical(nxt)
                rn = self.perm(m)
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
        init = system.initial()
        self.parents[init] = None
        self.visit(init)
        frames: list[World] = [init]  # the worlds on the current path
        path: list[Node] = [self.nodes[init]]  # their nodes
        events: list[Event] = []  # events[i] goes from frames[i] to frames[i + 1]
        last: dict[str, int] = {}  # fiber -> its latest event on the path, or the event that forked it
        undo: list[list[tuple[str, int | None]]] = []
        # Over orbits, events are named as in the first world of the path: sig[k] renames those
        # names to frames[k]'s (None: nothing to rename; `back(sig[k])` renames the other way).
        sig: list[Perm | None] = [None]
        path[0].on_path = True
        while frames:
            if self.until and self.until <= res.findings.keys():
                self.stopped = True
                break
            w = frames[-1]
            node = path[-1]
            if not node.todo:
                frames.pop()
                path.pop().on_path = False
                if events:
                    events.pop()
                    sig.pop()
                    for f, before in undo.pop():
                        if before is None:
                            last.pop(f, None)
                        else:
                            last[f] = before
                    rn = path[-1].moves[node.via].rn if self.sym is not None else None
                    _merge(path[-1].below, self.renamed_below(node.below, self.back(rn)))
                continue
            f = node.todo.pop(0)
            m = node.moves[f]
            stats.transitions += 1
            fp = (m.reads, m.writes, m.clears)
            _merge(node.below, {f: fp})
            to_path = self.back(sig[-1])  # the event as the path names it
            f_path, fp = (f, fp) if to_path is None else (to_path.map.get(f, f), self.renamed(fp, to_path))
            hb = self.races(events, path, sig, f_path, *fp)
            nxt = m.nxt
            if m.cut:
                stats.cut += 1
                continue
            seen = self.nodes.get(nxt)
            if seen is not None:
                if seen.on_path:  # a cycle: C3 cannot be had cheaply, so no reduction at all
                    if self.reduce:
                        raise _Cycle
                    continue
                m.nxt = seen.world  # the world kept: later look-ups find it by identity, not field by field
                below = self.renamed_below(seen.below, self.back(self.then(sig[-1], m.rn)))  # as the path names them
                self.summary_races(events, path, sig, last, f_path, fp, hb, w, nxt, below)
                _merge(node.below, self.renamed_below(seen.below, self.back(m.rn)))
                continue
            self.parents[nxt] = (w, m.step)
            new = self.visit(nxt)
            new.via = f
            if self.progress and stats.states % self.often == 0:
                stats.seconds = time.perf_counter() - self.started
                stop(self.progress(stats, len(frames)))
            changed = [(g, last.get(g)) for g in (f_path, *_forked(w, nxt))]
            for g, _ in changed:
                last[g] = len(events)
            undo.append(changed)
            events.append(Event(f_path, *fp, hb))
            sig.append(self.then(sig[-1], m.rn))
            frames.append(nxt)
            path.append(new)
            new.on_path = True
        self.finish()
        return res

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

    def races(
        self, events: list[Event], path: list[Node], sig: list, fiber: str, reads: int, writes: int, clears: int
    ) -> int:
        """The new event's happens-before set; each race it closes adds its reversal where it began.
        Events and `fiber` are named as the path names them; sig[i] names them as path[i] does."""
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
                self.reverse(events, path, sig[i], i, fiber, hb)
        return hb

    def reverse(self, events: list[Event], path: list[Node], to_pre, i: int, fiber: str, hb: int) -> None:
        """Race between event i and a new event of `fiber`: make an initial step of the reversed order
        (the events after i not ordered after it, then the new one) go first before event i."""
        pre = path[i]
        if pre.full:
            return
        self.counts["races"] += 1
        free = [k for k in range(i + 1, len(events)) if not events[k].hb >> i & 1]
        free_mask = sum(1 << k for k in free)
        initials = [events[k].fiber for k in free if not events[k].hb & free_mask]
        if not hb & free_mask:
            initials.append(fiber)
        self.begin(pre, to_pre, initials)

    def begin(self, pre: Node, to_pre: Perm | None, initials: list[str]) -> None:
        """Unless one of these initial steps (named as the path names them) already goes first at
        pre, make the first of them that can go first there."""
        if to_pre is not None:
            initials = [to_pre.map.get(g, g) for g in initials]
        initials = [g for g in initials if g in pre.moves]  # the new fiber may not be runnable there
        if initials and not any(g in pre.chosen for g in initials):
            self.add(pre, initials[0])

    def summary_races(self, events, path, sig, last, fiber, fp, hb: int, w: World, y: World, below: dict) -> None:
        """Races between the path (with the step into y) and the events below the cached world y,
        `below` (its summary, named as the path names fibers)."""
        if not self.reduce or not below:
            return
        evs = events + [Event(fiber, *fp, hb)]
        n = len(evs) - 1
        forked = set(_forked(w, y))
        for g, (r, wr, c) in below.items():
            lg = n if g == fiber or g in forked else last.get(g)
            for i in [i for i, e in enumerate(evs) if dependent(e.reads, e.writes, e.clears, r, wr, c)]:
                if evs[i].fiber == g or path[i].full:
                    continue
                if lg is not None and (lg == i or evs[lg].hb >> i & 1):
                    continue  # every event of g below y comes after one that comes after event i
                self.reverse_below(evs, path, sig[i], i, g, below)

    def reverse_below(self, evs: list[Event], path: list[Node], to_pre, i: int, g: str, below: dict) -> None:
        pre = path[i]
        self.counts["summary_races"] += 1
        n = len(evs) - 1
        free = [k for k in range(i + 1, n + 1) if not evs[k].hb >> i & 1]
        if free:  # the first of them begins the reversed order whatever lies below
            free_mask = sum(1 << k for k in free)
            self.begin(pre, to_pre, [evs[k].fiber for k in free if not evs[k].hb & free_mask])
            return
        # Every step after event i on the path comes after it: the reversed order begins below y,
        # with g itself or with a step that is the same before event i as below y. Add them all.
        after = evs[i : n + 1]
        from_pre = self.back(to_pre)
        for h_pre, mv in pre.moves.items():
            h = h_pre if from_pre is None else from_pre.map.get(h_pre, h_pre)  # as the path names it
            if h == evs[i].fiber or (h != g and h not in below):
                continue
            mr, mw, mc = self.renamed((mv.reads, mv.writes, mv.clears), from_pre)
            if h == g or not any(dependent(mr, mw, mc, e.reads, e.writes, e.clears) for e in after):
                self.add(pre, h_pre)
            if pre.full:
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
