"""The feature a scenario is named for, and the shortest driveable schedule that exercises it.

A scenario such as `abort-race` is about one step taken in one state (an abort while a run is
Running). Its default conformance schedule is found from the model, not written by hand: a
breadth-first search of the driveable schedules (conform/schedule.py `Eager`) for the first one whose last step is
that step in that state; `complete` then brings it to rest as for any schedule.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from turnproof.model.runner import RUNNING, SHELL, SHELL_THEN_RUN
from turnproof.model.system import System
from turnproof.model.world import Fiber, World

LIMIT = 50000  # worlds searched for a feature's schedule


def runner_tag(w: World, instance: int) -> str | None:
    """The state of the session's Runner in `instance`'s map (None: no Runner yet)."""
    idx = w.maps[instance] if instance < len(w.maps) else None
    return None if idx is None else w.runners[idx].tag


def in_loop(w: World, run: str) -> bool:
    """Is loop fiber `run` (r1, …) started and not yet ended?"""
    return any(f.name == run and f.kind == "run" and not f.ended for f in w.fibers)


@dataclass(frozen=True)
class Feature:
    """A step of prompt `fiber` and the state that names it: `holds(before, fiber, after)`."""

    fiber: str
    says: str  # what the schedule exercises, for the report's origin line
    holds: Callable[[World, Fiber, World], bool]


FEATURES = {
    "abort-race": Feature(
        "X1",
        "X1 aborts while U1's run is Running",
        lambda b, f, a: f.pc == "send" and runner_tag(b, f.instance) == RUNNING,
    ),
    "shell-then-prompt": Feature(
        "U1",
        "U1 arrives while the runner is Shell (it waits as ShellThenRun)",
        lambda b, f, a: runner_tag(b, f.instance) == SHELL and runner_tag(a, f.instance) == SHELL_THEN_RUN,
    ),
    "client-clock-ahead": Feature(
        "U3",
        "U3 is sent while r1 is still in its loop",
        lambda b, f, a: f.pc == "send" and in_loop(b, "r1") and in_loop(a, "r1"),
    ),
}


def feature_schedule(eager: System, limit: int = LIMIT) -> tuple[str, str] | None:
    """The shortest schedule of `eager` (the driveable ones: conform/schedule.py `Eager`) whose
    last step is the scenario's feature, with what it exercises; None when the scenario names no
    feature (or none is reachable within `limit` worlds)."""
    from turnproof.explore.search.trace import encode

    feat = FEATURES.get(eager.scenario.name)
    if feat is None:
        return None
    w0 = eager.initial()
    parent: dict = {w0: None}
    todo = deque([w0])
    while todo and len(parent) < limit:
        w = todo.popleft()
        for f in eager.enabled(w):
            _, nxt = eager.apply(w, f.name)
            if f.name == feat.fiber and feat.holds(w, f, nxt):
                path = [f.name]
                while parent[w] is not None:
                    w, name = parent[w]
                    path.append(name)
                return encode(path[::-1]), f"shortest driveable schedule in which {feat.says}"
            if nxt in parent or eager.bounded_out(nxt):
                continue
            parent[nxt] = (w, f.name)
            todo.append(nxt)
    return None
