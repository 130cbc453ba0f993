"""model/steps.py is the one home of step meanings: every ref the model says is named there, and
the partitioned search (`--workers 2`) judges liveness with the same progress predicate as the
sequential search, V2 drains included (it once counted only the legacy loop's assistant)."""

from __future__ import annotations

import pytest
from conftest import checked, counts, system
from turnproof.explore.scale.engines import Local
from turnproof.explore.scale.partition import partitioned_bfs
from turnproof.explore.views.glossary import GLOSS
from turnproof.model import source, steps
from turnproof.specs.properties import PROPERTIES

NAMED = {v for k, v in vars(steps).items() if k.isupper() and isinstance(v, str)}
INBOX = ["upstream-1.18.34-queue", "upstream-1.18.34-steer"]
PAIRS = [(d, s) for d in INBOX for s in ("steer-during-tool", "tool-race")] + [
    (d, s) for d in ("v1.15.4", "bind-turn") for s in ("tool-race", "client-messageid")
]


def _refs(design: str, scenario: str) -> set[tuple[str, str]]:
    """Every (fiber, ref) some step of the pair's full state space says."""
    sys_, seen, todo, out = system(design, scenario), set(), [], set()
    todo.append(sys_.initial())
    while todo:
        w = todo.pop()
        for step, nxt in sys_.successors(w):
            out.update((step.fiber, e.ref) for e in step.events)
            if nxt not in seen and not sys_.bounded_out(nxt):
                seen.add(nxt)
                todo.append(nxt)
    return out


@pytest.mark.parametrize("design,scenario", [("v1.15.4", "shell-abort"), ("upstream-1.18.34-steer", "question-wait")])
def test_every_ref_the_model_says_is_named_in_steps(design, scenario):
    said = _refs(design, scenario)
    assert said and {r for _, r in said} <= NAMED


def test_the_tables_keyed_by_ref_name_only_refs_steps_knows():
    """Every ref the explanations gloss and every source anchor is one model/steps names."""
    assert set(GLOSS) <= NAMED
    assert set(source.REFS) <= NAMED


def test_a_v2_drain_writing_its_assistant_is_progress_for_both_searches():
    said = _refs("upstream-1.18.34-steer", "tool-race")
    drains = {f for f, r in said if r == steps.V2_ASSISTANT}
    assert drains and all(steps.is_loop_fiber(f) for f in drains)
    assert all(steps.is_progress(f, [steps.V2_ASSISTANT]) for f in drains)
    assert not steps.is_progress("U1", [steps.V2_ASSISTANT])  # a client never loops
    assert not steps.is_progress("r1", [steps.V2_REQUEST])


def test_loop_fiber_names_are_r_then_digits():
    assert steps.is_loop_fiber(steps.loop_fiber(12)) and steps.run_of("r12") == 12
    assert not steps.is_loop_fiber("reply") and not steps.is_loop_fiber("r") and not steps.is_loop_fiber("t3")
    assert steps.is_tool_fiber("t3") and steps.run_of("t3") == 3


@pytest.mark.parametrize("design,scenario", PAIRS)
def test_two_workers_agree_with_the_sequential_search_on_every_property(design, scenario):
    sys_ = system(design, scenario)
    par, seq = partitioned_bfs(sys_, PROPERTIES, Local(2)), checked(design, scenario)
    assert par.stats.workers == 2
    assert counts(par) == counts(seq)
    assert set(par.findings) == set(seq.findings)  # every property, loop-terminates included
