"""Symmetry reduction: prompts that differ only in their names make fibers whose permutations
give equivalent worlds, so the search keeps one world per orbit.

Two prompts are interchangeable when every field but the name is equal and no prompt waits for
either by name (`after`). Renaming them consistently (fibers, user messages, runs' starter and
prompt, `sent`, shell handles, abort targets, request results) maps every reachable world to a
reachable world with the same future up to the renaming, and every property is stated without
naming a prompt, so a property fails in a world iff it fails in the renamed one.

The search runs on the quotient (`Quotient`): each successor is replaced by the least member of
its orbit. A quotient trace is lifted back to a schedule of the plain model (`lift`).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, replace

from turnproof.explore.search.fingerprint import encode
from turnproof.explore.search.trace import Trace
from turnproof.model.config import Scenario
from turnproof.model.store import ASSISTANT, USER
from turnproof.model.system import System
from turnproof.model.world import World

# A name could be mistaken for a value that is not a prompt's name in these fields (an assistant
# label, a request result): such prompts are left out of every group.
NOT_A_NAME = re.compile(r"^(A[0-9]+|busy|cancelled|idle|ok|interrupted|completed)$")

Renaming = dict[str, str]


def groups(scenario: Scenario) -> tuple[tuple[str, ...], ...]:
    """The sets of interchangeable prompts (two or more each), in scenario order."""
    waited = {a for p in scenario.prompts for a in p.after}
    by: dict = {}
    for p in scenario.prompts:
        if p.name not in waited and not NOT_A_NAME.match(p.name):
            by.setdefault(replace(p, name=""), []).append(p.name)
    return tuple(tuple(names) for names in by.values() if len(names) > 1)


class Symmetry:
    """The renamings of one scenario's interchangeable prompts, and the least world of an orbit."""

    def __init__(self, scenario: Scenario):
        self.groups = groups(scenario)
        self.clients = len(scenario.prompts)  # fibers[:clients] are the prompts' fibers, in order
        self.pos = {p.name: i for i, p in enumerate(scenario.prompts)}
        self.members = frozenset(n for g in self.groups for n in g)
        self.size = math.prod(math.factorial(len(g)) for g in self.groups)  # the group's order

    # --- renaming ---------------------------------------------------------------------------

    def rename(self, w: World, m: Renaming) -> World:
        """The world with every prompt name n replaced by m.get(n, n), fibers kept in place by name."""
        if not m:
            return w

        def name(x):
            return m.get(x, x)

        fibers = list(w.fibers)
        for f in w.fibers[: self.clients]:
            g = replace(f, name=name(f.name), prompt=name(f.prompt), target=name(f.target), result=name(f.result))
            fibers[self.pos[g.name]] = g
        for i in range(self.clients, len(fibers)):
            f = fibers[i]
            if f.prompt in m or f.target in m:
                fibers[i] = replace(f, prompt=name(f.prompt), target=name(f.target))
        msgs = tuple(
            replace(x, label=name(x.label))
            if x.role == USER and x.label in m
            else replace(x, source=name(x.source))
            if x.role == ASSISTANT and x.source in m
            else x
            for x in w.store.messages
        )
        runs = tuple(
            replace(r, starter=name(r.starter), prompt=r.prompt and name(r.prompt))
            if r.starter in m or r.prompt in m
            else r
            for r in w.runs
        )
        shell = {i + 1: self.pos[name(f.name)] + 1 for i, f in enumerate(w.fibers[: self.clients])}
        runners = tuple(replace(s, shell=shell[s.shell]) if s.shell in shell else s for s in w.runners)
        return replace(
            w,
            store=replace(w.store, messages=msgs),
            fibers=tuple(fibers),
            runs=runs,
            runners=runners,
            sent=frozenset(name(n) for n in w.sent),
            inbox=replace(w.inbox, rows=tuple(replace(r, name=name(r.name)) for r in w.inbox.rows)),
        )

    # --- the least member of an orbit ---------------------------------------------------------

    def _signature(self, w: World, n: str) -> str:
        """What world w says about member n, with every member's name blanked out: equal for n in
        w and for m(n) in the renamed world, whatever the renaming m."""

        def blank(x):
            return "*" if x in self.members else x

        f = w.fibers[self.pos[n]]
        mine = (f.pc, f.run, f.runner, f.instance, f.msg, f.user, f.seen, f.answer, f.idle, f.interrupt)
        mine += (blank(f.target), blank(f.result), n in w.sent)
        mine += (tuple(i for i, x in enumerate(w.store.messages) if x.label == n and x.role == USER),)
        mine += (tuple(i for i, x in enumerate(w.store.messages) if x.source == n and x.role == ASSISTANT),)
        mine += (tuple(r.id for r in w.runs if r.starter == n), tuple(r.id for r in w.runs if r.prompt == n))
        mine += (tuple(i for i, g in enumerate(w.fibers) if i >= self.clients and g.prompt == n),)
        mine += (tuple(i for i, s in enumerate(w.runners) if s.shell == self.pos[n] + 1),)
        mine += (sum(1 for g in w.fibers if g.target == n),)
        mine += (
            tuple(
                (i, r.delivery, r.admitted, r.promoted, r.wake, r.by) for i, r in enumerate(w.inbox.rows) if r.name == n
            ),
        )
        return repr(mine)

    def _untouched(self, w: World, n: str) -> bool:
        """Not sent yet: nothing in w refers to n, so two untouched members swap to the same world."""
        return n not in w.sent and w.fibers[self.pos[n]].pc == "send"

    def _blocks(self, w: World):
        """Per group: its members sorted by signature, cut into blocks of equal signature."""
        out = []
        for g in self.groups:
            sigs = {n: self._signature(w, n) for n in g}
            ordered = sorted(g, key=sigs.__getitem__)
            blocks = [list(b) for _, b in itertools.groupby(ordered, key=sigs.__getitem__)]
            out.append((g, blocks))
        return out

    def canonical(self, w: World) -> tuple[World, Renaming]:
        """The least world of w's orbit and a renaming that maps w to it.

        Members are ordered by signature, which no renaming changes, and take the group's names
        in that order; members with equal signatures that were already sent are tried in every
        order and the least encoding wins, so the result is the same for every world of the orbit.
        """
        if not self.groups:
            return w, {}
        choices = []  # per group: the candidate orders of its members
        for g, blocks in self._blocks(w):
            options = [
                [b] if all(self._untouched(w, n) for n in b) else [list(p) for p in itertools.permutations(b)]
                for b in blocks
            ]
            choices.append([(g, [n for part in combo for n in part]) for combo in itertools.product(*options)])
        candidates = []
        for combo in itertools.product(*choices):
            m = {old: new for g, order in combo for old, new in zip(order, g, strict=True) if old != new}
            candidates.append((self.rename(w, m), m))
        if len(candidates) == 1:
            return candidates[0]
        return min(candidates, key=lambda c: encode(c[0]))

    def orbit(self, w: World) -> int:
        """How many distinct worlds w's orbit holds: the group's order over w's stabilizer's."""
        stab = 1
        touched = []
        for _g, blocks in self._blocks(w):
            for b in blocks:
                if all(self._untouched(w, n) for n in b):
                    stab *= math.factorial(len(b))
                elif len(b) > 1:
                    touched.append(b)
        if touched:
            fixing = 0
            for perms in itertools.product(*(itertools.permutations(b) for b in touched)):
                m = {old: new for b, p in zip(touched, perms, strict=True) for old, new in zip(b, p, strict=True)}
                fixing += self.rename(w, {a: b for a, b in m.items() if a != b}) == w
            stab *= fixing
        return self.size // stab

    def renamings(self):
        """Every renaming of the group (the identity first)."""
        per_group = [[dict(zip(g, p, strict=True)) for p in itertools.permutations(g)] for g in self.groups]
        for combo in itertools.product(*per_group):
            yield {a: b for part in combo for a, b in part.items() if a != b}


@dataclass(frozen=True)
class Quotient:
    """The model seen one orbit at a time: every world it hands out is the least of its orbit.

    It answers what the checkers ask of a `System` (initial, successors, apply, ...); a step's
    fiber is named as in the world it leaves.
    """

    system: System
    symmetry: Symmetry

    @staticmethod
    def of(system: System) -> Quotient:
        return Quotient(system, Symmetry(system.scenario))

    @property
    def design(self):
        return self.system.design

    @property
    def scenario(self):
        return self.system.scenario

    def canon(self, w: World) -> World:
        return self.symmetry.canonical(w)[0]

    def initial(self) -> World:
        return self.canon(self.system.initial())

    def enabled(self, w: World):
        return self.system.enabled(w)

    def successors(self, w: World):
        return [(step, self.canon(nxt)) for step, nxt in self.system.successors(w)]

    def apply(self, w: World, fiber: str):
        step, nxt = self.system.apply(w, fiber)
        return step, self.canon(nxt)

    def quiescent(self, w: World) -> bool:
        return self.system.quiescent(w)

    def bounded_out(self, w: World) -> bool:
        return self.system.bounded_out(w)


def lift(q: Quotient, trace: Trace) -> Trace:
    """The quotient trace as a trace of the plain model: the same steps, each fiber renamed back.

    At each step the real world r and the quotient world agree up to the renaming m that makes r
    canonical, so the quotient's fiber f is fiber m⁻¹(f) of r. A lasso's cycle is then repeated,
    renamed by the permutation it induced, until the real world comes back to the same
    liveness abstraction (at most the group's order times).
    """
    system, sym = q.system, q.symmetry
    r = system.initial()
    steps = []
    for i, (qstep, qw) in enumerate(trace.steps):
        if trace.cycle_from is not None and i == trace.cycle_from:
            break
        r = _step(system, sym, r, qstep.fiber, steps)
        if sym.canonical(r)[0] != qw:
            raise AssertionError("symmetry: the lifted trace left the quotient trace")
    if trace.cycle_from is None:
        return Trace(system.initial(), tuple(steps))
    return _lift_cycle(q, trace, r, steps)


def _step(system: System, sym: Symmetry, r: World, qfiber: str, steps: list) -> World:
    m = sym.canonical(r)[1]
    back = {new: old for old, new in m.items()}
    step, r = system.apply(r, back.get(qfiber, qfiber))
    steps.append((step, r))
    return r


def _lift_cycle(q: Quotient, trace: Trace, start: World, steps: list) -> Trace:
    from turnproof.explore.search.liveness import abstract  # liveness builds on the search modules

    system, sym = q.system, q.symmetry
    head = len(steps)
    r = start
    for qstep, _ in trace.steps[trace.cycle_from :]:
        r = _step(system, sym, r, qstep.fiber, steps)
    once = [s.fiber for s, _ in steps[head:]]
    goal = abstract(start, system)
    tau = next((m for m in sym.renamings() if abstract(sym.rename(start, m), system) == abstract(r, system)), None)
    if tau is None:
        raise AssertionError("symmetry: the lifted cycle does not end in a renaming of its start")
    names = once
    for _ in range(sym.size):
        if abstract(r, system) == goal:
            return Trace(system.initial(), tuple(steps), cycle_from=head)
        names = [tau.get(n, n) for n in names]
        for n in names:
            step, r = system.apply(r, n)
            steps.append((step, r))
    raise AssertionError("symmetry: the lifted cycle never closes")


class Orbits:
    """Observer of a quotient search: how many plain-model states and steps its orbits stand for."""

    def __init__(self, q: Quotient):
        self.q = q
        self.states = self.transitions = self.quiescent = self.cut = 0
        self.current = 1

    def seen(self, w: World) -> None:
        self.current = self.q.symmetry.orbit(w)
        self.states += self.current
        if not self.q.system.enabled(w):
            self.quiescent += self.current

    def edge(self, w: World, step, nxt: World, depths) -> None:
        self.transitions += self.current
        if depths[1] is None:
            self.cut += self.current

    def done(self, result, parents, depth) -> None:
        pass


def symmetric_bfs(system: System, properties, progress=None, fingerprint: bool = False):
    """Breadth-first search of the quotient; findings lifted to traces of the plain model."""
    from turnproof.explore.search.bfs import bfs

    q = Quotient.of(system)
    orbits = Orbits(q)
    res = bfs(q, properties, progress, (orbits,), fingerprint)
    represented = {"states": orbits.states, "transitions": orbits.transitions, "quiescent": orbits.quiescent}
    lift_findings(q, res, represented)
    return res


def lift_findings(q: Quotient, res, represented: dict) -> None:
    """Make a quotient search's result one of the plain model: lifted traces, and what the
    orbits explored stand for in stats.symmetry."""
    from turnproof.explore.search.liveness import lasso_violation
    from turnproof.explore.search.result import Finding

    res.system = q.system
    for name, f in list(res.findings.items()):
        trace = lift(q, f.trace)
        v = lasso_violation(trace) if trace.cycle_from is not None else f.prop.check(trace.final)
        if v is None:
            raise AssertionError(f"symmetry: {name} does not hold in the lifted trace's last world")
        res.findings[name] = Finding(f.prop, v, trace)
    res.stats.symmetry = {
        "groups": [list(g) for g in q.symmetry.groups],
        "represented_states": represented["states"],
        "represented_transitions": represented["transitions"],
        "represented_quiescent": represented["quiescent"],
        "reduction": round(represented["states"] / max(res.stats.states, 1), 2),
    }
