"""Mazurkiewicz traces, counted exactly on small systems: how many schedules a reduced search
explores per trace, against optimal DPOR's one.

A schedule is maximal as `explore/search/naive.py` walks it: it ends in a world at rest or with
a step past the bound. Its events are (fiber, k) for a fiber's k-th step. Two schedules are the
same trace when they have the same events and order every dependent pair alike, dependence being
footprint conflict in the world where the step runs (`System.moves`, model/footprint.py), and
two steps of one fiber always dependent. That is an equivalence because steps whose footprints do
not conflict commute and keep each other's footprints (tests/test_footprint.py, on every
reachable world): swapping two adjacent independent events leaves every world after them, and so
every footprint, as it was.

Each schedule is named by its canonical form: its events sorted by (Foata level, fiber), the
level of an event being one more than the highest level among the earlier events it depends on.
The sorted sequence is a linear extension of the schedule's happens-before order, hence a
schedule of the same trace, and it depends only on that order: two schedules have the same
canonical form exactly when they are the same trace.

What a reduced search explored is its graph (worlds and the steps it took from each, shown by
an `Observer`); the schedules it stands for are that graph's paths from the initial world to a
world at rest or through a step past the bound. Worlds only grow, so the graph is acyclic and the
paths are counted by dynamic programming. `covered` says how many traces those paths reach. Neither
search promises every trace: dpor promises every world at rest, a violating world of every violated
property and a step past the bound if there is one (so it may leave out a trace ending past the
bound), and the sleep-set search with its visited set every world (so it may leave out a trace
whose worlds it reached along other schedules).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from turnproof.explore.search.dpor import dpor_search
from turnproof.explore.search.result import Observer, Result
from turnproof.explore.search.sleep import sleep_search
from turnproof.model.footprint import dependent
from turnproof.model.system import System
from turnproof.model.world import World
from turnproof.specs.properties import PROPERTIES

LIMIT = 20_000  # schedules: past this, counting them one by one is refused


class TooLarge(RuntimeError):
    """The system has more schedules than the limit allows to enumerate."""


@dataclass
class Traces:
    """Maximal schedules walked, and the distinct traces among them (by canonical form)."""

    schedules: int = 0
    forms: set = field(default_factory=set)
    ends: set = field(default_factory=set)  # the worlds at rest the schedules end in
    past: set = field(default_factory=set)  # the canonical forms of traces ending with a step past the bound

    @property
    def traces(self) -> int:
        return len(self.forms)


class Footprints:
    """Each world's moves with their footprints as bit masks, computed once per world (one of them
    can serve several counts over the same space)."""

    def __init__(self, system: System):
        self.system = system
        self.bit: dict = {}
        self.cache: dict[World, dict] = {}

    def mask(self, locs) -> int:
        m = 0
        for loc in locs:
            b = self.bit.get(loc)
            if b is None:
                b = self.bit[loc] = 1 << len(self.bit)
            m |= b
        return m

    def of(self, w: World) -> dict:
        """fiber -> (next world, (reads, writes, clears), cut)."""
        out = self.cache.get(w)
        if out is None:
            out = self.cache[w] = {
                st.fiber: (
                    nxt,
                    (self.mask(fp.reads), self.mask(fp.writes), self.mask(fp.clears)),
                    self.system.bounded_out(nxt),
                )
                for st, nxt, fp in self.system.moves(w)
            }
        return out


def traces(system: System, limit: int = LIMIT, follow: Callable[[World], object] | None = None) -> Traces:
    """Walk every maximal schedule (or, with `follow(w)` naming the fibers to take in w, every one
    through those steps) and name each by its canonical form; TooLarge past `limit` schedules."""
    moves = Footprints(system)
    out = Traces()
    path: list[tuple[str, tuple, int]] = []  # (fiber, footprint masks, Foata level) per event

    def end(rest: World | None) -> None:
        out.schedules += 1
        if out.schedules > limit:
            raise TooLarge(f"{_name(system)}: more than {limit:,} schedules, too many to count traces one by one")
        form = tuple(f for _, f in sorted((level, f) for f, _, level in path))
        out.forms.add(form)
        if rest is None:
            out.past.add(form)
        else:
            out.ends.add(rest)

    def walk(w: World) -> None:
        here = moves.of(w)
        if not here:
            end(w)
            return
        for f in here if follow is None else follow(w):
            nxt, fp, cut = here[f]
            level = 1 + max((lv for g, other, lv in path if g == f or dependent(*other, *fp)), default=0)
            path.append((f, fp, level))
            if cut:
                end(None)
            else:
                walk(nxt)
            path.pop()

    walk(system.initial())
    return out


@dataclass
class Floor:
    """What one schedule per trace goes through: the worlds it visits (the initial one and every
    world before a step past the bound) and the steps it takes from them (a step past the bound
    included), each counted once, as the stateful searches count them."""

    worlds: set
    transitions: int


def floor(system: System, reverse: bool = False, footprints: Footprints | None = None) -> Floor:
    """The worlds and steps of one schedule per trace, the first in the naive search's order (or
    in the reverse fiber order): what a DPOR that is optimal in traces, exploring in that order,
    visits.

    Computed without walking the schedules. A stateless search with sleep sets, taking steps in a
    fixed order, takes a prefix exactly when no earlier prefix in that order is the same trace
    (Godefroid 1996); so the pairs (world, sleep set) it meets, kept once each, and among them the
    pairs from which it still goes on to a world at rest or past the bound, are the schedules that
    come first in their trace. tests/test_traces.py checks the result against walking every
    schedule. Independent steps keep each other's footprints (tests/test_footprint.py), so a step
    asleep in a world is asleep as the same step in the next. `footprints`: the system's, if
    already computed."""
    footprints = footprints or Footprints(system)
    ends: dict[tuple, bool] = {}  # (world, asleep) -> a schedule goes on from it

    def ordered(w: World) -> dict:
        here = footprints.of(w)
        return dict(reversed(here.items())) if reverse else here

    def asleep_after(here: dict, asleep, fp) -> frozenset:
        return frozenset(u for u in asleep if not dependent(*here[u][1], *fp))

    def goes_on(w: World, asleep: frozenset) -> bool:
        key = (w, asleep)
        known = ends.get(key)
        if known is not None:
            return known
        here = ordered(w)
        ok = not here  # a world at rest ends a schedule
        taken: list[str] = []
        for f, (nxt, fp, cut) in here.items():
            if f not in asleep:
                ok = (cut or goes_on(nxt, asleep_after(here, (*asleep, *taken), fp))) or ok
                taken.append(f)
        ends[key] = ok
        return ok

    init = system.initial()
    goes_on(init, frozenset())
    worlds, steps = set(), set()
    stack, seen = [(init, frozenset())], set()
    while stack:  # the pairs a schedule goes on from, reached through such pairs
        w, asleep = key = stack.pop()
        if key in seen or not ends[key]:
            continue
        seen.add(key)
        worlds.add(w)
        here, taken = ordered(w), []
        for f, (nxt, fp, cut) in here.items():
            if f in asleep:
                continue
            after = asleep_after(here, (*asleep, *taken), fp)
            if cut or ends[(nxt, after)]:
                steps.add((w, f))
            if not cut:
                stack.append((nxt, after))
            taken.append(f)
    return Floor(worlds, len(steps))


def _name(system) -> str:
    design, scenario = getattr(system, "design", None), getattr(system, "scenario", None)
    return f"{design.name} × {scenario.name}" if design and scenario else type(system).__name__


class Explored(Observer):
    """The graph a search explored: for each world, the steps taken from it (fiber -> next world)."""

    def __init__(self) -> None:
        self.steps: dict[World, dict[str, World]] = {}

    def seen(self, w: World) -> None:
        self.steps.setdefault(w, {})

    def edge(self, w: World, step, nxt: World, depths) -> None:
        self.steps.setdefault(w, {})[step.fiber] = nxt

    def schedules(self, system: System) -> int:
        """Paths from the initial world to a world at rest or through a step past the bound, by
        dynamic programming over the acyclic graph (a world where every step slept ends none)."""
        count: dict[World, int] = {}
        order = [(system.initial(), False)]
        while order:  # post-order without recursion: a world's count after its successors'
            w, ready = order.pop()
            if w in count:
                continue
            succ = [n for n in self.steps.get(w, {}).values() if not system.bounded_out(n)]
            if not ready:
                order.append((w, True))
                order.extend((n, False) for n in succ if n not in count)
                continue
            steps = self.steps.get(w, {})
            if not steps:
                count[w] = 0 if system.successors(w) else 1
            else:
                count[w] = sum(1 if system.bounded_out(n) else count[n] for n in steps.values())
        return count[system.initial()]

    def follow(self, w: World) -> list[str]:
        return list(self.steps.get(w, {}))


@dataclass
class Reduction:
    """One reduced search against the traces: schedules its graph stands for, traces they reach."""

    strategy: str
    schedules: int  # paths through the explored graph
    walked: Traces  # the same paths walked one by one: their number, and their canonical forms
    result: Result

    @property
    def covered(self) -> int:
        return self.walked.traces

    def missed(self, every: Traces) -> tuple[int, int]:
        """Traces of `every` its paths do not reach: (ending at rest, ending past the bound)."""
        gone = every.forms - self.walked.forms
        return len(gone - every.past), len(gone & every.past)


@dataclass
class Count:
    """Exact figures for one small system."""

    naive: Traces
    reduced: dict[str, Reduction]

    def ratio(self, strategy: str) -> float:
        """Explored schedules per trace: optimal DPOR's is 1.00; below 1, a trace was missed."""
        return self.reduced[strategy].schedules / self.naive.traces


def count(system: System, limit: int = LIMIT, properties=PROPERTIES) -> Count:
    """Traces of every schedule, and what dpor and the sleep-set search explored of them."""
    naive = traces(system, limit)
    reduced = {}
    for name, run in (("dpor", dpor_search), ("sleep", sleep_search)):
        graph = Explored()
        res = run(system, properties, observers=(graph,))
        reduced[name] = Reduction(name, graph.schedules(system), traces(system, limit, graph.follow), res)
    return Count(naive, reduced)
