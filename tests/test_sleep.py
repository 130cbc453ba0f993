"""Sleep-set reduction never changes a verdict: same states, same violated properties as BFS,
and its counterexamples replay under the plain model."""

from __future__ import annotations

import pytest
from conftest import checked, system

from explore.sleep import sleep_search
from explore.trace import replay
from specs.loader import builtin
from specs.properties import PROPERTIES

PAIRS = [(d, s) for d in builtin("design") for s in builtin("scenario")]


@pytest.mark.parametrize("design,scenario", PAIRS)
def test_sleep_sets_agree_with_bfs(design, scenario):
    sys_ = system(design, scenario)
    reduced = sleep_search(sys_, PROPERTIES)
    plain = checked(design, scenario)
    assert reduced.stats.states == plain.stats.states  # sleep sets prune transitions, never states
    assert reduced.stats.quiescent == plain.stats.quiescent
    assert set(reduced.findings) == set(plain.findings) - {"loop-terminates"}
    assert reduced.stats.transitions <= plain.stats.transitions
    for f in reduced.findings.values():
        again = replay(sys_, f.trace.schedule)
        assert again.final == f.trace.final and f.prop.check(again.final) == f.violation


def test_cli_sleep_strategy(cli, tmp_path):
    r = cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--strategy", "sleep", "--out", str(tmp_path))
    assert r.exit_code == 1 and "turn-binding" in r.output
