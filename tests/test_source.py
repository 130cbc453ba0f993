"""Every step the model takes names an opencode v1.15.4 line, and the table has no dead rows."""

from __future__ import annotations

import os
from collections import deque

import pytest
from conftest import system
from turnproof.model.bundle import BUNDLE
from turnproof.model.source import REFS, TAG, verify
from turnproof.specs.loader import builtin


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
    assert used - set(REFS) - set(BUNDLE) == set()  # no step without an anchor
    assert set(REFS) - used == set()  # no anchor the model never takes
    assert set(BUNDLE) - used == set()  # nor a bundle span the V2 engine never takes


def test_anchors_are_well_formed():
    assert TAG == "v1.15.4"
    for key, r in REFS.items():
        assert r.file.startswith("packages/opencode/src/") and r.file.endswith(".ts"), key
        assert r.line > 0 and r.token and r.what, key


@pytest.mark.skipif(not os.environ.get("OPENCODE_SRC"), reason="set OPENCODE_SRC to an opencode v1.15.4 checkout")
def test_anchors_match_the_tagged_source():
    assert verify(os.environ["OPENCODE_SRC"]) == []


def test_the_docs_cite_only_anchored_lines():
    """Every `file:line` in docs/model.md is a line the model's table anchors."""
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "model.md").read_text()
    anchored = {(r.file.rsplit("/", 2)[-2] + "/" + r.file.rsplit("/", 1)[-1], r.line) for r in REFS.values()}
    anchored |= {(r.file.rsplit("/", 1)[-1], r.line) for r in REFS.values()}
    cited = []
    last_file = None
    for m in re.finditer(r"`(?:([\w/.-]+\.ts))?:(\d+)`|`([\w/.-]+\.ts):(\d+)`", text):
        f, n = (m.group(1) or m.group(3)), int(m.group(2) or m.group(4))
        last_file = f or last_file
        cited.append((last_file, n))
    assert len(cited) > 20
    missing = [c for c in cited if c not in anchored]
    assert missing == []
