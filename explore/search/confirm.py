"""Replay a saved counterexample exactly and confirm its violation, or say where it stops applying.

Exit codes follow the CLI: 1 the violation is reproduced, 2 it no longer applies (or the file is
bad), 0 a bare schedule that violates nothing.
"""

from __future__ import annotations

from pathlib import Path

from turnproof.explore.search.liveness import abstract
from turnproof.explore.search.trace import guard, messages
from turnproof.model.system import System
from turnproof.specs.loader import InputError, load_design, load_scenario
from turnproof.specs.properties import PROPERTIES, Property
from turnproof.specs.shapes import SHAPES

CHECKED: tuple[Property, ...] = PROPERTIES + tuple(SHAPES.values())  # what a trace.json may be about


def load_trace(path: Path) -> dict:
    """A trace.json written by `turnproof check`, checked whole (explore/search/tracefile.py)."""
    from turnproof.explore.search import tracefile

    doc = tracefile.read(path, {p.name for p in CHECKED})
    if _property(doc).when == "liveness" and not doc.get("lasso"):
        raise InputError(f"{path}: lasso: missing: a {doc['property']} counterexample is a lasso")
    return doc


def _property(doc: dict) -> Property:
    """The property (or seed shape, `shape:NAME`) a trace is a counterexample of."""
    return next(p for p in CHECKED if p.name == doc["property"])


def system_of(doc: dict) -> System:
    return System(
        load_design(doc.get("design_file") or doc["design"]), load_scenario(doc.get("scenario_file") or doc["scenario"])
    )


def confirm(doc: dict) -> tuple[int, list[str]]:
    """Re-execute the trace's schedule step by step against its recording."""
    system = system_of(doc)
    prop = _property(doc)
    w = system.initial()
    names = [s.get("fiber") for s in doc["steps"]]
    starts: dict[int, object] = {}
    for i, (name, rec) in enumerate(zip(names, doc["steps"], strict=True), 1):
        starts[i] = w
        try:
            step, w = system.apply(w, name)
        except ValueError as e:
            return 2, [f"step {i}: the schedule no longer applies: {e}"]
        now = [e.ref for e in step.events]
        then = [e.get("action") for e in rec.get("events", [])]
        if now != then:
            return 2, [f"step {i}: {name} now does {', '.join(now)} where the trace recorded {', '.join(then)}"]
        if messages(w) != rec.get("messages"):
            return 2, [f"step {i}: {name} leaves different messages than the trace recorded"]
        if "guard" in rec and guard(w) != rec["guard"]:  # (traces written before the guard was recorded lack it)
            return 2, [f"step {i}: {name} leaves the runner maps or runners different than the trace recorded"]
    lasso = doc.get("lasso")
    if prop.when == "liveness":
        start = starts.get(lasso["cycle_from"]) if lasso else None
        if start is None or abstract(start, system) != abstract(w, system):
            return 2, [f"the cycle no longer closes: {prop.name} is not shown violated by this schedule"]
        return 1, [f"reproduced {prop.name}: the cycle from step {lasso['cycle_from']} comes back to where it began"]
    violation = prop.check(w)
    if prop.when == "at_rest" and system.successors(w):
        violation = None
    if violation is None:
        return 2, [f"the schedule runs to its end, but {prop.name} is no longer violated there"]
    if prop.name.startswith("shape:"):
        return 1, [f"reproduced {prop.name}: after {len(names)} steps the shape is there: {violation.says}"]
    return 1, [f"reproduced {prop.name} after {len(names)} steps: {violation.says}"]


def run_schedule(system: System, schedule: str) -> tuple[int, list[str]]:
    """Run a bare schedule; report every property it violates on the way (or at rest at its end)."""
    from turnproof.explore.search.trace import replay

    try:
        trace = replay(system, schedule)
    except ValueError as e:
        return 2, [f"the schedule does not apply: {e}"]
    if not trace.steps:
        return 2, [f"the schedule {schedule!r} names no step"]
    found = []
    for p in PROPERTIES:
        if p.when == "always":
            hit = next((i for i, (_, w) in enumerate(trace.steps, 1) if p.check(w)), None)
            if hit:
                found.append(f"{p.name} violated at step {hit}: {p.check(trace.steps[hit - 1][1]).says}")
        elif p.when == "at_rest" and not system.successors(trace.final) and p.check(trace.final):
            found.append(f"{p.name} violated at rest: {p.check(trace.final).says}")
    return (1, found) if found else (0, [f"{len(trace)} steps, no property violated"])
