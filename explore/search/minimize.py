"""The counterexample a person reads fastest: shortest, then fewest preemptions, then fewest fibers.

A preemption is a switch away from a fiber that could have gone on (CHESS's context switch);
switching after a fiber blocked or ended is free. Among all violating schedules of the shortest
length, a dynamic program over the shortest-path graph finds the fewest preemptions, and the
schedules that reach it are compared by how many fibers they involve.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from turnproof.explore.search.result import Finding, Observer, Result
from turnproof.explore.search.trace import Trace
from turnproof.model.world import World

CRITERIA = ("length", "preemptions", "fibers")
ENUMERATION_LIMIT = 20_000


def preemptions(system, trace: Trace) -> int:
    """Context switches away from a fiber that was still enabled."""
    count, last, before = 0, None, trace.initial
    for step, after in trace.steps:
        if last is not None and step.fiber != last and any(f.name == last for f in system.enabled(before)):
            count += 1
        last, before = step.fiber, after
    return count


def fibers(trace: Trace) -> int:
    return len({s.fiber for s, _ in trace.steps})


@dataclass(frozen=True)
class Minimal:
    trace: Trace
    preemptions: int
    fibers: int
    candidates: int  # violating schedules of the shortest length that were compared
    method: str


class ShortestPaths(Observer):
    """Records every predecessor that lies on a shortest path (not just the first found)."""

    def __init__(self) -> None:
        self.preds: dict[World, list] = defaultdict(list)

    def done(self, result: Result, parents: dict, depth: dict) -> None:
        """Swap each finding's trace for the minimal one and say how that was established."""
        for name, finding in list(result.findings.items()):
            m = self.minimize(result, finding, depth)
            if m is not None:
                result.findings[name] = Finding(finding.prop, finding.prop.check(m.trace.final), m.trace)
                result.minimal[name] = m

    def edge(self, w, step, nxt, depths) -> None:
        dw, dn = depths
        if dn is not None and dn == dw + 1:
            self.preds[nxt].append((w, step))

    def minimize(self, result: Result, finding: Finding, depth: dict) -> Minimal | None:
        """The minimal schedule for one property's finding (None for a lasso)."""
        if finding.trace.lasso is not None:
            return None
        system, prop, length = result.system, finding.prop, len(finding.trace)
        targets = [
            w
            for w, d in depth.items()
            if d == length and (prop.when == "always" or not system.successors(w)) and prop.check(w) is not None
        ]
        best, back = self._dp(system, targets, depth)
        top = min(c for t in targets for c in best[t].values())
        ends = [(t, last) for t in targets for last, c in best[t].items() if c == top]
        paths = self._enumerate(back, ends)
        capped = len(paths) >= ENUMERATION_LIMIT
        trace = min(paths, key=lambda t: (fibers(t), [s.fiber for s, _ in t.steps]))
        method = (
            f"exhaustive within the bound: every violating schedule of the shortest length ({length} steps) "
            f"was compared by preemptions; the {len(paths)} with the fewest ({top}) were compared by fibers"
        )
        if capped:
            method += f" (the first {ENUMERATION_LIMIT} of them)"
        return Minimal(trace, top, fibers(trace), len(paths), method)

    def _dp(self, system, targets: list, depth: dict) -> tuple[dict, dict]:
        """Fewest preemptions to each (world, last fiber) on the shortest paths to `targets`."""
        keep, todo = set(targets), list(targets)
        while todo:
            for p, _ in self.preds.get(todo.pop(), ()):
                if p not in keep:
                    keep.add(p)
                    todo.append(p)
        best: dict = defaultdict(dict)  # world -> {last fiber: fewest preemptions}
        back: dict = defaultdict(list)  # (world, last) -> [((prev world, prev last), step)]
        for w in sorted(keep, key=depth.__getitem__):
            if depth[w] == 0:
                best[w][None] = 0
                continue
            for p, step in self.preds[w]:
                if p not in keep:
                    continue
                enabled = {f.name for f in system.enabled(p)}
                for last, cost in best[p].items():
                    c = cost + (1 if last is not None and last != step.fiber and last in enabled else 0)
                    known = best[w].get(step.fiber)
                    if known is None or c < known:
                        best[w][step.fiber], back[(w, step.fiber)] = c, [((p, last), step)]
                    elif c == known:
                        back[(w, step.fiber)].append(((p, last), step))
        return best, back

    @staticmethod
    def _enumerate(back: dict, ends: list) -> list[Trace]:
        """Every optimal path, as traces, up to ENUMERATION_LIMIT."""
        out: list[Trace] = []
        stack = [(end, ()) for end in ends]
        while stack and len(out) < ENUMERATION_LIMIT:
            key, suffix = stack.pop()
            if not back.get(key):
                out.append(Trace(key[0], suffix))
                continue
            for prev, step in back[key]:
                stack.append((prev, ((step, key[0]),) + suffix))
        return out
