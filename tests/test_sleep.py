"""Sleep-set reduction never changes a verdict: same states, same violated and judged properties
as BFS (loop-terminates included), and its counterexamples replay under the plain model."""

from __future__ import annotations

import pytest
from conftest import checked, pairs, system
from turnproof.explore.search.liveness import abstract
from turnproof.explore.search.sleep import sleep_search
from turnproof.explore.search.trace import replay
from turnproof.specs.loader import builtin
from turnproof.specs.properties import PROPERTIES

PAIRS = pairs(builtin("design"), builtin("scenario"))  # idle-window ones marked slow


@pytest.mark.parametrize("design,scenario", PAIRS)
def test_sleep_sets_agree_with_bfs(design, scenario):
    sys_ = system(design, scenario)
    reduced = sleep_search(sys_, PROPERTIES)
    plain = checked(design, scenario)
    assert reduced.stats.states == plain.stats.states  # sleep sets prune transitions, never states
    assert reduced.stats.quiescent == plain.stats.quiescent
    assert set(reduced.findings) == set(plain.findings)
    assert reduced.unjudged == {}  # loop-terminates is judged too, never dropped
    assert reduced.stats.transitions <= plain.stats.transitions
    for f in reduced.findings.values():
        again = replay(sys_, f.trace.schedule)
        assert again.final == f.trace.final
        if f.trace.lasso:
            start = again.steps[f.trace.cycle_from - 1][1] if f.trace.cycle_from else again.initial
            assert abstract(start, sys_) == abstract(again.final, sys_)
        else:
            assert f.prop.check(again.final) == f.violation


def test_cli_sleep_strategy(cli, tmp_path):
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--strategy", "sleep", "--out", str(tmp_path))
    assert r.exit_code == 1 and "turn-binding" in r.output
