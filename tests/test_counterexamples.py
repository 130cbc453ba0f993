"""Counterexamples people can use: minimal traces, checked against exhaustive enumeration."""

from __future__ import annotations

import pytest
from conftest import system
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.minimize import ShortestPaths, fibers, preemptions
from turnproof.explore.search.trace import Trace
from turnproof.specs.properties import PROPERTIES


def all_violating_traces(sys_, prop):
    """Every schedule, cut at the first state that violates `prop` (an always- or at-rest one)."""
    out, stack = [], [(sys_.initial(), ())]
    init = sys_.initial()
    while stack:
        w, steps = stack.pop()
        succ = sys_.successors(w)
        if prop.when == "always" and prop.check(w) is not None:
            out.append(Trace(init, steps))
            continue
        if not succ:
            if prop.when == "at_rest" and prop.check(w) is not None:
                out.append(Trace(init, steps))
            continue
        for step, nxt in succ:
            if not sys_.bounded_out(nxt):
                stack.append((nxt, steps + ((step, nxt),)))
    return out


@pytest.mark.parametrize("scenario", ["tool-race", "double-async", "plugin-inject"])
def test_minimize_beats_every_violating_schedule(scenario):
    sys_ = system("v1.15.4", scenario)
    res = bfs(sys_, PROPERTIES, observers=(ShortestPaths(),))
    assert res.minimal, "v1.15.4 violates something here"
    for name, m in res.minimal.items():
        prop = next(p for p in PROPERTIES if p.name == name)
        every = all_violating_traces(sys_, prop)
        assert every
        best = min((len(t), preemptions(sys_, t), fibers(t)) for t in every)
        assert (len(m.trace), m.preemptions, m.fibers) == best, name
        assert res.findings[name].trace is m.trace
        assert prop.check(m.trace.final) is not None
        assert m.candidates >= 1 and "exhaustive within the bound" in m.method


def test_preemptions_count_only_switches_away_from_a_runnable_fiber():
    from turnproof.explore.search.trace import replay

    sys_ = system("v1.15.4", "tool-race")
    # U1 then r1: U1 is awaiting (not runnable), so no preemption; r1 -> U2 with r1 runnable: one
    assert preemptions(sys_, replay(sys_, "U1,r1")) == 0
    assert preemptions(sys_, replay(sys_, "U1,r1,U2")) == 1
    assert preemptions(sys_, replay(sys_, "U1,r1,U2,r1")) == 1  # U2 is awaiting after its send


def test_minimize_json(cli, tmp_path):
    import json

    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--minimize", "--json", "--out", str(tmp_path))
    doc = json.loads(r.output)
    for p in doc["properties"]:
        if not p["holds"] and "lasso" not in p["trace"]:
            assert p["minimal"]["criteria"] == ["length", "preemptions", "fibers"]
            assert p["minimal"]["length"] == p["trace"]["length"]
