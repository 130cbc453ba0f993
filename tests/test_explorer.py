"""The explorer on models whose numbers can be worked out by hand, and against naive search."""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from pathlib import Path

import pytest
from conftest import checked, pairs, system
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.liveness import abstract
from turnproof.explore.search.naive import naive_dfs
from turnproof.explore.search.trace import decode, encode, replay
from turnproof.explore.views.report import result_json
from turnproof.model.fibers import Event, Step
from turnproof.specs.loader import builtin, load_scenario
from turnproof.specs.properties import PROPERTIES, Property, Violation


@dataclass(frozen=True)
class TwoFibers:
    """Two independent fibers of k steps each: state (i, j), schedules C(2k, k)."""

    k: int

    def initial(self):
        return (0, 0)

    def successors(self, w):
        out = []
        if w[0] < self.k:
            out.append((Step("a", (Event("toy", "a"),)), (w[0] + 1, w[1])))
        if w[1] < self.k:
            out.append((Step("b", (Event("toy", "b"),)), (w[0], w[1] + 1)))
        return out

    def bounded_out(self, w):
        return False


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_two_independent_fibers_counts(k):
    walk = naive_dfs(TwoFibers(k))
    assert walk.schedules == comb(2 * k, k)
    res = bfs(TwoFibers(k), ())
    assert res.stats.states == (k + 1) ** 2
    assert res.stats.transitions == 2 * k * (k + 1)
    assert res.stats.max_depth == 2 * k
    assert res.stats.quiescent == 1


def test_bfs_trace_is_a_shortest_path_to_the_violation():
    # "b has moved twice while a has not moved" is first reachable by the schedule b,b
    prop = Property("toy", "always", "", lambda w: Violation("b ran ahead", ()) if w == (0, 2) else None)
    res = bfs(TwoFibers(3), (prop,))
    assert res.findings["toy"].trace.schedule == "b*2"


BUILTIN = pairs(builtin("design"), builtin("scenario"))  # idle-window ones marked slow
# Naive search walks every schedule separately: affordable at await granularity only.
SMALL = [(d, s) for d in builtin("design") for s in builtin("scenario") if load_scenario(s).granularity == "await"]
# (the two largest await spaces take the naive walk seconds: the full suite's)
LARGE = ("async-overlap", "two-instances")
AWAIT = [s for s in builtin("scenario") if load_scenario(s).granularity == "await"]
NAIVE = pairs(builtin("design"), AWAIT, slow=frozenset(LARGE))  # the fast tier: representatives only


def test_the_naive_comparison_covers_most_builtin_pairs():
    assert len(SMALL) >= len(BUILTIN) * 3 // 4


@pytest.mark.parametrize("design,scenario", NAIVE)
def test_bfs_reaches_every_end_the_naive_search_reaches(design, scenario):
    sys_ = system(design, scenario)
    walk = naive_dfs(sys_)
    res = checked(design, scenario)
    assert res.stats.quiescent == len(walk.ends)
    assert walk.schedules >= res.stats.quiescent
    # every at-rest verdict agrees with the one computed over the naive search's end states
    for p in PROPERTIES:
        if p.when == "at_rest":
            naive_holds = all(p.check(w) is None for w in walk.ends)
            assert naive_holds == (p.name not in res.findings), p.name


@pytest.mark.parametrize("design,scenario", BUILTIN)
def test_every_counterexample_replays_to_the_same_violation(design, scenario):
    sys_ = system(design, scenario)
    res = checked(design, scenario)
    for name, f in res.findings.items():
        again = replay(sys_, f.trace.schedule)
        assert again.final == f.trace.final
        if f.trace.lasso:  # the cycle comes back to where it started, up to what only grows
            start = again.steps[f.trace.cycle_from - 1][1] if f.trace.cycle_from else again.initial
            assert abstract(start, sys_) == abstract(again.final, sys_), name
            continue
        assert f.prop.check(again.final) == f.violation, name
        # shortest: no proper prefix of the trace violates an always-property already
        if f.prop.when == "always":
            assert all(f.prop.check(w) is None for _, w in f.trace.steps[:-1])


def test_same_inputs_same_output():
    a = result_json(bfs(system("v1.15.4", "async-overlap"), PROPERTIES))
    b = result_json(bfs(system("v1.15.4", "async-overlap"), PROPERTIES))
    a["stats"].pop("seconds"), b["stats"].pop("seconds")
    assert a == b


def test_schedule_strings_round_trip():
    names = ["U1", "r1", "r1", "U2", "r1", "r1", "r1", "U1"]
    assert encode(names) == "U1,r1*2,U2,r1*3,U1"
    assert decode(encode(names)) == names
    with pytest.raises(ValueError):
        decode("U1,r1*x")


def test_replay_says_where_a_schedule_stops_applying():
    with pytest.raises(ValueError, match="step 3: fiber U2 cannot move"):
        replay(system("v1.15.4", "tool-race"), "U1,U2,U2")


def test_progress_reports_growing_counts_while_exploring():
    seen = []
    res = bfs(system("v1.15.4", "async-overlap"), PROPERTIES, progress=lambda st, d: seen.append((st.states, d)))
    assert len(seen) >= 2
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)
    assert all(0 < s <= res.stats.states and 0 <= d <= res.stats.max_depth for s, d in seen)


@pytest.mark.slow
def test_json_mode_is_quiet_on_stderr(tmp_path):
    import json

    from click.testing import CliRunner
    from turnproof.cli.main import main

    r = CliRunner().invoke(
        main, ["check", "--design", "v1.15.4", "--scenario", "idle-window", "--json", "--out", str(tmp_path)]
    )
    assert r.stderr == ""
    assert json.loads(r.stdout)["stats"]["states"] > 1000


def test_the_shared_result_is_what_a_fresh_search_returns():
    """`checked` hands one result to every worker through a pickle: it is the search's own, and a
    world pickled by another process (another string-hash salt) hashes as this process's does."""
    import os
    import pickle
    import subprocess
    import sys

    from conftest import counts

    fresh = bfs(system("v1.15.4", "two-instances"), PROPERTIES)
    script = (
        "import pickle, sys; sys.path.insert(0, 'tests'); from conftest import system\n"
        "from turnproof.explore.search.bfs import bfs; from turnproof.specs.properties import PROPERTIES\n"
        "sys.stdout.buffer.write(pickle.dumps(bfs(system('v1.15.4', 'two-instances'), PROPERTIES)))"
    )
    root = Path(__file__).resolve().parents[1]
    env = os.environ | {"PYTHONHASHSEED": "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"}
    other = pickle.loads(subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True).stdout)
    for res in (checked("v1.15.4", "two-instances"), other):
        assert counts(res) == counts(fresh) and res.findings.keys() == fresh.findings.keys()
        for name, f in res.findings.items():
            assert f.trace == fresh.findings[name].trace and f.violation == fresh.findings[name].violation
            assert hash(f.trace.final) == hash(fresh.findings[name].trace.final)
