"""The least change: every design that differs from a base in the fewest knob values and holds
every asked property on every asked scenario, with why each of its changes is needed and why
nothing smaller holds (`turnproof repair`; the method and its soundness are in docs/repair.md).

Candidates are checked in order of size (knobs changed), each on the scenarios one by one, and
dropped at its first refutation: a design violated anywhere is not an answer, whatever holds
elsewhere. The first size with a holding candidate is the answer's; every candidate of that size
is checked, so every minimal design is found. Scenarios are tried in the order that has cost the
fewest explored states per refutation so far (an order, never a verdict: it changes which
refutation is shown and how long it takes, not which designs hold). Each verdict is a
breadth-first search stopped at the first violation it meets (`bfs(first=True)`), which is a
shortest one of its property. Nothing is shared between two candidates: each verdict is its own
search. The explanations reuse the search's own refutations: the design that undoes one change
of a minimal design is a candidate one size smaller, already refuted, with a shortest schedule.
First, the (scenario, property) pairs no design of the space holds are set aside as out of the
knobs' reach (`out_of_reach`): they cannot tell designs apart, so the search is over the rest.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field, replace

from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.dpor import dpor_search
from turnproof.explore.search.result import Finding
from turnproof.model.config import KNOBS, Design, Scenario
from turnproof.model.system import System
from turnproof.specs.inbox import promised
from turnproof.specs.properties import Property

# The legacy knob space: every knob but the engine and the inbox's follow-up setting.
LEGACY = tuple(k for k in KNOBS if k not in ("engine", "delivery"))

Changes = tuple[tuple[str, str], ...]  # (knob, value) pairs, in KNOBS order: a candidate


@dataclass(frozen=True)
class Space:
    """The base design and the knobs a candidate may change (each to any of its other values)."""

    base: Design
    knobs: tuple[str, ...] = LEGACY

    def candidates(self, size: int) -> list[Changes]:
        """Every candidate changing exactly `size` knobs, in knob order, then value order."""
        out = []
        for chosen in itertools.combinations(self.knobs, size):
            others = [[v for v in KNOBS[k] if v != getattr(self.base, k)] for k in chosen]
            out += [tuple(zip(chosen, values, strict=True)) for values in itertools.product(*others)]
        return out

    def design(self, changes: Changes, name: str = "") -> Design:
        said = ", ".join(f"{k}={v}" for k, v in changes) or "nothing"
        if not name:
            name = f"{self.base.name}+{said}" if changes else self.base.name
        return replace(
            self.base,
            name=name,
            description=f"{self.base.name} with {said} changed",
            base=self.base.name,
            change=f"repair: {said}",
            **dict(changes),
        )

    @property
    def size(self) -> int:
        n = 1
        for k in self.knobs:
            n *= len(KNOBS[k])
        return n


@dataclass(frozen=True)
class Refuted:
    """A candidate, and the first refutation found: the scenario and the property violated there."""

    changes: Changes
    scenario: Scenario
    finding: Finding

    @property
    def prop(self) -> str:
        return self.finding.prop.name


@dataclass(frozen=True)
class Needed:
    """Why one change of a minimal design is needed: with the knob back at the base's value, the
    design is refuted on `scenario`, `prop`, by `schedule` (the shortest; a lasso: prefix, cycle)."""

    knob: str
    value: str  # the base's value the knob went back to
    scenario: str
    prop: str
    schedule: str
    cycle: str | None = None


@dataclass(frozen=True)
class Minimal:
    changes: Changes
    needed: tuple[Needed, ...]


@dataclass(frozen=True)
class OutOfReach:
    """A (scenario, property) pair every design of the space violates, and the base's shortest
    violation there (a lasso: prefix, cycle): no value of these knobs fixes it."""

    scenario: str
    prop: str
    schedule: str
    cycle: str | None = None


@dataclass
class Answer:
    space: Space
    scenarios: tuple[Scenario, ...]
    properties: tuple[Property, ...]
    max_changes: int
    size: int | None = None  # the least size that holds, None when none within max_changes
    minimal: list[Minimal] = field(default_factory=list)
    refuted: dict[int, list[Refuted]] = field(default_factory=dict)  # size -> its refuted candidates
    candidates: dict[int, int] = field(default_factory=dict)  # size -> candidates checked
    base_violates: tuple[str, ...] = ()  # properties the base violates on some asked pair in reach
    out_of_reach: list[OutOfReach] = field(default_factory=list)  # pairs no design holds
    searches: int = 0  # (design, scenario) verdicts searched
    states: int = 0  # worlds those searches explored

    def by_reason(self, size: int) -> Counter:
        """Refuted candidates of one size, counted by (scenario, property)."""
        return Counter((r.scenario.name, r.prop) for r in self.refuted.get(size, ()))


def applies(design: Design, properties: tuple[Property, ...]) -> tuple[Property, ...]:
    """The asked properties this design promises (an inbox design with steer delivery promises fewer)."""
    return tuple(p for p in properties if promised(design, p.name))


def repair(
    space: Space,
    scenarios: tuple[Scenario, ...],
    properties: tuple[Property, ...],
    max_changes: int,
    progress=None,
) -> Answer:
    """Candidates by size, each dropped at its first refutation (see the module docstring), over
    the (scenario, property) pairs some design of the space holds."""
    answer = Answer(space, scenarios, properties, max_changes)
    asked = {s.name: _in_reach(space, s, properties, answer, progress) for s in scenarios}
    spent: Counter = Counter()  # scenario -> states explored on it
    kills: Counter = Counter()  # scenario -> candidates it refuted
    place = {s.name: i for i, s in enumerate(scenarios)}

    def cost(s: Scenario) -> tuple:  # explored states per refutation so far (a prior of 10 states)
        return ((spent[s.name] + 10) / (kills[s.name] + 1), place[s.name])

    for size in range(min(max_changes, len(space.knobs)) + 1):
        holding, refuted = [], []
        cands = space.candidates(size)
        for changes in cands:
            design = space.design(changes)
            for s in sorted(scenarios, key=cost):
                props = applies(design, asked[s.name])
                if not props:
                    continue
                res = bfs(System(design, s), props, progress, first=True)
                answer.searches += 1
                answer.states += res.stats.states
                spent[s.name] += res.stats.states
                if res.findings:
                    kills[s.name] += 1
                    refuted.append(Refuted(changes, s, next(iter(res.findings.values()))))
                    break
            else:
                holding.append(changes)
        answer.refuted[size], answer.candidates[size] = refuted, len(cands)
        if holding:
            answer.size = size
            smaller = {r.changes: r for r in answer.refuted.get(size - 1, ())}
            answer.minimal = [Minimal(c, tuple(_needed(space, c, smaller))) for c in holding]
            answer.base_violates = _base_violates(space.base, scenarios, asked, properties, progress)
            break
    return answer


def _in_reach(space: Space, s: Scenario, properties, answer: Answer, progress) -> tuple[Property, ...]:
    """The asked properties some design of the space holds on `s`; each other one is recorded in
    `answer.out_of_reach` with the base's shortest violation. Designs are tried largest first, each
    on the properties not yet held by any: searched stopped at the first violation, the violated
    property set aside for this design and the rest searched again, until the rest hold (all of
    those are then in reach) or none is left. A pair is out of reach only when every design of
    the space has violated it."""
    left = set(p.name for p in properties)
    for size in range(len(space.knobs), -1, -1):  # most changed first: cheaper (measured)
        for changes in space.candidates(size):
            design = space.design(changes)
            promised_left = {p.name for p in applies(design, properties)} & left
            left -= set(left) - promised_left  # not promised by this design: it holds them
            while promised_left:
                props = tuple(p for p in properties if p.name in promised_left)
                res = bfs(System(design, s), props, progress, first=True)
                answer.searches += 1
                answer.states += res.stats.states
                if not res.findings:
                    left -= promised_left
                    break
                promised_left -= res.findings.keys()
            if not left:
                return properties
    for p in properties:
        if p.name in left:
            res = bfs(System(space.base, s), (p,), progress, first=True)
            trace = res.findings[p.name].trace
            schedule, cycle = trace.lasso if trace.lasso else (trace.schedule, None)
            answer.out_of_reach.append(OutOfReach(s.name, p.name, schedule, cycle))
    return tuple(p for p in properties if p.name not in left)


def _needed(space: Space, changes: Changes, smaller: dict) -> list[Needed]:
    """Each change undone: the smaller candidate's refutation, its schedule already a shortest
    (the refuting bfs stopped at the first violation it met, breadth-first)."""
    out = []
    for i, (knob, _) in enumerate(changes):
        r = smaller[changes[:i] + changes[i + 1 :]]  # refuted: the size below was all refuted
        trace = r.finding.trace
        lasso = trace.lasso
        schedule, cycle = lasso if lasso else (trace.schedule, None)
        out.append(Needed(knob, getattr(space.base, knob), r.scenario.name, r.prop, schedule, cycle))
    return out


def _base_violates(base: Design, scenarios, asked: dict, properties, progress) -> tuple[str, ...]:
    """The properties the base violates on some scenario in reach (what a minimal design fixed):
    each scenario searched for those not yet seen violated, until all have been or none is left."""
    left = applies(base, properties)
    seen: set[str] = set()
    for s in scenarios:
        if not left:
            break
        here = tuple(p for p in left if p in asked[s.name])
        if not here:
            continue
        res = dpor_search(System(base, s), here, progress, until=frozenset(p.name for p in here))
        seen |= res.findings.keys()
        if res.unjudged:  # (dpor could not judge loop-terminates here: bfs, the reference, does)
            unjudged = tuple(p for p in here if p.name in res.unjudged)
            seen |= bfs(System(base, s), unjudged, progress).findings.keys()
        left = tuple(p for p in left if p.name not in seen)
    return tuple(p.name for p in properties if p.name in seen)


def plain(
    space: Space, scenarios: tuple[Scenario, ...], properties: tuple[Property, ...], max_changes: int
) -> tuple[int | None, list[Changes], dict[int, dict[Changes, dict[str, set[str]]]]]:
    """The reference: every candidate within `max_changes` on every scenario, each a whole bfs.
    Returns the least holding size, the designs of that size that hold, and per size per
    candidate the properties violated per scenario (empty for a holding one)."""
    table: dict[int, dict[Changes, dict[str, set[str]]]] = {}
    for size in range(min(max_changes, len(space.knobs)) + 1):
        table[size] = {}
        for changes in space.candidates(size):
            design = space.design(changes)
            props = applies(design, properties)
            found = {s.name: set(bfs(System(design, s), props).findings) for s in scenarios}
            table[size][changes] = {s: names for s, names in found.items() if names}
    holding = {size: [c for c, bad in t.items() if not bad] for size, t in table.items()}
    least = next((size for size in sorted(holding) if holding[size]), None)
    return least, holding.get(least, []), table
