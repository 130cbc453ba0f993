"""--preemptions K: iterative context bounding finds bugs with few switches and says what it skipped."""

from __future__ import annotations

import json

import pytest
from conftest import LARGE_SCENARIOS, checked, system
from turnproof.explore.search.bounded import bfs_preemptions
from turnproof.explore.search.minimize import preemptions
from turnproof.specs.loader import builtin
from turnproof.specs.properties import PROPERTIES

AWAIT = [s for s in builtin("scenario") if s != "idle-window"]
# the large spaces: the full suite's
SCENARIOS = [pytest.param(s, marks=pytest.mark.slow) if s in LARGE_SCENARIOS else s for s in AWAIT]


def test_zero_preemptions_miss_the_rebinding_that_one_finds():
    sys_ = system("v1.15.4", "tool-race")
    none = bfs_preemptions(sys_, PROPERTIES, 0)
    one = bfs_preemptions(sys_, PROPERTIES, 1)
    assert "turn-binding" not in none.findings and "turn-binding" in one.findings
    assert not none.complete and none.preemption_bound == 0


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_traces_keep_within_the_bound_and_a_large_bound_equals_bfs(scenario):
    sys_ = system("v1.15.4", scenario)
    for k in (0, 1, 2):
        res = bfs_preemptions(sys_, PROPERTIES, k)
        for f in res.findings.values():
            assert preemptions(sys_, f.trace) <= k and f.prop.check(f.trace.final) is not None
    full = bfs_preemptions(sys_, PROPERTIES, 50)
    exhaustive = checked("v1.15.4", scenario)
    assert full.stats.states == exhaustive.stats.states
    assert set(full.findings) == set(exhaustive.findings) - {"loop-terminates"}


def test_cli_says_the_bound(cli, tmp_path):
    r = cli(
        "check",
        "--design",
        "bind-and-serialize",
        "--scenario",
        "tool-race",
        "--preemptions",
        "1",
        "--out",
        str(tmp_path),
    )
    assert r.exit_code == 0 and "HOLDS within 1 preemption(s)" in r.output
    r = cli(
        "check",
        "--design",
        "v1.15.4",
        "--scenario",
        "tool-race",
        "--preemptions",
        "1",
        "--json",
        "--out",
        str(tmp_path),
    )
    doc = json.loads(r.output)
    assert doc["bound"]["preemptions"] == 1 and doc["bound"]["complete"] is False
