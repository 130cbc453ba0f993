"""Random schedules past the exhaustive bound, generated and shrunk by hypothesis.

A schedule is drawn as a list of choices, one per step: "take the c-th runnable fiber" (modulo
how many can run; past the list's end, the first). Hypothesis searches such lists for one that
breaks a property, then shrinks it towards fewer steps and earlier fibers; last, steps are
dropped one at a time while the schedule still breaks the property, so what it reports is
small. The same seed gives the same schedules. Coverage (distinct schedules and states) is
counted over every schedule run, and a "holds" here is never a proof.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from turnproof.explore.search.result import Finding, Result
from turnproof.explore.search.trace import Trace
from turnproof.model.system import System
from turnproof.specs.properties import Property

MAX_STEPS = 200


@dataclass
class Coverage:
    runs: int = 0
    schedules: set = field(default_factory=set)
    states: set = field(default_factory=set)
    steps: int = 0
    longest: int = 0
    quiescent: int = 0
    cut: int = 0


def walk(system: System, choices: list[int], prop: Property | None, cov: Coverage) -> tuple[Trace, object]:
    """Run the schedule the choices pick; stop at the first violation of `prop` (if given)."""
    w = init = system.initial()
    steps = []
    cov.runs += 1
    for i in range(MAX_STEPS):
        runnable = system.enabled(w)
        if not runnable:
            cov.quiescent += 1
            break
        fiber = runnable[(choices[i] if i < len(choices) else 0) % len(runnable)]
        step, nxt = system.apply(w, fiber.name)
        if system.bounded_out(nxt):
            cov.cut += 1
            break
        steps.append((step, nxt))
        w = nxt
        cov.states.add(w)
        if prop is not None and prop.when == "always" and prop.check(w):
            break
    cov.steps += len(steps)
    cov.longest = max(cov.longest, len(steps))
    cov.schedules.add(tuple(s.fiber for s, _ in steps))
    trace = Trace(init, tuple(steps))
    violation = None
    if prop is not None and (prop.when == "always" or not system.enabled(w)):
        violation = prop.check(w)
    return trace, violation


def prune(system: System, prop: Property, trace: Trace) -> Trace:
    """Drop steps one at a time while the schedule still replays and still breaks `prop` (an
    at-rest property's schedule is played out to rest by first runnable fibers after the cut)."""
    changed = True
    while changed:
        changed = False
        names = [s.fiber for s, _ in trace.steps]
        for i in range(len(names)):
            shorter = _breaks(system, prop, names[:i] + names[i + 1 :])
            if shorter is not None and len(shorter) < len(trace):
                trace, changed = shorter, True
                break
    return trace


def _breaks(system: System, prop: Property, names: list[str]) -> Trace | None:
    w = init = system.initial()
    steps = []
    for name in names:
        try:
            step, w = system.apply(w, name)
        except ValueError:
            return None
        steps.append((step, w))
    while prop.when == "at_rest" and system.enabled(w) and len(steps) < MAX_STEPS:
        step, w = system.apply(w, system.enabled(w)[0].name)
        if system.bounded_out(w):
            return None
        steps.append((step, w))
    if prop.when == "at_rest" and system.enabled(w):
        return None
    return Trace(init, tuple(steps)) if prop.check(w) else None


def random_search(system: System, properties: tuple[Property, ...], runs: int, seed: int) -> Result:
    """For each property: hypothesis looks for a breaking schedule in `runs` tries, then shrinks it."""
    started = time.perf_counter()
    result = Result(system, tuple(p for p in properties if p.when != "liveness"), strategy="random")
    cov = Coverage()
    choice_lists = st.lists(st.integers(min_value=0, max_value=7), max_size=MAX_STEPS)
    for prop in result.properties:
        config = settings(
            max_examples=runs,
            database=None,
            deadline=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        try:
            choices = find(
                choice_lists,
                lambda ch, prop=prop: walk(system, ch, prop, cov)[1] is not None,
                settings=config,
                random=random.Random(seed),
            )
        except NoSuchExample:
            continue
        trace, violation = walk(system, choices, prop, Coverage())
        trace = prune(system, prop, trace)
        result.findings[prop.name] = Finding(prop, prop.check(trace.final), trace)
    s = result.stats
    s.states, s.transitions, s.max_depth = len(cov.states) + 1, cov.steps, cov.longest
    s.quiescent, s.cut, s.seconds = cov.quiescent, cov.cut, time.perf_counter() - started
    result.random = {"runs": cov.runs, "schedules": len(cov.schedules), "seed": seed, "budget": runs}
    return result
