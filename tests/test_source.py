"""Every step the model takes names an opencode v1.15.4 line, and the table has no dead rows."""

from __future__ import annotations

import os
from collections import deque

import pytest
from conftest import system

from model.source import REFS, TAG, verify
from specs.loader import builtin


def actions_of(sys_) -> set[str]:
    """Every sub-action taken anywhere in the bounded state space."""
    seen, todo, used = {sys_.initial()}, deque([sys_.initial()]), set()
    while todo:
        for step, nxt in sys_.successors(todo.popleft()):
            used.update(e.ref for e in step.events)
            if nxt not in seen and not sys_.bounded_out(nxt):
                seen.add(nxt)
                todo.append(nxt)
    return used


def test_every_step_names_a_line_and_every_line_is_used():
    used: set[str] = set()
    for d in builtin("design"):
        for s in builtin("scenario"):
            used |= actions_of(system(d, s))
    assert used - set(REFS) == set()  # no step without an anchor
    assert set(REFS) - used == set()  # no anchor the model never takes


def test_anchors_are_well_formed():
    assert TAG == "v1.15.4"
    for key, r in REFS.items():
        assert r.file.startswith("packages/opencode/src/") and r.file.endswith(".ts"), key
        assert r.line > 0 and r.token and r.what, key


@pytest.mark.skipif(not os.environ.get("OPENCODE_SRC"), reason="set OPENCODE_SRC to an opencode v1.15.4 checkout")
def test_anchors_match_the_tagged_source():
    assert verify(os.environ["OPENCODE_SRC"]) == []
