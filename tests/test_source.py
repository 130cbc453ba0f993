"""Every step the model takes names an opencode v1.15.4 line, and the table has no dead rows."""

from __future__ import annotations

import functools
import os
from collections import deque

import pytest
from conftest import pairs, shared, system
from turnproof.model.bundle import BUNDLE as V2_BUNDLE
from turnproof.model.source import BUNDLE, REFS, TAG, verify, verify_bundle
from turnproof.specs.loader import builtin

ALL = [(d, s) for d in builtin("design") for s in builtin("scenario")]


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


@functools.cache
def actions(design: str, scenario: str) -> set[str]:
    """One walk per pair for the session, shared by the xdist workers."""
    return shared("actions", lambda: actions_of(system(design, scenario)), design, scenario)


@pytest.mark.parametrize("design,scenario", pairs(builtin("design"), builtin("scenario")))
def test_every_step_names_a_line(design, scenario):
    assert actions(design, scenario) - set(REFS) - set(V2_BUNDLE) == set()  # no step without an anchor


@pytest.mark.slow  # every pair's walk, idle-window's included: some anchors are taken only there
def test_every_line_is_used():
    used = set().union(*(actions(d, s) for d, s in ALL))
    assert set(REFS) - used == set()  # no anchor the model never takes
    assert set(V2_BUNDLE) - used == set()  # nor a 1.18.34 span the V2 inbox engine never takes


def test_anchors_are_well_formed():
    assert TAG == "v1.15.4"
    for key, r in REFS.items():
        if r.bundle:  # a 1.15.4 bundle module and the span name or literal the step stands at
            assert r.file.startswith(BUNDLE) and r.line == 0 and r.token and r.what, key
            continue
        assert r.file.startswith("packages/opencode/src/") and r.file.endswith(".ts"), key
        assert r.line > 0 and r.token and r.what, key


@pytest.mark.skipif(not os.environ.get("OPENCODE_BUNDLE"), reason="set OPENCODE_BUNDLE to the pretty-printed modules")
def test_bundle_citations_match_the_bundle():
    assert verify_bundle(os.environ["OPENCODE_BUNDLE"]) == []


@pytest.mark.skipif(not os.environ.get("OPENCODE_SRC"), reason="set OPENCODE_SRC to an opencode v1.15.4 checkout")
def test_anchors_match_the_tagged_source():
    assert verify(os.environ["OPENCODE_SRC"]) == []


def test_the_docs_cite_only_anchored_lines():
    """Every `file:line` in docs/model.md is a line the model's table anchors."""
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "model.md").read_text()
    lines = [r for r in REFS.values() if not r.bundle]
    anchored = {(r.file.rsplit("/", 2)[-2] + "/" + r.file.rsplit("/", 1)[-1], r.line) for r in lines}
    anchored |= {(r.file.rsplit("/", 1)[-1], r.line) for r in lines}
    cited = []
    last_file = None
    for m in re.finditer(r"`(?:([\w/.-]+\.ts))?:(\d+)`|`([\w/.-]+\.ts):(\d+)`", text):
        f, n = (m.group(1) or m.group(3)), int(m.group(2) or m.group(4))
        last_file = f or last_file
        cited.append((last_file, n))
    assert len(cited) > 20
    missing = [c for c in cited if c not in anchored]
    assert missing == []
