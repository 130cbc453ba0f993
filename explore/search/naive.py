"""Naive exhaustive depth-first search: every schedule walked separately, no visited set.

Exponential, and kept on purpose: it counts schedules (maximal paths), which the visited-set
search cannot, and it is the independent reference that the faster searches are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Walk:
    schedules: int = 0  # maximal paths: ending quiescent or at the bound
    transitions: int = 0
    ends: set = field(default_factory=set)  # distinct worlds the schedules end in


def naive_dfs(system, limit: int = 2_000_000) -> Walk:
    """Walk every schedule; RuntimeError past `limit` transitions rather than run for ever."""
    walk = Walk()
    stack = [system.initial()]
    while stack:
        w = stack.pop()
        succ = system.successors(w)
        if not succ:
            walk.schedules += 1
            walk.ends.add(w)
            continue
        for _, nxt in reversed(succ):
            walk.transitions += 1
            if walk.transitions > limit:
                raise RuntimeError(f"naive search passed {limit} transitions")
            if system.bounded_out(nxt):
                walk.schedules += 1
                continue
            stack.append(nxt)
    return walk
