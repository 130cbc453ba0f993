"""The message-tree shapes observed in opencode issue #28202, as reachability questions.

A shape is checked like a property whose violation is "the shape appears": a counterexample is
the shortest schedule that produces it, and "holds" means it is unreachable within the bound.
"""

from __future__ import annotations

from turnproof.model.store import ASSISTANT, TOOL_CALLS, USER
from turnproof.model.world import World
from turnproof.specs.properties import STORE, Property, Violation


def four_siblings(w: World) -> Violation | None:
    """Four assistants with a finish other than tool-calls share one user message as parentID."""
    for u in w.store.messages:
        if u.role == USER:
            ends = [c for c in w.store.children(u.id) if c.terminal]
            if len(ends) >= 4:
                return Violation(
                    f"{u.label} has {len(ends)} terminal assistants: {', '.join(c.label for c in ends)}",
                    (u.id,) + tuple(c.id for c in ends),
                )
    return None


def u2_pair(w: World) -> Violation | None:
    """Two terminal assistants under a newer user while an older user's tool branch has no reply."""
    msgs = w.store.messages
    for u in msgs:
        if u.role != USER:
            continue
        ends = [c for c in w.store.children(u.id) if c.terminal]
        if len(ends) < 2:
            continue
        for a in msgs:
            if a.role == ASSISTANT and a.finish == TOOL_CALLS and a.parent < u.id:
                followed = any(n.parent == a.parent and n.role == ASSISTANT and n.seq > a.seq for n in msgs)
                if not followed:
                    older = w.store.get(a.parent).label
                    pair = f"{ends[0].label} and {ends[1].label} end under {u.label}"
                    return Violation(
                        f"{pair}; {older}'s tool branch {a.label} got no reply",
                        (u.id, ends[0].id, ends[1].id, a.id),
                    )
    return None


SHAPES: dict[str, Property] = {
    "four-siblings": Property("shape:four-siblings", "always", four_siblings.__doc__, four_siblings, STORE),
    "u2-pair": Property("shape:u2-pair", "always", u2_pair.__doc__, u2_pair, STORE),
}
